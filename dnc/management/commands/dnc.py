"""`manage.py dnc add|remove|check NUMBER [--site DOMAIN | --partner CODE] [--reason TEXT]`."""

from __future__ import annotations

import getpass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dnc.models import Entry
from dnc.services import dnc_add, dnc_entries, dnc_remove
from leads.models import Partner, Site
from leads.phones import PhoneError, phone_normalize
from leads.selectors import host_normalize


class Command(BaseCommand):
    help = ("Put a number on the do-not-call list, take it off, or check it: for every site, or with --site or "
            "--partner for one site's or one partner's leads.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["add", "remove", "check"])
        parser.add_argument("number", help="a phone number; without a country code it is read as PHONE_REGION's")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--site", help="a site's domain: only that site's leads")
        scope.add_argument("--partner", help="a partner's code: only that partner's leads")
        parser.add_argument("--reason", default="", help="why (kept with the entry; at most 300 characters)")

    def handle(self, *args, action: str, number: str, site: str | None, partner: str | None, reason: str,
               **options) -> None:
        try:
            phone = phone_normalize(number, region=settings.PHONE_REGION)
        except PhoneError as exc:
            raise CommandError(f"{number!r}: {exc}") from None
        if len(reason) > 300:
            raise CommandError("--reason is longer than 300 characters.")
        target = {"site": _site(site), "partner": _partner(partner)}
        who = f"manage.py dnc ({getpass.getuser()})"
        if action == "add":
            entry, created = dnc_add(phone=phone, source=Entry.Source.COMMAND, reason=reason, actor_name=who,
                                     **target)
            self.stdout.write(f"{'listed' if created else 'already listed'}: {phone}, {entry.target_label}")
        elif action == "remove":
            removed = dnc_remove(phone=phone, reason=reason, actor_name=who, **target)
            self.stdout.write(f"removed: {phone}, {removed} entry" if removed
                              else f"not listed for this scope: {phone}")
        else:
            entries = list(dnc_entries(phone=phone, **target))
            self.stdout.write(f"{'listed' if entries else 'not listed'}: {phone}")
            for entry in entries:
                self.stdout.write(f"  {entry.target_label}; {entry.get_source_display()}; since "
                                  f"{entry.added_at:%Y-%m-%d %H:%M %Z}" + (f"; {entry.reason}" if entry.reason else ""))


def _site(domain: str | None) -> Site | None:
    if domain is None:
        return None
    site = Site.objects.filter(domain=host_normalize(domain)).first()
    if site is None:
        raise CommandError(f"No site has the domain {domain!r}.")
    return site


def _partner(code: str | None) -> Partner | None:
    if code is None:
        return None
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise CommandError(f"No partner has the code {code!r}.")
    return partner
