"""Consent at intake: the text a visitor agreed to, the site's rule, and the proof kept with the lead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from consent.models import ConsentProof, ConsentText
from consent.selectors import consent_required, consent_text_current
from leads.models import Lead, Site


@dataclass(frozen=True)
class ConsentClaim:
    """What a submission says about consent, its shape already validated."""

    given: bool
    version: int | None = None
    text: str = ""  # the text itself, from a form that keeps its own
    page: str = ""  # the page the form says it was on


@dataclass(frozen=True)
class ConsentGiven:
    """What a consenting visitor was shown and where: the proof to write with the lead."""

    text: str
    consent_text: ConsentText | None
    page_url: str = ""
    page_source: str = ""


class ConsentRefused(Exception):
    """The submission cannot be stored as it is; `field` is the intake field to blame."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def consent_check(*, site: Site, claim: ConsentClaim) -> ConsentGiven | None:
    """The text a consenting visitor was shown (None when consent was not given).

    A named version wins over a posted text; with neither, the site's current text is the one shown.
    Refused: a version the site does not have (given or not: the form is wrong either way), and no
    consent where the site requires it.
    """
    named = None
    if claim.version is not None:
        named = ConsentText.objects.filter(site=site, version=claim.version).first()
        if named is None:
            raise ConsentRefused("consent_version", _("This site has no consent text version %(version)d.")
                                 % {"version": claim.version})
    if not claim.given:
        if consent_required(site):
            raise ConsentRefused("consent", _("This site calls only visitors who agree to it: send consent=true "
                                              "once the visitor has ticked the consent box."))
        return None
    if named is None and not claim.text:
        named = consent_text_current(site)
    return ConsentGiven(text=named.text if named else claim.text, consent_text=named)


def consent_proof_record(*, lead: Lead, consent: ConsentGiven, ip: str | None, user_agent: str,
                         at: dt.datetime) -> ConsentProof:
    """Write the proof beside a lead being stored (in its transaction)."""
    return ConsentProof.objects.create(
        lead=lead, site=lead.site, given_at=at, ip=ip, user_agent=user_agent[:400],
        page_url=consent.page_url[:2000], page_source=consent.page_source if consent.page_url else "",
        text=consent.text, consent_text=consent.consent_text,
    )


def consent_proof_erase_personal(*, lead: Lead) -> bool:
    """Erasure (leads/erasure.py): the proof loses where it came from (address, browser, page) and keeps
    what was agreed to and when. A proof is never edited, so it is replaced by one without those parts.
    Returns False when the lead has no proof or none of those parts."""
    proof = ConsentProof.objects.filter(lead=lead).first()
    if proof is None or not (proof.ip or proof.user_agent or proof.page_url):
        return False
    with transaction.atomic():
        proof.delete()
        ConsentProof.objects.create(lead=lead, site_id=proof.site_id, given_at=proof.given_at, text=proof.text,
                                    consent_text_id=proof.consent_text_id)
    return True


def consent_text_add(*, site: Site, text: str, author: str = "") -> ConsentText:
    """A new version of the site's text, numbered after the newest (two admins at once get two numbers)."""
    for _attempt in range(5):
        latest = ConsentText.objects.filter(site=site).aggregate(n=Max("version"))["n"] or 0
        try:
            with transaction.atomic():
                return ConsentText.objects.create(site=site, version=latest + 1, text=text.strip(),
                                                  created_by=author[:150])
        except IntegrityError:
            continue
    raise IntegrityError(f"no free consent text version for site {site.pk}")
