"""A number as the do-not-call list knows it: a keyed hash, and a lock that orders listing and dialling.

The hash (HMAC-SHA256 under DNC_HASH_SECRET) lets an entry outlive the erasure of its number: a new
lead's number is hashed the same way and still matches, while the list no longer says whose it was.

The lock closes the race between an opt-out and a dial of the same number: both take it inside their
transaction before anything else that a dial reads or writes, so a dial either sees the new entry or
wrote its call attempt before the entry existed. Every transaction takes it first, before any row
lock (a dial then locks its site's row, a result its attempt, lead and site rows), so two of them never
wait for each other the other way round. PostgreSQL: a transaction-level advisory lock in a
key space of its own (two 32-bit keys, distinct from the one-key locks used elsewhere). SQLite: every
transaction takes the write lock at BEGIN (leadcaller/config.py), so writers are serialised already.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import connection

_LOCK_CLASS = 0x646E_6300  # "dnc\0"


def number_hash(phone: str) -> str:
    """The keyed hash of an E.164 number."""
    return hmac.new(settings.DNC_HASH_SECRET.encode(), f"dnc:{phone}".encode(), hashlib.sha256).hexdigest()


def number_lock(phone: str) -> None:
    """Hold the number's lock until the current transaction ends. Call inside `transaction.atomic()`."""
    if not connection.in_atomic_block:
        raise RuntimeError("number_lock() outside a transaction would be released at once")
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(phone.encode()).digest()[:4], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, key])
