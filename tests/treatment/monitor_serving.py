"""The bedside-monitor listener run in a thread for tests, shut down completely (its
connections cancelled, its event loop closed), so nothing leaks into the next test."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from kapclinic.treatment.monitors import listener


class Serving:
    """The listener on a free loopback port in a thread of its own; ``stop`` cancels what is
    left of its connections and closes its event loop (nothing leaks into the next example)."""

    def __init__(self, clinic, **options):
        self.loop = asyncio.new_event_loop()
        self.listener = listener.Listener(clinic, **options)
        self.port = 0
        ready = threading.Event()

        def on_ready(port: int) -> None:
            self.port = port
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.task = self.loop.create_task(listener.serve(self.listener, "127.0.0.1", 0,
                                                             ready=on_ready))
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(self.task)
            left = asyncio.all_tasks(self.loop)  # connections still open or awaiting a store
            for task in left:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            self.loop.run_until_complete(asyncio.sleep(0.05))  # the transports' close callbacks
            self.loop.close()

        self.thread = threading.Thread(target=run, name="monitor-listener", daemon=True)
        self.thread.start()
        assert ready.wait(20), "the listener did not start"

    def writer_alive(self) -> bool:
        writer = getattr(self.listener, "_writer", None)  # the group-commit thread, if it is there
        return writer is None or writer.is_alive()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(30)
