"""Celery tasks of the dashboard: thin wrappers around dashboard/rollups.py."""

from __future__ import annotations

from celery import shared_task

from dashboard import rollups


@shared_task(name="dashboard.tasks.refresh_rollups")
def refresh_rollups(full: bool = False) -> dict[str, int]:
    return rollups.rollups_refresh(full=full)
