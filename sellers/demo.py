"""The demo's seller (`make run`): one who is always on duty for the demo form's sites, so that a call
on a site in offer mode ends with a conversation the simulator plays out (demo/fakes/voximplant.py)."""

from __future__ import annotations

from leads.models import Site
from sellers.models import Seller

DEMO_SELLER_PHONE = "+79990000001"


def demo_seller_ensure(sites: list[Site]) -> Seller:
    seller, _created = Seller.objects.get_or_create(
        phone=DEMO_SELLER_PHONE,
        defaults={"name": "Demo seller", "time_zone": "UTC", "working_hours": "mon-sun 00:00-24:00"})
    seller.sites.add(*sites)
    return seller
