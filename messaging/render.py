"""The follow-up message's text: the site's template with {shop}, {seller_phone} and {link}."""

from __future__ import annotations

import string

from django.utils.translation import gettext as _

from messaging.models import MAX_TEXT, PLACEHOLDERS, SiteMessaging


class TemplateError(ValueError):
    """The template names an unknown placeholder or is malformed; the message says which."""


def template_check(template: str) -> None:
    try:
        fields = [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise TemplateError(_("The message is not a valid template (%(error)s); write placeholders as {shop}.")
                            % {"error": exc}) from None
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        raise TemplateError(_("Unknown placeholders: %(names)s. Use {shop}, {seller_phone} and {link}.")
                            % {"names": ", ".join("{%s}" % name for name in unknown)})


def message_text(config: SiteMessaging) -> str:
    site = config.site
    values = {"shop": config.shop_name or site.name or site.domain, "seller_phone": config.seller_phone,
              "link": config.link}
    return " ".join(config.template.format(**values).split())[:MAX_TEXT]
