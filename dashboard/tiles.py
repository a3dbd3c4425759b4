"""The dashboard's tiles: one figure each, grouped, every group in the order a manager reads it.

Speed to lead comes first (it is the product); then volume; then two groups that each add up to the
leads: where the leads are now (their status), and what their latest call gave (or not called yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard import rollups
from dashboard.links import LeadLinks
from dashboard.numbers import count_text, grouped, money_text, percent_text
from leads.models import IntakeCounter, Lead
from telephony.models import CallAttempt


@dataclass(frozen=True)
class Tile:
    key: str  # data-total="..." on the page, for tests and scripts
    value: str  # as shown: short enough for the tile
    label: str
    title: str = ""  # the full figure, when `value` is shortened
    url: str | None = None  # the matching leads, for people who may open them


def speed_tiles(speed: dict[str, str], *, approximate: bool) -> list[Tile]:
    mark = "≈ " if approximate else ""
    return [Tile("speed-median", mark + speed["median"], _("to first dial, median")),
            Tile("speed-p90", mark + speed["p90"], _("to first dial, 90th percentile"))]


def volume_tiles(totals: dict, links: LeadLinks) -> list[Tile]:
    tiles = [Tile("leads", count_text(totals["leads"]), _("leads"), grouped(totals["leads"]), links.url()),
             Tile("reach-rate", percent_text(totals["reach_rate"]), _("reach rate: reached by phone, of all leads"),
                  _("%(reached)s of %(leads)s") % {"reached": grouped(totals["reached"]),
                                                   "leads": grouped(totals["leads"])},
                  links.url(status=Lead.Status.REACHED)),
             Tile("duplicates", count_text(totals["duplicates"]), _("duplicates refused"),
                  grouped(totals["duplicates"]))]
    for currency, cell in totals["order_sums"].items():
        tiles.append(Tile(f"sum-{currency}", f"{money_text(cell['sum'])} {currency}",
                          ngettext("%(n)s order", "%(n)s orders", cell["orders"]) % {"n": grouped(cell["orders"])},
                          f"{grouped(cell['sum'], 2)} {currency}", links.url(currency=currency)))
    return tiles


def status_tiles(totals: dict, links: LeadLinks) -> list[Tile]:
    """Every lead has one status: these add up to the leads."""
    return [Tile(f"status-{status}", count_text(totals[figure]), Lead.Status(status).label, grouped(totals[figure]),
                 links.url(status=status)) for status, figure in rollups.STATUS_FIGURES.items()]


def call_tiles(totals: dict, links: LeadLinks) -> list[Tile]:
    """The latest call's outcome of every lead, and the leads not called yet: these add up to the leads."""
    tiles = [Tile(f"call-{outcome}", count_text(totals[outcome]), CallAttempt.Outcome(outcome).label,
                  grouped(totals[outcome]), links.url(outcome=outcome)) for outcome in rollups.OUTCOMES]
    return tiles + [Tile("call-none", count_text(totals["not_called"]), _("not called yet"),
                         grouped(totals["not_called"]), links.url(outcome=""))]


def refused_figures(refused: dict[str, int]) -> list[dict]:
    """Posts refused per reason, for the page (duplicates have their own figure among the totals)."""
    return [{"kind": kind, "label": IntakeCounter.Kind(kind).label, "count": count}
            for kind, count in refused.items() if kind != IntakeCounter.Kind.DUPLICATE]
