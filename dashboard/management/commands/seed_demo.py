"""Fill the dashboard with a plausible history (dashboard/history.py, shared with bench/dashboard.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard.history import HistoryPlan, history_generate
from dashboard.rollups import rollups_refresh


class Command(BaseCommand):
    help = "Adds made-up sites, partners, leads and calls for the demo dashboard (run it on a demo database only)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=20_000, help="leads to add (default 20,000)")
        parser.add_argument("--days", type=int, default=90, help="days of history, ending now (default 90)")
        parser.add_argument("--partners", type=int, default=12)
        parser.add_argument("--sites", type=int, default=5)
        parser.add_argument("--seed", type=int, default=8, help="random seed: the same seed gives the same history")

    def handle(self, *args, leads: int, days: int, partners: int, sites: int, seed: int, **options):
        if min(leads, days, partners, sites) < 1:
            self.stderr.write("--leads, --days, --partners and --sites must be at least 1.")
            raise SystemExit(2)
        plan = HistoryPlan(leads=leads, days=days, partners=partners, sites=sites, seed=seed)
        written = history_generate(plan, progress=lambda n: self.stdout.write(f"  {n:,} leads written"))
        rollups_refresh(full=True)  # the history is in the past: every day of it changed
        self.stdout.write(self.style.SUCCESS(
            f"Added {written['leads']:,} leads, {written['attempts']:,} call attempts and "
            f"{written['duplicates']:,} refused duplicates over {days} days ({sites} sites, {partners} partners)."))
