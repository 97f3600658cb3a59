"""The decode command's body: bytes in, one JSON object a line out."""

from __future__ import annotations

import io
import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from collector.decode import decode, main, run_decode
from collector.encode import SimVehicle, encode_traffic
from collector.passes import Direction

T = datetime(2025, 6, 23, 12, 0, tzinfo=timezone.utc)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_decode_bytes():
    out = list(decode("ops-plain", b"-12.3\r\n5", received_at=T))
    assert [(r.kind, r.speed_kmh, r.direction) for r in out] == [
        ("reading", pytest.approx(44.28), Direction.RECEDING),
        ("reading", pytest.approx(18.0), Direction.APPROACHING),  # flushed at the end
    ]


def test_decode_chunks_stamped_by_a_clock_per_chunk():
    ticks = iter([T, T + timedelta(seconds=1), T + timedelta(seconds=2)])
    out = list(decode("hlk-ld2415h", [b"V+01", b"0.0\r\nV+020.0\r", b"\n"], received_at=lambda: next(ticks)))
    assert [(r.speed_kmh, r.received_at) for r in out] == [
        (10.0, T + timedelta(seconds=1)), (20.0, T + timedelta(seconds=1))]


def test_decode_passes_unit_and_options():
    out = list(decode("houston-dr500", b"+045\r", received_at=T, unit="kmh", plus_means="receding"))
    assert out[0].speed_kmh == 45.0 and out[0].direction is Direction.RECEDING


def test_decode_rejects_bad_configuration_before_iterating():
    with pytest.raises(ValueError, match="is not known"):
        decode("nope", b"", received_at=T)
    with pytest.raises(ValueError, match="needs a unit"):
        decode("stalker-a", b"", received_at=T)


def test_run_decode_prints_json_lines():
    out = io.StringIO()
    code = run_decode("ops-plain", None, io.BytesIO(b'-12.3\r\n{"Units":"mph"}\r\n10\r\nx\r\n'), out,
                      now=lambda: T)
    assert code == 0
    got = lines(out.getvalue())
    assert [(g["kind"], g["speed_kmh"], g["direction"]) for g in got] == [
        ("reading", 44.28, "receding"), ("reply", None, "unknown"),
        ("reading", 16.0934, "approaching"), ("malformed", None, "unknown")]
    assert got[0]["received_at"] == "2025-06-23T12:00:00+00:00" and got[0]["raw"] == "-12.3"
    assert "speed 'x'" in got[3]["error"]


def test_run_decode_binary_raw_is_hex():
    out = io.StringIO()
    run_decode("hikvision-1", None, io.BytesIO(b"\xf9\x32"), out, now=lambda: T)
    assert lines(out.getvalue())[0]["raw"] == "f932"


def test_run_decode_exit_1_when_nothing_is_understood():
    assert run_decode("hlk-ld2415h", None, io.BytesIO(b"045\r046\r"), io.StringIO(), now=lambda: T) == 1
    assert run_decode("hlk-ld2415h", None, io.BytesIO(b""), io.StringIO(), now=lambda: T) == 0


class SlowPipe(io.RawIOBase):
    """A live pipe: each read returns the next chunk, and the clock moves to its time."""

    def __init__(self, events, clock):
        self.events, self.clock = list(events), clock

    def readable(self):
        return True

    def read1(self, size=-1):
        if not self.events:
            return b""
        t, data = self.events.pop(0)
        self.clock[0] = T + timedelta(seconds=t)
        return data


def test_run_decode_group_prints_vehicles():
    vehicles = [SimVehicle(5.0, 50.0, Direction.APPROACHING), SimVehicle(15.0, 70.0, Direction.RECEDING)]
    clock = [T]
    pipe = SlowPipe(encode_traffic("hlk-ld2415h", vehicles, None, random.Random(2)), clock)
    out = io.StringIO()
    assert run_decode("hlk-ld2415h", None, pipe, out, group=True, now=lambda: clock[0]) == 0
    got = lines(out.getvalue())
    assert [(g["kind"], g["speed_kmh"], g["direction"]) for g in got] == [
        ("vehicle", 50.0, "approaching"), ("vehicle", 70.0, "receding")]
    assert got[0]["time"] == "2025-06-23T12:00:05+00:00"


def test_main_reads_a_file_with_options(tmp_path):
    path = tmp_path / "sign.log"
    path.write_bytes(b"2025-06-23 07:31:02;47;IN\n2025-06-23 07:31:09;52;OUT\n")
    out = io.StringIO()
    code = main(["--protocol", "regex", "--unit", "kmh", "-o", r"pattern=;(?P<speed>\d+);(?P<direction>\w+)",
                 str(path)], stdout=out)
    assert code == 0
    assert [(g["kind"], g["speed_kmh"], g["direction"]) for g in lines(out.getvalue())] == [
        ("vehicle", 47.0, "approaching"), ("vehicle", 52.0, "receding")]


def test_main_reads_stdin():
    out = io.StringIO()
    assert main(["--protocol", "display-contract", "--unit", "mph"], stdin=io.BytesIO(b"030\r"), stdout=out) == 0
    assert lines(out.getvalue())[0]["speed_kmh"] == 48.2803


def test_main_reports_configuration_errors():
    err = io.StringIO()
    assert main(["--protocol", "nope", "-"], stdin=io.BytesIO(b""), stdout=io.StringIO(), stderr=err) == 2
    assert "protocol 'nope' is not known" in err.getvalue() and "ops-plain" in err.getvalue()
    err = io.StringIO()
    assert main(["--protocol", "ops-plain", "/no/such/file"], stdout=io.StringIO(), stderr=err) == 2
    assert "/no/such/file" in err.getvalue()


def test_run_decode_group_ends_a_houston_vehicle_at_its_idle_line_as_run_does():
    # every chunk stamped at the same instant: only the idle line can tell the two vehicles apart
    out = io.StringIO()
    run_decode("houston-dr500", "kmh", io.BytesIO(b"+045\r+046\r000\r+050\r+051\r"), out, group=True,
               now=lambda: T)
    assert [g["speed_kmh"] for g in lines(out.getvalue())] == [46.0, 51.0]
    out = io.StringIO()  # a protocol whose idle line means only "nothing right now": one vehicle
    run_decode("hlk-ld2415h", None, io.BytesIO(b"V+045.0\r\nV+046.0\r\nV+000.0\r\nV+050.0\r\n"), out,
               group=True, now=lambda: T)
    assert [g["speed_kmh"] for g in lines(out.getvalue())] == [50.0]
