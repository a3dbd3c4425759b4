"""The dashboard's per-partner and per-site tables, for the page and for its CSV files."""

from __future__ import annotations

from dashboard.links import NO_PARTNER, LeadLinks


def table(rows: list[dict], group: str, blank: str, links: LeadLinks | None) -> dict:
    """Rows for a template or a CSV: a cell per currency present, so sums are never mixed; each row with
    the link to its leads (None without `links` or for a viewer who cannot open the lead list)."""
    currencies = sorted({currency for row in rows for currency in row["order_sums"]})
    key = f"{group}_id"
    return {"currencies": currencies, "rows": [
        {"name": row[f"{group}__name"] or blank, "leads": row["leads"], "reached": row["reached"],
         "reach_rate": row["reach_rate"], "percent": round(row["reach_rate"] * 100, 1),
         "url": links.url(**{key: row[key] or NO_PARTNER}) if links else None,
         "sums": [row["order_sums"].get(c, {"orders": 0, "sum": 0}) for c in currencies]} for row in rows]}
