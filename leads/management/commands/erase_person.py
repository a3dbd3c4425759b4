"""`manage.py erase_person NUMBER [--note TEXT]`: erase one person's personal data on their request."""

from __future__ import annotations

import getpass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leads.erasure import person_erase
from leads.phones import PhoneError, phone_normalize


class Command(BaseCommand):
    help = ("Erase the personal data of every lead with this phone number (the figures stay), end its open "
            "leads, and keep the number on the do-not-call list as its hash only. Audited.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("number", help="a phone number; without a country code it is read as PHONE_REGION's")
        parser.add_argument("--note", default="", help="e.g. the request's reference (at most 300 characters)")

    def handle(self, *args, number: str, note: str, **options) -> None:
        try:
            phone = phone_normalize(number, region=settings.PHONE_REGION)
        except PhoneError as exc:
            raise CommandError(f"{number!r}: {exc}") from None
        if len(note) > 300:
            raise CommandError("--note is longer than 300 characters.")
        erasure = person_erase(phone=phone, actor_name=f"manage.py erase_person ({getpass.getuser()})", note=note)
        self.stdout.write(f"erased: {erasure.leads} leads; do-not-call entries kept as a hash: "
                          f"{erasure.dnc_entries} (audit entry {erasure.pk})")
