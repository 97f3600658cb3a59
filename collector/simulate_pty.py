"""A fake radar sign on a pseudo-terminal, to drive the real serial path end to end.

``open_simulated_sign`` creates a pty pair and writes timed byte chunks to the master side;
anything that opens the slave path (the collector, ``cat``, minicom) sees a serial device.
Chunks are ``(seconds_offset, bytes)`` pairs, e.g. from the protocol encoders in
``collector.encode``; ``rate`` speeds time up (2.0 plays twice as fast as recorded).

    python -m collector.simulate_pty --capture capture.txt --interval 0.1   # prints the path
    python -m collector.simulate_pty --protocol hlk-ld2415h --interval 5    # random traffic
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterable, Sequence

log = logging.getLogger(__name__)

Chunks = Iterable[tuple[float, bytes]]


class SimulatedSign(threading.Thread):
    """Writes chunks to a pty master at their offsets; ``path`` is the slave device path.

    Offsets count from the first chunk's offset (which may be negative, as in
    ``collector.encode.encode_traffic``): the first chunk goes out at once.

    By default it waits until someone opens the slave (plus ``settle`` seconds, because
    pyserial flushes its input right after opening) before the first chunk, and keeps the
    master open after the last one (``done`` is then set) until ``stop()``, so the reader sees
    a quiet device rather than a hang-up. ``unplug()`` closes the master: the device vanishes.
    Bytes the reader sends to the device are kept in ``received``.
    """

    def __init__(
        self,
        chunks: Chunks,
        rate: float = 1.0,
        *,
        wait_for_reader: bool = True,
        settle: float = 0.3,
        linger: bool = True,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate {rate!r} must be above 0 (1.0 = real time)")
        super().__init__(name="simulated-sign", daemon=True)
        self._master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)  # no echo, no CR/LF translation: bytes arrive as written
        os.close(slave)  # the reader opens the slave by path, like a real device
        # Never block on the master: select() reports it readable while nobody has the slave
        # open (a hang-up), and a reader may open it before the read that follows.
        os.set_blocking(self._master, False)
        self._chunks = chunks
        self._rate = rate
        self._wait_for_reader = wait_for_reader
        self._settle = settle
        self._linger = linger
        self._stopping = threading.Event()
        self._closed = threading.Lock()
        self._master_open = True
        self.done = threading.Event()
        self.written = 0  # chunks written
        self.received = bytearray()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop writing and close the device; what the reader sent until then is in ``received``."""
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def unplug(self) -> None:
        """Close the master now: readers of the slave get an I/O error, the path goes away.
        The writer stops first (within 0.1 s), so no select() of its own meets a closed fd."""
        self.stop()
        self._close_master()

    def run(self) -> None:
        try:
            if self._wait_for_reader and not self._wait_until_opened():
                return
            start = time.monotonic()
            origin: float | None = None
            for offset, data in self._chunks:
                if origin is None:
                    origin = offset
                if not self._sleep_until(start + (offset - origin) / self._rate):
                    return
                if not self._write(data):
                    return
                self.written += 1
            self.done.set()
            if self._linger:
                while self._sleep_until(time.monotonic() + 0.2):
                    pass
        finally:
            self._drain_input()
            self._close_master()

    def _drain_input(self) -> None:
        """Keep the bytes the reader sent that are still waiting (the commands it sent last)."""
        with self._closed:
            while self._master_open:
                ready, _, _ = select.select([self._master], [], [], 0)
                if not ready:
                    return
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    return
                if not data:
                    return
                self.received += data

    def _wait_until_opened(self) -> bool:
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        while not self._stopping.is_set():
            if not any(ev & select.POLLHUP for _, ev in poller.poll(0)):
                return not self._stopping.wait(self._settle)
            self._stopping.wait(0.02)  # POLLHUP returns at once while nobody has the slave open
        return False

    def _sleep_until(self, deadline: float) -> bool:
        """Wait, discarding what the reader sends; False once stopped."""
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            ready, _, _ = select.select([self._master], [], [], min(left, 0.1))
            if ready:
                try:
                    self.received += os.read(self._master, 4096)
                except BlockingIOError:  # the hang-up ended: a reader opened the slave
                    pass
                except OSError:  # nobody has the slave open right now (EIO)
                    self._stopping.wait(min(left, 0.05))
        return False

    def _write(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self._stopping.is_set():
                return False
            _, ready, _ = select.select([], [self._master], [], 0.1)
            if ready:
                try:
                    view = view[os.write(self._master, view):]
                except BlockingIOError:
                    pass
        return True

    def _close_master(self) -> None:
        with self._closed:
            if self._master_open:
                self._master_open = False
                os.close(self._master)


def open_simulated_sign(
    chunks: Chunks | Callable[[], Chunks],
    rate: float = 1.0,
    **options: object,
) -> tuple[str, SimulatedSign]:
    """Start a simulated sign; returns its slave path and the (started) writer thread.

    ``chunks`` is an iterable of ``(seconds_offset, bytes)`` or a function returning one.
    ``options`` go to ``SimulatedSign`` (``wait_for_reader``, ``settle``, ``linger``).
    """
    sign = SimulatedSign(chunks() if callable(chunks) else chunks, rate, **options)  # type: ignore[arg-type]
    sign.start()
    return sign.path, sign


def lines_at_interval(lines: Sequence[bytes], interval: float, loop: bool = False) -> Chunks:
    """Chunks that send each line ``interval`` seconds after the previous one."""
    t = 0.0
    while True:
        for line in lines:
            yield t, line
            t += interval
        if not loop:
            return


RUN_SPACING_S = 0.3
"""Least time between one vehicle's last reading and the next one's first: one vehicle in the
beam at a time, with room for a few idle frames between them."""


def random_traffic(
    protocol: str, unit: str | None, every_s: float, mean_kmh: float, seed: int
) -> Chunks:
    """Endless traffic for ``protocol`` as the device sends it (``collector.encode``): a vehicle
    about every ``every_s`` seconds (later when the one before is still in the beam), speeds
    around ``mean_kmh``, random directions.

    A streaming device with an idle line sends it one output frame after a run's last reading
    and then every ``idle_every_s`` until the next run, as a Houston DR500 set to repeat its
    ``000`` does; runs never overlap (at least :data:`RUN_SPACING_S` apart), so the stream
    stays in time order.
    """
    import random
    from dataclasses import replace

    from collector.encode import ENCODERS, SimVehicle, encode_vehicle
    from collector.passes import Direction

    rng = random.Random(seed)
    t = 0.0
    prev_end: float | None = None
    while True:  # one vehicle at a time, so the stream never ends
        t += rng.uniform(0.6, 1.4) * every_s
        direction = rng.choice([Direction.APPROACHING, Direction.RECEDING])
        vehicle = SimVehicle(t, max(5.0, rng.gauss(mean_kmh, mean_kmh * 0.15)), direction)
        state = rng.getstate()
        run = encode_vehicle(protocol, vehicle, unit, rng)  # raises for a protocol it cannot write
        spec = ENCODERS[protocol]
        if prev_end is not None and run[0][0] < prev_end + RUN_SPACING_S:
            t += prev_end + RUN_SPACING_S - run[0][0]  # the same vehicle, once the one before has gone
            rng.setstate(state)
            run = encode_vehicle(protocol, replace(vehicle, time_s=t), unit, rng)
        if spec.idle is not None and spec.streaming:
            frame = 1 / spec.rate_hz
            at = run[0][0] - 1.0 if prev_end is None else prev_end + frame
            while at < run[0][0] - frame / 2:
                yield round(at, 6), spec.idle
                at += spec.idle_every_s
        yield from run
        prev_end = run[-1][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m collector.simulate_pty",
        description="Play a radar sign on a pseudo-terminal; prints the device path to open.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--capture", help="replay this file's lines (endings kept) one by one")
    what.add_argument("--protocol", help="random traffic in this wire format (collector.encode)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="--capture: seconds between lines; --protocol: between vehicles "
                             "(default 0.1 and 5)")
    parser.add_argument("--unit", help="--protocol: the unit the simulated device is set to")
    parser.add_argument("--mean-kmh", type=float, default=45.0, help="--protocol: mean speed")
    parser.add_argument("--seed", type=int, default=0, help="--protocol: random seed")
    parser.add_argument("--rate", type=float, default=1.0, help="speed-up factor")
    parser.add_argument("--loop", action="store_true", help="--capture: start over at the end")
    args = parser.parse_args(argv)
    if args.capture is not None:
        with open(args.capture, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        if not lines:
            parser.error(f"capture file {args.capture!r} is empty; give a file with lines to send")
        chunks = lines_at_interval(lines, args.interval, args.loop)
    else:
        every = 5.0 if args.interval == parser.get_default("interval") else args.interval
        chunks = random_traffic(args.protocol, args.unit, every, args.mean_kmh, args.seed)
    path, sign = open_simulated_sign(chunks, args.rate)  # stays open, quiet, until Ctrl-C
    print(path, flush=True)
    try:
        while sign.is_alive():
            sign.join(0.5)
    except KeyboardInterrupt:
        sign.stop()
        sign.join(2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
