"""The MLLP listener: an asyncio server (python-hl7's MLLP streams) for many monitors at once.

Each connection reads framed messages in turn; each message goes to one writer thread that
stores what has arrived together in one transaction (group commit) and only then answers each
with its ACK: durable before acknowledged. A connection from an address not on the allow-list
is closed; a message over the size limit is refused (AR) and the connection closed; a slow or
half-open connection waits alone (asyncio) and is closed after the idle time; any malformed
input is answered or dropped and logged, and the listener goes on."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection

from kapclinic.accounts.models import Clinic
from kapclinic.audit import context
from kapclinic.treatment.monitors import intake, memory, pcd01

log = logging.getLogger("kapclinic.monitors")

START = "\x0b"                  # MLLP's start of a block
MAX_MESSAGE_BYTES = 64 * 1024   # a PCD-01 message is a few kB; more is refused
READ_ON_ARRIVAL_CHARS = 16_000  # read in the event loop as it arrives; a longer one in the writer
IDLE_SECONDS = 300.0            # a connection silent this long is closed
MAX_CONNECTIONS = 200
BATCH_MAX = 200                 # messages committed together at most
BATCH_WAIT_SECONDS = 0.008      # how long the writer waits for the other connections' messages
IDLE_CHECK_SECONDS = 60.0       # a connection unused this long is checked before a batch
SWITCH_SECONDS = 0.0005         # how often the writer thread lets the event loop in


@dataclass
class Listener:
    clinic: Clinic
    allowed: list = field(default_factory=list)  # ip networks; empty: loopback only
    # the assigning authorities (PID-3.4) of the clinic's MRNs, casefolded; empty: any issuer
    authorities: frozenset[str] = frozenset()
    connections: int = 0
    writing: contextlib.AbstractContextManager | None = None  # held while a batch is written

    def __post_init__(self) -> None:
        self._used_at = time.monotonic()
        self._configured: object = None  # the SQLite connection set up for the writer
        self.memory = memory.Memory()  # used by the writer thread only
        self._queue: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="monitor-writer", daemon=True)
        self._writer.start()

    # --- the writer thread: group commit -------------------------------------------------

    def _write_loop(self) -> None:
        context.set_system_actor("bedside monitor listener", self.clinic.pk)
        with contextlib.suppress(Exception):  # connected before the first message (retried then)
            self._connect()
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            # a connection has one message in flight at most (its monitor waits for the ACK):
            # once every connection's is here the batch is whole, else it waits a little for them
            closes = time.monotonic() + BATCH_WAIT_SECONDS
            while len(batch) < min(BATCH_MAX, self.connections):
                try:
                    item = self._queue.get(timeout=max(0.0, closes - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                self._connect()
                answers = intake.receive_batch([(raw, peer) for raw, peer, _, _, _ in batch],
                                               writing=self.writing, clinic=self.clinic, memory=self.memory,
                                               read_already=[message for _, _, message, _, _ in batch],
                                               authorities=self.authorities)
            except Exception as exc:  # never let the writer die: answer AE, the monitors resend
                log.error("monitor batch of %d not stored: %s", len(batch), type(exc).__name__)
                answers = [intake.Answer("AE", pcd01.ack(None, "AE", error="not stored", raw=raw), 0)
                           for raw, _, _, _, _ in batch]
            for (_, _, _, loop, future), answer in zip(batch, answers, strict=True):
                with contextlib.suppress(RuntimeError):  # that connection's loop has closed
                    loop.call_soon_threadsafe(_resolve, future, answer)
        connection.close()

    def _connect(self) -> None:
        """The writer keeps its database connection from batch to batch (closing it each time,
        as Django does after a request on SQLite, reopened it and made SQLite checkpoint the
        whole WAL outside any writer's turn: seconds-long stalls with two workers). One that
        failed, or sat idle long enough for a server or firewall to drop it, is checked and
        replaced. Each commit is synced to disk before its ACK."""
        idle = time.monotonic() - self._used_at > IDLE_CHECK_SECONDS
        if connection.connection is not None and (connection.errors_occurred or idle) \
                and not connection.is_usable():
            connection.close()
        connection.errors_occurred = False
        connection.ensure_connection()
        if connection.vendor == "sqlite" and self._configured is not connection.connection:
            with connection.cursor() as cursor:  # durable before acknowledged, whoever opened it
                cursor.execute("PRAGMA synchronous=FULL")
            self._configured = connection.connection
        self._used_at = time.monotonic()

    def stop(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=10)

    async def store(self, raw: str, peer: str) -> intake.Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        # read as it arrives, while the writer waits for its turn or the database; one far longer
        # than a monitor sends (up to the size limit, all separators) would hold every other
        # connection meanwhile, and is read by the writer instead
        message = (intake.parsed(raw, self.clinic, self.authorities) if len(raw) <= READ_ON_ARRIVAL_CHARS
                   else None)
        self._queue.put((raw, peer, message, loop, future))
        return await future

    # --- connections ---------------------------------------------------------------------

    def permitted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if not self.allowed:
            return address.is_loopback
        return any(address in network for network in self.allowed)

    async def serve_connection(self, reader, writer) -> None:
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        if not self.permitted(peer) or self.connections >= MAX_CONNECTIONS:
            log.warning("monitor connection from %s refused (%s)", peer,
                        "not on the allow-list" if not self.permitted(peer) else "too many")
            writer.close()
            return
        self.connections += 1
        try:
            while True:
                try:
                    block = await asyncio.wait_for(reader.readblock(), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the monitor hung up, perhaps mid-message: nothing was acknowledged
                except TimeoutError:
                    log.info("monitor connection from %s idle: closed", peer)
                    return
                except (ValueError, asyncio.LimitOverrunError):  # over the size limit
                    log.warning("monitor message from %s over %d bytes: refused", peer,
                                MAX_MESSAGE_BYTES)
                    await _send(writer, pcd01.ack(None, "AR", error="message too large"))
                    return
                except Exception as exc:  # an invalid block (no start byte) and the like
                    log.warning("monitor input from %s not framed: %s", peer, type(exc).__name__)
                    await _send(writer, pcd01.ack(None, "AR", error="not an MLLP block"))
                    continue
                raw = pcd01.decode(block) if isinstance(block, bytes) else block
                if START in raw:  # a message cut off, then a whole one: only the whole one counts
                    log.warning("monitor message from %s cut off before the next began: dropped "
                                "(the monitor resends it)", peer)
                    raw = raw.rsplit(START, 1)[1]
                answer = await self.store(raw, peer)
                await _send(writer, answer.ack)
        finally:
            self.connections -= 1
            writer.close()


def warm_up() -> None:
    """Load before listening what the first message would otherwise wait for: the plausibility
    limits and the monitoring rules. Called before the workers fork, so they share it."""
    from kapclinic.clinical.monitoring import load_rules
    from kapclinic.clinical.monitoring.plausibility import limits

    limits()
    load_rules()


def _resolve(future: asyncio.Future, answer: intake.Answer) -> None:
    if not future.done():
        future.set_result(answer)


async def _send(writer, ack: str | None) -> None:
    """The ACK in an MLLP block; None (the message asked for no acknowledgement): nothing."""
    if ack is None:
        return
    try:
        writer.writeblock(ack.encode("utf-8"))
        await writer.drain()
    except ConnectionError:
        pass


def networks(addresses: Iterable[str]) -> list:
    """``--allow`` values as networks (an address or a CIDR block); raises ValueError naming a
    wrong one."""
    found = []
    for text in addresses:
        try:
            found.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"--allow {text!r} is not an address or a network such as "
                             "10.0.0.0/24") from exc
    return found


async def serve(listener: Listener, host: str | None, port: int | None, *, ready=None,
                sock=None) -> None:
    """Serve until cancelled; ``ready(port)`` is called once listening (the port a 0 chose).
    ``sock``: a socket already listening (workers.run's, shared by its processes)."""
    from hl7.mllp import start_hl7_server

    server = await start_hl7_server(listener.serve_connection, host, port, limit=MAX_MESSAGE_BYTES,
                                    **({"sock": sock} if sock is not None else {}))
    bound = server.sockets[0].getsockname()[1]
    log.info("listening for monitors on %s:%s", host, bound)
    # what start-up loaded (Django, the definitions) lives as long as the process: the collector
    # no longer walks it at each collection, which parsing thousands of messages triggers
    gc.freeze()
    # the writer thread holds the interpreter for a batch's CPU; the event loop must get in
    # between to read the next messages and send ACKs (Python's default lets it in every 5 ms)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_SECONDS)
    if ready is not None:
        ready(bound)
    async with server:
        try:
            await server.serve_forever()
        finally:
            listener.stop()
            sys.setswitchinterval(switching)  # a listener run inside another program leaves it as it was
