"""The listener on every core: the parent binds the port once, then forks worker processes
that each listen on it (their own socket on the port: the kernel spreads the connections) and
serve them (listener.serve: their own
event loop, writer thread and database connection). Parsing python-hl7 and weighing readings
take a core's worth of CPU at a few hundred messages a second; with one process per core the
kernel spreads the monitors over them. Each worker stores before it acknowledges, as one
listener does; the database's constraints keep a message resent to another worker stored once.

The parent only supervises: a worker that dies is started again; SIGTERM or Ctrl-C stops them
all; and a parent that is killed takes its workers with it (Linux: the kernel signals them;
elsewhere each worker notices its parent is gone within a second)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections

log = logging.getLogger("kapclinic.monitors")
PR_SET_PDEATHSIG = 1     # prctl(2): the signal a process gets when its parent dies
RESTART_PAUSE = 1.0      # seconds before a worker that died is started again
QUICK_DEATH = 10.0       # a worker ending this soon after its start failed to start
QUICK_DEATHS = 5         # so many in a row: the listener stops, saying so, rather than loop


class WorkersFailed(RuntimeError):
    """The workers keep dying as they start (the database or its lock file unreachable)."""


class Turns:
    """SQLite lets one writer in at a time and makes the others sleep and retry (its busy
    handler backs off up to 100 ms at a time): a listener's workers take turns at writing
    through a lock file instead, which wakes the next one the moment the last commits."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # each worker its own

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def turns() -> Turns | None:
    """A worker's turns at writing, on SQLite (PostgreSQL takes many writers at once)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    return Turns(f"{database['NAME']}.monitor-writer.lock")


# Each worker listens on a socket of its own bound to the one port (SO_REUSEPORT), and Linux
# spreads the connections over them. One socket shared by all is the fallback elsewhere (other
# systems' SO_REUSEPORT does not spread): whichever worker wakes first then accepts every monitor
# that connects at once (measured: 20 to one worker, none to the other).
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int, *, listen: bool, shared: bool = False,
         wait: float = 5.0) -> socket.socket:
    """A socket bound to the port (port 0: the system picks one), listening if asked, in the
    workers' SO_REUSEPORT group if ``shared``. A listener restarted at once may find its port
    held a moment by its killed workers: it waits."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # IPv4 monitors are not let in as ::ffff: addresses
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if shared and BALANCED:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            if listen:
                sock.listen(512)
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def claim(host: str, port: int) -> socket.socket:
    """The port for this listener's workers, refused when anything holds it, another listener
    included (a plain bind fails where an SO_REUSEPORT group listens; joining the group would
    hand this clinic's listener part of another's monitors). The parent keeps the socket."""
    probe = bind(host, port, listen=not BALANCED)
    if not BALANCED:
        return probe  # the workers share it
    bound = probe.getsockname()[1]
    probe.close()
    return bind(host, bound, listen=False, shared=True)


def run(make_listener: Callable, host: str, port: int, *, workers: int,
        ready: Callable[[int], None] | None = None) -> None:
    """Serve with ``workers`` processes until SIGTERM or Ctrl-C; ``make_listener()`` makes a
    worker's listener.Listener (in the worker: it starts a thread, which must not be forked)."""
    from kapclinic.treatment.monitors import listener

    if workers <= 1:
        asyncio.run(listener.serve(make_listener(), host, port, ready=ready))
        return
    sock = claim(host, port)
    bound = sock.getsockname()[1]

    def listening() -> socket.socket:  # called in each worker
        return bind(host, bound, listen=True, shared=True) if BALANCED else sock

    connections.close_all()  # no database connection crosses a fork
    parent = os.getpid()
    # each worker writes its pid here once it accepts on the port: the listener says it is
    # listening only when every worker running does (a monitor connecting before is refused)
    ready_in, ready_out = os.pipe()
    os.set_blocking(ready_in, False)
    children = {_fork(make_listener, listening, parent, n, (ready_in, ready_out)): n
                for n in range(workers)}
    started = {pid: time.monotonic() for pid in children}
    quick_deaths = 0
    ready_pids: set[int] = set()
    announced = False
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if stopping:
                    _signal_all(children, signal.SIGTERM)
                    _reap(children)
                    break
                ready_pids |= _ready_pids(ready_in, 0.2)
                if not announced and set(children) <= ready_pids:
                    announced = True
                    log.info("listening for monitors on %s:%s with %d workers", host, bound, workers)
                    if ready is not None:
                        ready(bound)
                continue
            number = children.pop(pid)
            if stopping:
                continue
            quick_deaths = quick_deaths + 1 if time.monotonic() - started.pop(pid) < QUICK_DEATH else 0
            if quick_deaths >= QUICK_DEATHS:
                _signal_all(children, signal.SIGTERM)
                _reap(children)
                raise WorkersFailed(f"the monitor workers ended {quick_deaths} times in a row as they "
                                    f"started ({_how(status)}): see the log above")
            log.error("monitor worker %d (pid %d) ended (%s): started again", number, pid,
                      _how(status))
            time.sleep(RESTART_PAUSE)
            pid = _fork(make_listener, listening, parent, number, (ready_in, ready_out))
            children[pid], started[pid] = number, time.monotonic()
    except KeyboardInterrupt:
        _signal_all(children, signal.SIGTERM)
        _reap(children)
    finally:
        sock.close()
        os.close(ready_in)
        os.close(ready_out)


def _ready_pids(fd: int, wait: float) -> set[int]:
    """The workers that wrote to say they accept, waiting up to ``wait`` seconds."""
    readable, _, _ = select.select([fd], [], [], wait)
    said = b""
    while readable:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not chunk:
            break
        said += chunk
    return {int(pid) for pid in said.split() if pid.isdigit()}


def _fork(make_listener: Callable, listening: Callable[[], socket.socket], parent: int,
          number: int, pipe: tuple[int, int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    ready_in, ready_out = pipe
    try:
        os.close(ready_in)
        os.set_blocking(ready_out, False)  # a parent not reading never stops a worker
        _die_with(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides, and says SIGTERM
        asyncio.run(_serve(make_listener, listening(), parent, ready_out))
    except BaseException as exc:  # noqa: BLE001 - a worker reports, then the parent restarts it
        if not isinstance(exc, SystemExit | KeyboardInterrupt):
            log.error("monitor worker %d failed: %s", number, type(exc).__name__)
            code = 1
    finally:
        logging.shutdown()
        os._exit(code)


async def _serve(make_listener: Callable, sock: socket.socket, parent: int, ready_out: int) -> None:
    from kapclinic.treatment.monitors import listener

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    watch = loop.create_task(_watch_parent(parent, task))
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await listener.serve(make_listener(), None, None, sock=sock,
                                 ready=lambda port: _say_ready(ready_out))
    finally:
        watch.cancel()


def _say_ready(ready_out: int) -> None:
    with contextlib.suppress(OSError):  # a full or closed pipe: the parent is gone or not listening
        os.write(ready_out, f"{os.getpid()}\n".encode())


async def _watch_parent(parent: int, task: asyncio.Task) -> None:
    """Where the kernel does not signal a worker whose parent died: stop within a second."""
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    log.error("monitor listener's parent process is gone: this worker stops")
    task.cancel()


def _die_with(parent: int) -> None:
    """Linux: the kernel kills this worker the moment its parent dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def _signal_all(children: dict[int, int], signum: int) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _reap(children: dict[int, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while children and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            children.pop(pid, None)
        else:
            time.sleep(0.05)
    _signal_all(children, signal.SIGKILL)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
