"""The step engine is the bottom layer of the leads (issue 15): it imports nothing above it."""

from __future__ import annotations

import ast
import pytest

from tests.conftest import ROOT

# Modules the step engine (and the hooks beside it) may never import, at module level or in a function.
ABOVE_THE_ENGINE = ("leads.services", "leads.crm", "leads.crm_leads", "leads.handling", "leads.api",
                    "telephony", "notifications", "consent", "dnc", "dashboard", "demo", "messaging")


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def forbidden(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


@pytest.mark.parametrize("path", ["leads/pipeline.py", "leads/hooks.py"])
def test_the_step_engine_imports_nothing_above_it(path):
    assert forbidden(imported_modules((ROOT / path).read_text()), ABOVE_THE_ENGINE) == []


@pytest.mark.parametrize("path, banned", [
    ("leads/services.py", ("notifications",)),
    ("leads/handling.py", ("notifications",)),
    ("leads/erasure.py", ("notifications.services",)),  # it scrubs the stored texts of the messages (their model)
])
def test_lead_services_reach_telegram_only_through_the_hooks(path, banned):
    """leads/services.py and notifications/services.py imported each other: the hooks break the circle."""
    assert forbidden(imported_modules((ROOT / path).read_text()), banned) == []


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "telephony").rglob("*.py")))
def test_telephony_reaches_telegram_only_through_the_hooks(path):
    """notifications/ shows the calls (telephony.models): the calls tell it things through leads/hooks.py."""
    assert forbidden(imported_modules((ROOT / path).read_text()), ("notifications",)) == []


@pytest.mark.parametrize("source, expected", [
    ("from leads import services", ["leads.services"]),
    ("def f():\n    from notifications.services import card_refresh\n",
     ["notifications.services", "notifications.services.card_refresh"]),
    ("import telephony.services as t", ["telephony.services"]),
    ("from leads.models import Lead\nimport logging", []),
])
def test_the_check_catches_a_forbidden_import_wherever_it_stands(source, expected):
    assert forbidden(imported_modules(source), ABOVE_THE_ENGINE) == expected


def test_the_listeners_are_registered_once_when_django_starts():
    from leads import hooks, pipeline
    from leads.services import step_result_handle
    from notifications import services

    assert pipeline._step_listeners.count(step_result_handle) == 1
    assert pipeline._step_listeners.count(services.step_result_handle) == 1
    assert hooks._changed == [services.lead_changed_handle] and hooks._manual == [services.lead_manual_handle]
    assert hooks._taken == [services.lead_taken_handle] and hooks._resend == [services.resend_asked_handle]
    assert hooks._service_alert == [services.service_alert_handle]
