"""The serial edge, through real pseudo-terminals: bytes, timestamps, unplug and reopen."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timezone

import pytest
import serial

from collector.serialport import SerialReader, next_backoff
from collector.simulate_pty import SimulatedSign, lines_at_interval, open_simulated_sign


class Collected:
    """Thread-safe record of what a reader handed on."""

    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, datetime]] = []
        self.ticks = 0
        self.disconnects: list[datetime] = []
        self._cond = threading.Condition()

    def on_data(self, data: bytes, at: datetime) -> None:
        with self._cond:
            self.chunks.append((data, at))
            self._cond.notify_all()

    def on_tick(self, at: datetime) -> None:
        with self._cond:
            self.ticks += 1

    def on_disconnect(self, at: datetime) -> None:
        with self._cond:
            self.disconnects.append(at)

    @property
    def data(self) -> bytes:
        with self._cond:
            return b"".join(c for c, _ in self.chunks)

    def wait_for(self, expected: bytes, timeout: float = 10.0) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: expected in b"".join(c for c, _ in self.chunks), timeout)
        return self.data


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def running():
    """Start readers in threads; stop and join them (bounded) at the end of the test."""
    started: list[tuple[threading.Event, threading.Thread, SerialReader]] = []

    def start(reader: SerialReader) -> threading.Thread:
        stop = threading.Event()
        thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread, reader))
        return thread

    yield start
    for stop, _thread, _ in started:
        stop.set()
    for _, thread, reader in started:
        thread.join(5)
        assert not thread.is_alive(), f"reader of {reader.port} did not stop"


def reader_for(path: str, got: Collected, **kw) -> SerialReader:
    kw.setdefault("read_timeout", 0.05)
    kw.setdefault("backoff_min", 0.05)
    kw.setdefault("backoff_max", 0.4)
    return SerialReader(
        path, got.on_data, on_tick=got.on_tick, on_disconnect=got.on_disconnect, **kw
    )


def test_bytes_arrive_unchanged_and_stamped_in_utc(running):
    lines = [b"V+045.2\r", b"V-032.8\r\n", b"\x00\xff\xfe garbage \x1b[2J\n", b"000\r"]
    path, sign = open_simulated_sign(lines_at_interval(lines, 0.05), rate=1.0)
    got = Collected()
    before = datetime.now(timezone.utc)
    running(reader_for(path, got, baudrate=1200, parity="E", bytesize=7))
    assert got.wait_for(b"000\r") == b"".join(lines)  # garbage and NULs pass through as-is
    after = datetime.now(timezone.utc)
    stamps = [at for _, at in got.chunks]
    assert all(at.tzinfo is not None and at.utcoffset().total_seconds() == 0 for at in stamps)
    assert before <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= after
    assert len(got.chunks) >= 2  # stamped per chunk, not once for everything
    sign.stop()


def test_quiet_port_still_ticks(running):
    path, sign = open_simulated_sign([], rate=1.0)
    got = Collected()
    reader = reader_for(path, got)
    running(reader)
    wait_until(lambda: got.ticks >= 5, timeout=5)
    assert got.data == b"" and reader.opens == 1
    sign.stop()


def test_unplug_closes_and_reopens_the_same_link_to_a_new_device(tmp_path, running, caplog):
    caplog.set_level(logging.INFO, logger="collector.serialport")
    link = tmp_path / "usb-Radar_Sign_SN123-if00"  # like /dev/serial/by-id/...
    first = SimulatedSign([(0.0, b"one\r")])
    link.symlink_to(first.path)
    first.start()
    got = Collected()
    reader = reader_for(str(link), got)
    running(reader)
    assert got.wait_for(b"one\r") == b"one\r"

    second = SimulatedSign([(0.0, b"two\r")])  # the adapter will come back as another pts
    assert second.path != first.path
    first.unplug()  # the device side goes away: the reader must notice and close
    wait_until(lambda: reader.losses == 1 and not reader.connected.is_set())
    assert len(got.disconnects) == 1

    tmp = tmp_path / "new-link"
    tmp.symlink_to(second.path)
    os.replace(tmp, link)
    second.start()
    assert got.wait_for(b"two\r") == b"one\rtwo\r"
    assert reader.opens == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"lost serial port {link}") and "reopening in" in m for m in messages)
    assert sum(m.startswith(f"opened serial port {link}") for m in messages) == 2
    second.stop()


def test_missing_port_is_retried_with_growing_bounded_backoff(tmp_path, running, caplog):
    caplog.set_level(logging.WARNING, logger="collector.serialport")
    link = tmp_path / "not-yet"
    attempts: list[float] = []

    def open_port(path, **kw):
        attempts.append(time.monotonic())
        return serial.Serial(path, **kw)

    got = Collected()
    reader = reader_for(str(link), got, backoff_min=0.05, backoff_max=0.2, open_port=open_port)
    running(reader)
    wait_until(lambda: len(attempts) >= 6, timeout=5)
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)][:5]
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2, 0.2, 0.2], strict=False):
        assert expected * 0.9 <= gap < expected + 0.15, (gaps, expected)
    assert reader.opens == 0 and got.chunks == []
    assert f"cannot open serial port {link}" in caplog.records[0].getMessage()

    path, sign = open_simulated_sign([(0.0, b"hello\r")])
    link.symlink_to(path)
    assert got.wait_for(b"hello\r") == b"hello\r"
    assert reader.opens == 1
    sign.stop()


def test_stop_returns_promptly_and_closes_the_port(running):
    path, sign = open_simulated_sign([], rate=1.0)
    got = Collected()
    reader = reader_for(path, got, read_timeout=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(reader.connected.is_set)
    t0 = time.monotonic()
    stop.set()
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - t0 < 1.0
    assert not reader.connected.is_set()
    assert got.disconnects == []  # a requested stop is not a lost device
    sign.stop()


def test_callback_errors_are_not_swallowed(running):
    path, sign = open_simulated_sign([(0.0, b"x")])

    def broken(data, at):
        raise RuntimeError("parser bug")

    reader = SerialReader(path, broken, read_timeout=0.05)
    with pytest.raises(RuntimeError, match="parser bug"):
        reader.run(threading.Event())
    assert not reader.connected.is_set()
    sign.stop()


def test_next_backoff_doubles_within_bounds():
    assert next_backoff(0.5, 0.5, 60) == 1.0
    assert next_backoff(40, 0.5, 60) == 60
    assert next_backoff(60, 0.5, 60) == 60
    assert next_backoff(0.0, 0.5, 60) == 0.5


def test_reader_refuses_inverted_backoff():
    with pytest.raises(ValueError, match="backoff_min 5 and backoff_max 1"):
        SerialReader("/dev/null", lambda d, t: None, backoff_min=5, backoff_max=1)


def test_simulated_sign_paces_chunks_by_offset_and_rate(running):
    chunks = [(0.0, b"a"), (0.4, b"b"), (0.8, b"c")]
    path, sign = open_simulated_sign(chunks, rate=2.0)  # 0.4 s apart at double speed → 0.2 s
    got = Collected()
    running(reader_for(path, got, read_timeout=0.01))
    assert got.wait_for(b"abc") == b"abc"
    at = {c: t for c, t in got.chunks}
    first_gap = (at[b"b"] - at[b"a"]).total_seconds()
    second_gap = (at[b"c"] - at[b"b"]).total_seconds()
    assert 0.12 < first_gap < 0.5 and 0.12 < second_gap < 0.5
    wait_until(sign.done.is_set)
    assert sign.written == 3
    sign.stop()


def test_command_line_simulator_prints_a_path_that_serves_the_capture(tmp_path):
    import signal
    import subprocess
    import sys

    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"V+045.2\r\nV-032.8\r\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.simulate_pty", "--capture", str(capture), "--interval", "0.05"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        with serial.Serial(path, 9600, timeout=0.1) as port:
            data, deadline = b"", time.monotonic() + 10
            while not data.endswith(b"V-032.8\r\n") and time.monotonic() < deadline:
                data += port.read(64)
        assert data == b"V+045.2\r\nV-032.8\r\n"
        assert proc.poll() is None  # a quiet device, not a vanished one
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
