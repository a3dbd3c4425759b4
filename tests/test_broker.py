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
