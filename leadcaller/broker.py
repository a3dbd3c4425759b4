"""The embedded broker: kombu's filesystem transport, made safe for several processes.

kombu's own writer creates a message file and then writes into it, and its reader takes any file
with the queue's name; a worker that looks in between reads an empty file and dies of a
JSONDecodeError (issue 14: `make run` went dark under light load). Here a message is written under a
name no reader looks at and renamed into place when whole (a rename is atomic within a folder), and a
reader claims a file by renaming it into the processed folder, so two workers never take one message.
A file that still cannot be read (left by another writer) is set aside as `.bad`, never handed on.
Exchange tables (fanout) are created the same way.

Registered as the transport `leadcaller-fs`, and under kombu's name `filesystem` too, so that every
embedded-broker URL (also one given in CELERY_BROKER_URL, which Celery reads itself) gets it.

The Redis transport is kombu's own with one change (RedisTransport): a channel keeps one client per
connection pool instead of building a new one for every publish, acknowledgement and unacked-message
record.
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import suppress
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.transport import redis as redis_transport
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)
PARTIAL = ".part"  # a leading dot and this suffix: never a queue's `<...>.<queue>.msg`


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message whole under a hidden name, then rename it into the queue."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}{PARTIAL}")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        """The oldest whole message of `queue`, claimed by a rename so no other worker gets it."""
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, filename)
            try:
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except OSError:  # another worker took it first
                continue
            try:
                with open(claimed, "rb") as file:
                    message = loads(bytes_to_str(file.read()))
            except (OSError, ValueError) as exc:
                self._set_aside(claimed, exc)
                continue
            if not self.store_processed:
                os.remove(claimed)
            return message
        raise Empty()

    @staticmethod
    def _set_aside(path: str, exc: Exception) -> None:
        logger.error("broker message %s cannot be read (%s); kept as %s.bad", os.path.basename(path), exc,
                     os.path.basename(path))
        with suppress(OSError):
            os.replace(path, path + ".bad")

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """A new exchange table appears whole (a reader could otherwise open it empty)."""
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(exist_ok=True)
            partial = file.with_name(f".{file.name}.{uuid.uuid4().hex}{PARTIAL}")
            partial.write_bytes(str_to_bytes(dumps([filesystem.exchange_queue_t(routing_key or "", pattern or "",
                                                                                 queue or "")])))
            try:
                os.link(partial, file)  # fails if another process created the table meanwhile
                return
            except FileExistsError:
                pass
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)  # an existing table: updated under its lock


class Transport(filesystem.Transport):
    Channel = Channel


class RedisChannel(redis_transport.Channel):
    """kombu makes a redis-py client for each command it sends outside the consumer's loop. Building one
    (its table of reply callbacks) costs about twice the CPU of sending the command, and a task needs
    three: the publish, the unacked record and the ack. A client is safe to share between threads (each
    command takes a connection from the pool), so one per pool does; a pool replaced (after a fork, or a
    lost connection) gets a new one."""

    _kept: tuple[object, object] | None = None  # (the pool, its client)

    def _create_client(self, asynchronous=False):
        if asynchronous:  # the consumer's client, which kombu keeps itself
            return super()._create_client(asynchronous=True)
        pool, kept = self.pool, self._kept
        if kept is None or kept[0] is not pool:
            kept = self._kept = (pool, super()._create_client())
        return kept[1]


class RedisTransport(redis_transport.Transport):
    Channel = RedisChannel


TRANSPORT_ALIASES["leadcaller-fs"] = TRANSPORT_ALIASES["filesystem"] = "leadcaller.broker:Transport"
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = "leadcaller.broker:RedisTransport"
