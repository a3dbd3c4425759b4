"""What PostgreSQL plans for the statements a call of ours sends: the indexes each reads, and how many rows.

The test database is new and never analysed, as a deployment's is in its first burst: a plan that holds
here does not lean on statistics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Plan:
    sql: str
    indexes: frozenset[str]  # every index the plan reads
    rows_read: dict[str, int]  # per table: rows its scans returned (EXPLAIN ANALYZE's actual rows x loops)


def statements_sent(call: Callable[[], object]) -> list[tuple[str, tuple]]:
    """The (sql, params) of each statement `call` sends on the default connection."""
    sent: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        sent.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        call()
    return sent


def plan_of(sql: str, params: tuple) -> Plan:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        root = cursor.fetchone()[0]
    root = json.loads(root) if isinstance(root, str) else root
    indexes: set[str] = set()
    rows: dict[str, int] = {}

    def walk(node: dict) -> None:
        if "Index Name" in node:
            indexes.add(node["Index Name"])
        if "Relation Name" in node:
            table = node["Relation Name"]
            rows[table] = rows.get(table, 0) + node["Actual Rows"] * node["Actual Loops"]
        for child in node.get("Plans", ()):
            walk(child)

    walk(root[0]["Plan"])
    return Plan(sql, frozenset(indexes), rows)


def plans_on(table: str, call: Callable[[], object]) -> list[Plan]:
    """The plans of the statements `call` sends that read `table` (by name in the SQL)."""
    return [plan_of(sql, params) for sql, params in statements_sent(call)
            if f'"{table}"' in sql and sql.lstrip().upper().startswith("SELECT")]
