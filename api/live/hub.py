"""One listener per server process: a thread on its own connection LISTENs on the live channel
and hands each message to the event streams watching that sign.

Subscribers are asyncio queues (one per open event stream); the thread puts messages on them
through their loop. The listening connection is opened at the first subscription and reopened
(with a growing pause) when it drops; streams open meanwhile simply wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from .announce import CHANNEL

log = logging.getLogger(__name__)
QUEUE_MAX = 1000  # messages a slow stream may fall behind before it is told it missed some


@dataclass(eq=False)
class Subscription:
    sign_id: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    missed: int = 0

    def offer(self, message: dict) -> None:
        """Called on the loop: queue the message, or count it as missed when the queue is full."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.missed += message.get("n", 1)


class Hub:
    def __init__(self, connect: Callable[[], psycopg.Connection]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._subs: dict[int, set[Subscription]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.listening = threading.Event()
        self.delivered = 0

    def subscribe(self, sign_id: int) -> Subscription:
        sub = Subscription(sign_id, asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(sign_id, set()).add(sub)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-listener", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.sign_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.sign_id]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def dispatch(self, payload: str) -> None:
        """Hand one channel message to the streams watching its sign."""
        try:
            message = json.loads(payload)
            sign_id = int(message["sign"])
        except (ValueError, KeyError, TypeError):
            log.warning("live: ignored a message that is not ours: %.200s", payload)
            return
        with self._lock:
            subs = list(self._subs.get(sign_id, ()))
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, message)
            except RuntimeError:  # the stream's loop has closed
                self.unsubscribe(sub)
        self.delivered += 1

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.autocommit = True
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    pause = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.dispatch(note.payload)
            except psycopg.Error as e:
                self.listening.clear()
                log.warning("live: listening connection lost (%s); again in %.1f s", str(e).strip()[:200], pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
        self.listening.clear()
