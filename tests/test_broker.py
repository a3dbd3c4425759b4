"""The embedded broker never hands a worker a half-written message (leadcaller/broker.py).

kombu's own filesystem transport makes the message file visible before it writes into it; a worker
polling at that moment read it empty and died of a JSONDecodeError (issue 14)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from queue import Empty

import pytest
import redis
from kombu import Connection

from leadcaller import broker

STOCK = "kombu.transport.filesystem:Transport"


def channel(folder: Path, transport: str = "leadcaller-fs"):
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(exist_ok=True)
    options = {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
               "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
               "store_processed": False}
    return Connection(transport=transport, transport_options=options).channel()


def a_file_being_written(folder: Path, queue: str = "call") -> Path:
    """What kombu's writer leaves visible between creating the message file and writing into it."""
    path = folder / "queue" / f"1000_00000000-0000-0000-0000-000000000000.{queue}.msg"
    path.touch()
    return path


def test_kombus_own_transport_hands_a_worker_the_empty_file_of_a_message_being_written(tmp_path):
    stock = channel(tmp_path, STOCK)
    a_file_being_written(tmp_path)

    with pytest.raises(json.JSONDecodeError):
        stock._get("call")


def test_ours_never_hands_on_an_unreadable_file_and_sets_it_aside(tmp_path):
    ours = channel(tmp_path)
    empty = a_file_being_written(tmp_path)
    ours._put("call", {"body": "whole"})

    assert ours._get("call") == {"body": "whole"}
    with pytest.raises(Empty):
        ours._get("call")
    assert (tmp_path / "processed" / (empty.name + ".bad")).exists()


def test_a_message_appears_in_its_queue_only_once_it_is_whole(tmp_path, monkeypatch):
    ours, reader = channel(tmp_path), channel(tmp_path)
    seen_while_writing = []
    real_replace = os.replace

    def replace(source, target):
        try:  # the moment before the rename: written in full, and invisible to a reader
            seen_while_writing.append(reader._get("call"))
        except Empty:
            seen_while_writing.append(json.loads(Path(source).read_text()))
        return real_replace(source, target)

    monkeypatch.setattr(broker.os, "replace", replace)
    ours._put("call", {"body": "x" * 100_000})
    monkeypatch.undo()

    assert seen_while_writing == [{"body": "x" * 100_000}]  # read from the hidden file, not from the queue
    assert reader._get("call") == {"body": "x" * 100_000}


def test_writers_and_readers_at_once_lose_nothing_and_share_nothing(tmp_path):
    per_writer, writers, received, errors = 300, 3, [], []

    def write(n: int) -> None:
        out = channel(tmp_path)
        for i in range(per_writer):
            out._put("call", {"id": f"{n}-{i}", "pad": "x" * 2000})

    def read() -> None:
        into = channel(tmp_path)
        while len(received) < per_writer * writers and not errors:
            try:
                received.append(into._get("call")["id"])
            except Empty:
                continue
            except Exception as exc:  # what killed the worker in the issue
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(received) == sorted(f"{n}-{i}" for n in range(writers) for i in range(per_writer))


def test_a_new_exchange_table_is_never_read_empty(tmp_path):
    ours, reader = channel(tmp_path), channel(tmp_path)
    ours._queue_bind("celery.pidbox", "", "", "worker-1")
    ours._queue_bind("celery.pidbox", "", "", "worker-2")

    assert {entry.queue for entry in reader.get_table("celery.pidbox")} == {"worker-1", "worker-2"}
    assert not [p for p in (tmp_path / "control").iterdir() if p.name.startswith(".")]


def test_kombus_filesystem_name_and_the_default_url_get_this_transport(settings):
    from kombu.transport import resolve_transport

    assert resolve_transport("filesystem") is broker.Transport
    assert resolve_transport("leadcaller-fs") is broker.Transport
    assert Connection("leadcaller-fs://localhost//").transport_cls == "leadcaller-fs"


# --- Redis: kombu's transport, with one client per connection pool ------------------------------
def redis_url() -> str:
    """CELERY_BROKER_URL when it is Redis, else the local one; the test is skipped when none answers."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    url = url if url.startswith(("redis://", "rediss://")) else "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    return url


def test_redis_urls_get_our_redis_transport():
    from kombu.transport import resolve_transport

    assert resolve_transport("redis") is broker.RedisTransport
    assert resolve_transport("rediss") is broker.RedisTransport


def test_a_redis_channel_keeps_one_client_per_pool_and_still_carries_messages(settings):
    prefix = f"{settings.REDIS_KEY_PREFIX}broker-{os.getpid()}:"
    with Connection(redis_url(), transport_options={"global_keyprefix": prefix}) as connection:
        channel = connection.channel()
        first = channel._create_client()
        assert channel._create_client() is first  # kombu's own makes a new one for every command

        queue = connection.SimpleQueue("call")
        try:
            queue.put({"lead": 1})
            message = queue.get(timeout=2)
            assert message.payload == {"lead": 1}
            message.ack()
            with pytest.raises(queue.Empty):
                queue.get(timeout=0.2)
        finally:
            queue.close()

        channel._disconnect_pools()  # as after a fork or a lost connection: a new pool
        renewed = channel._create_client()
        assert renewed is not first
        assert renewed.connection_pool is channel.pool
        assert renewed.ping()
    plain = redis.Redis.from_url(redis_url())
    for key in plain.scan_iter(match=f"{prefix}*"):  # this test's own keys
        plain.delete(key)
