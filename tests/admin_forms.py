"""What an admin change page posts back when nothing is changed, so a test changes only what it names."""

from __future__ import annotations


def admin_form_data(client, url: str, **changes) -> dict:
    """The page's form fields at their shown values (as the browser would post them), updated by `changes`."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            value = ""
        data[name] = value
    data.update(changes)
    return {name: value for name, value in data.items() if value is not False}  # an unticked box is not posted


def site_form_data(client, site, **changes) -> dict:
    return admin_form_data(client, f"/admin/leads/site/{site.pk}/change/", **changes)
