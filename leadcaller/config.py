"""Parsing and checking of environment values for settings.py.

Every helper raises ImproperlyConfigured naming the variable, so a bad deployment fails at start-up
with a message an operator can act on, not later inside a request.
"""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# The embedded broker's URL schemes (leadcaller/broker.py).
EMBEDDED_BROKERS = ("leadcaller-fs://", "filesystem://")
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def read(reader: Callable[..., Any], name: str, *, default: Any) -> Any:
    """Read `name` with an environ reader; a malformed value names the variable."""
    if reader.__name__ == "bool":
        return _bool(name, os.environ.get(name), default)
    try:
        return reader(name, default=default)
    except (ValueError, ImproperlyConfigured, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from exc


def _bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, not {value!r}.")
    return value.rstrip("/")


def optional_url(name: str, value: str) -> str:
    return url(name, value) + "/" if value else ""


def all_or_none(name: str, value: str, **others: str) -> None:
    """`name` turns a feature on; then every one of `others` must be set too."""
    if value:
        missing = [other for other, other_value in others.items() if not other_value]
        if missing:
            raise ImproperlyConfigured(f"{name} is set, so {', '.join(missing)} must be set too.")


def choice(name: str, value: str, allowed: list[str]) -> str:
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def bitrix_user_field(name: str, value: str) -> str:
    """Empty, or the name of a Bitrix24 user field (`UF_CRM_` and letters, digits, underscores)."""
    if value and not re.fullmatch(r"UF_CRM_[A-Z0-9_]+", value):
        raise ImproperlyConfigured(f"{name} must name a lead user field such as UF_CRM_PARTNER, not {value!r}.")
    return value


def region(name: str, value: str) -> str:
    import phonenumbers

    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(f"{name}: {value!r} is not a two-letter region code such as RU.")
    return code


def rate(name: str, value: str) -> str | None:
    """A DRF rate string such as `30/min`, or None for `off`."""
    value = value.strip().lower()
    if value == "off":
        return None
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 30/min (or be off), not {value!r}.")
    return value


def at_least(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more, not {value!r}.")
    return value


def number_types(name: str, values: list[str]) -> tuple[str, ...]:
    """Kinds of phone numbers such as `mobile,fixed_line` (leads/phones.py NUMBER_TYPES)."""
    from leads.phones import NUMBER_TYPES

    codes = tuple(value.strip().lower() for value in values if value.strip())
    unknown = [code for code in codes if code not in NUMBER_TYPES]
    if unknown or not codes:
        raise ImproperlyConfigured(f"{name}: give one or more of {', '.join(NUMBER_TYPES)}, not {values!r}.")
    return codes


def not_negative(name: str, value: float) -> float:
    if value < 0:
        raise ImproperlyConfigured(f"{name} must be 0 or more, not {value!r}.")
    return value


def networks(name: str, values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or networks such as `10.0.0.5` or `10.0.0.0/24`."""
    try:
        return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc} (give addresses or networks such as 10.0.0.0/24).") from exc


def time_zone(name: str, value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name}: {value!r} is not a time zone name such as Europe/Moscow.") from exc
    return value


def caller_id(name: str, value: str, *, region: str) -> str:
    """A number calls may come from, as VoxImplant writes it (digits with the country code)."""
    from telephony.caller_id import CallerIdError, caller_id_normalize

    try:
        return caller_id_normalize(value, region=region)
    except CallerIdError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


def calling_hours(name: str, value: str) -> str:
    return _hours(name, value, "parse_calling_hours")


def local_hours(name: str, value: str) -> str:
    """`LEAD_LOCAL_HOURS`: calling-hours syntax, or bare windows for every day."""
    return _hours(name, value, "parse_local_hours")


def hours_by_country(name: str, value: str) -> str:
    return _hours(name, value, "parse_hours_by_country")


def _hours(name: str, value: str, parser: str) -> str:
    from telephony import calling_hours

    try:
        getattr(calling_hours, parser)(value)
    except calling_hours.CallingHoursError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    return value


def database(name: str, db: dict[str, Any]) -> dict[str, Any]:
    engine = db.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(f"{name} must be a postgres:// or sqlite:/// URL (engine {engine!r} is not supported).")
    return db


def tune_database(db: dict[str, Any], *, test_dir: Path) -> None:
    """Make the embedded SQLite safe for web, worker and beat writing at once; keep PG connections healthy."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("OPTIONS", {}).update(
            {
                # Take the write lock at BEGIN, so concurrent writers queue on busy_timeout
                # instead of failing with "database is locked" when a read lock upgrades.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
        # A file, not :memory:, so a worker started by a test sees the test database.
        db["TEST"] = {"NAME": str(test_dir / "test-leadcaller.sqlite3")}
    else:
        db.setdefault("CONN_MAX_AGE", 60)
        # Re-check a kept connection before use: the web process survives a database restart. Our backend
        # is Django's, with a check that costs a round trip only when it may find something
        # (leadcaller/postgresql/base.py).
        db["ENGINE"] = "leadcaller.postgresql"
        db["CONN_HEALTH_CHECKS"] = True
        prepared_statements(db.setdefault("OPTIONS", {}))


def prepared_statements(options: dict[str, Any]) -> None:
    """Send the values apart from the SQL and let psycopg prepare a query once a connection has run it
    five times: PostgreSQL then neither parses nor plans it again, which is most of its CPU for the short
    statements a lead sends (a lead read with its site and partner: about 0.95 ms of the server's CPU
    unprepared, 0.2 ms prepared). `?server_side_binding=false` in DATABASE_URL turns both off, for a
    connection pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21,
    or without `max_prepared_statements`)."""
    given = options.get("server_side_binding", True)
    on = given if isinstance(given, bool) else _bool("DATABASE_URL's server_side_binding", str(given), True)
    options["server_side_binding"] = on
    if on:
        options.setdefault("prepare_threshold", 5)
    else:
        options.pop("prepare_threshold", None)


def private_dir(path: Path) -> None:
    """Create `path` as 0700; tighten it when it is ours and others could read it (an older var/)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o700)


def private_sqlite_file(db: dict[str, Any]) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, often 0644); its
    -wal and -shm files take the database file's mode."""
    name = str(db.get("NAME") or "")
    if db["ENGINE"] != "django.db.backends.sqlite3" or not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o600)


def default_cache_url(broker_url: str, var_dir: Path) -> str:
    """Redis when the broker is Redis; otherwise a file cache that every local process shares."""
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return f"filecache://{var_dir / 'cache'}"


def cache_settings(cache: dict[str, Any], *, key_prefix: str) -> dict[str, Any]:
    cache.setdefault("KEY_PREFIX", f"{key_prefix}leadcaller")
    if cache.get("BACKEND") == "django.core.cache.backends.redis.RedisCache":
        # A Redis outage degrades the cache (reads miss) instead of failing requests; short timeouts
        # so a Redis that hangs does not hold a request either.
        cache["BACKEND"] = "leadcaller.cache.DegradingRedisCache"
        cache.setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})
    return cache


def broker_transport_options(broker_url: str, folder: Path, *, key_prefix: str) -> dict[str, Any]:
    if broker_url.startswith(EMBEDDED_BROKERS):
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),
            "polling_interval": 0.1,
        }
    options: dict[str, Any] = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
    if key_prefix:
        options["global_keyprefix"] = key_prefix
    return options
