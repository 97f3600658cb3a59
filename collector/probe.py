"""What does the device on this port speak? Capture a few seconds per baud rate, score every
known parser on the bytes, report the best guess: the body of ``collector probe``.

Scoring is pure (``score_capture`` takes bytes); only ``capture``, ``probe`` and
``send_commands`` touch the port. A parser's score is the share of what it read that it
understood (not ``malformed``), and zero unless it found measurements or device replies.
Formats that accept any byte as a speed (Hikvision mode 0) count half; binary formats count
times the share of successive speeds that stay within 15 km/h of each other (a vehicle's
readings do, line noise does not), and half again on a capture that is plain text. So a stricter
format that understands as much wins; ties go to the more distinctive format (OPS plain
numbers, which any digits look like, last but one).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.heartbeat import CLOCK_KINDS, CLOCK_OFFSET_WARN_S, clock_offset
from collector.protocols import PROTOCOLS, make_parser
from collector.reading import Reading
from collector.serialport import Clock, utc_now

# protocols.md: the defaults of the devices we know, most common first
BAUD_RATES = (9600, 19200, 1200, 115200, 57600, 38400, 4800, 2400)
# Most distinctive first; ties in score go to the earlier one. OPS plain and JSON share one
# parser: it is tried once as "ops-json" and named by what it read.
ORDER = ("ops-json", "hlk-ld2415h", "stalker-s", "mph-binary", "hikvision-1", "houston-dr500",
         "stalker-a", "decatur-si3", "icoms-tma296", "display-contract", "hikvision-2",
         "hikvision-0")
CATCH_ALL = frozenset({"hikvision-0"})  # every byte is a speed
MEASUREMENTS = frozenset({"vehicle", "reading", "bin"})
MIN_SCORE = 0.3  # below this nothing is reported as a guess
CONFIDENT = 0.9  # a score at which the probe stops trying other baud rates
MIN_FOUND = 3  # ... if it found at least this many measurements or replies
SAMPLE = 5  # readings shown in a report


def ops_setup_commands(now: datetime) -> list[bytes]:
    """OPS24x set-up: km/h (``UK``), JSON output (``OJ``), vehicle mode (``ON``, OPS243) and
    the clock (``C=<unix seconds>``), each ended with CR LF (unsure whether the two-letter
    commands need it; the sensor ignores the line end)."""
    return [b"UK\r\n", b"OJ\r\n", b"ON\r\n", f"C={int(now.timestamp())}\r\n".encode()]


@dataclass(frozen=True)
class Candidate:
    """How well one protocol at one baud rate explains a capture."""

    protocol: str
    baud: int
    score: float  # 0..1, see the module docstring
    understood: float  # share of readings not malformed, 0..1
    counts: dict[str, int]
    unit: str | None  # the unit the readings were decoded with
    unit_hint: str
    sample: tuple[Reading, ...] = ()
    priority: int = 0  # among equal scores, lower wins (see ORDER)
    clock_offset_s: float | None = None  # see capture_clock_offset

    @property
    def found(self) -> int:
        """Measurements and replies: what makes a guess worth anything."""
        return sum(n for kind, n in self.counts.items() if kind in MEASUREMENTS or kind == "reply")

    def to_json_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "baud": self.baud, "score": round(self.score, 3),
                "understood": round(self.understood, 3), "counts": dict(self.counts),
                "unit": self.unit, "unit_hint": self.unit_hint,
                "clock_offset_s": None if self.clock_offset_s is None else round(self.clock_offset_s, 3),
                "readings": [r.to_json_dict() for r in self.sample]}


def is_text(data: bytes) -> bool:
    """Mostly printable ASCII and line ends (90 %)."""
    if not data:
        return False
    printable = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.9 * len(data)


def _parser_for(protocol: str, unit: str | None) -> tuple[Any, str | None, str]:
    """A parser, the unit it decodes with, and what the report says about the unit."""
    if unit is not None:
        return make_parser(protocol, unit=unit), unit, f"{unit} (as given)"
    try:
        parser = make_parser(protocol)
    except ValueError:  # the unit is a device setting the format does not carry
        return (make_parser(protocol, unit="kmh"), None,
                "not sent by the device: check its setting and pass --unit (speeds shown as if km/h)")
    default = getattr(parser, "unit", None)
    if default is None:  # ICOMS: only some message types carry a unit
        return (make_parser(protocol, unit="kmh"), None,
                "in the line for message types 1, 2, 6; else check the setting (shown as if km/h)")
    if protocol == "ops-json":
        return parser, default, (f"{default} unless set otherwise (factory default m/s; "
                                 "send UK for km/h, see --setup-ops)")
    return parser, default, f"{default} (fixed by the format)"


def smoothness(readings: Sequence[Reading]) -> float:
    """Share of successive speed readings within 15 km/h of each other (1.0 with none)."""
    speeds = [r.speed_kmh for r in readings if r.kind in MEASUREMENTS and r.speed_kmh is not None]
    pairs = list(zip(speeds, speeds[1:], strict=False))
    return sum(1 for a, b in pairs if abs(a - b) <= 15) / len(pairs) if pairs else 1.0


def capture_clock_offset(readings: Iterable[Reading], received_at: datetime) -> float | None:
    """Device clock minus the end of the capture, seconds, from the latest line the device timed
    in Unix seconds (``heartbeat.clock_offset``): every line of a capture carries that one
    receive time, and the latest is the closest to it, so a device that fell silent before the
    end looks further behind than it is. None without Unix times, or when the device counts
    since power-on again after them."""
    offsets: list[float] = []
    for r in readings:
        if r.kind in CLOCK_KINDS and r.device_time is not None:
            offset = clock_offset(r.device_time, received_at)
            if offset is None:
                offsets.clear()
            else:
                offsets.append(offset)
    return max(offsets) if offsets else None


def _ops_unit_reply(readings: Iterable[Reading]) -> str | None:
    for r in readings:
        if r.kind == "reply" and isinstance(r.detail.get("Units"), str):
            return r.detail["Units"]
    return None


def score_protocol(protocol: str, data: bytes, baud: int, received_at: datetime,
                   unit: str | None = None) -> Candidate:
    """Decode ``data`` with ``protocol`` and score it (see the module docstring)."""
    parser, used_unit, hint = _parser_for(protocol, unit)
    readings = parser.feed(data, received_at)
    if readings and readings[0].kind == "malformed":
        readings = readings[1:]  # most likely the tail of a line sent before the capture began
    readings += [r for r in parser.flush(received_at) if r.kind != "malformed"]  # cut off at the end
    counts = Counter(r.kind for r in readings)
    total = sum(counts.values())
    understood = (total - counts["malformed"]) / total if total else 0.0
    found = sum(n for kind, n in counts.items() if kind in MEASUREMENTS or kind == "reply")
    score = understood if found else 0.0
    if protocol in CATCH_ALL:
        score *= 0.5
    if PROTOCOLS[protocol].binary:
        score *= smoothness(readings) * (0.5 if is_text(data) else 1.0)
    name, priority = protocol, ORDER.index(protocol)
    if protocol == "ops-json":
        read = [r.raw for r in readings if r.kind != "malformed"]
        if not any(raw.lstrip().startswith(b"{") for raw in read):
            name = "ops-plain"  # numbers with decimals are distinctive; bare integers are not
            if not any(b"." in raw for raw in read):
                priority = ORDER.index("hikvision-2")
        said = _ops_unit_reply(readings)
        if said is not None and unit is None:
            hint = f"{said} (the sensor said so)"
    sample = tuple(r for r in readings if r.kind in MEASUREMENTS or r.kind == "reply")[:SAMPLE]
    return Candidate(name, baud, score, understood, dict(counts), used_unit, hint, sample, priority,
                     capture_clock_offset(readings, received_at))


def score_capture(data: bytes, baud: int, received_at: datetime,
                  unit: str | None = None) -> list[Candidate]:
    """Every known protocol's candidate for one capture, best first."""
    cands = [score_protocol(p, data, baud, received_at, unit) for p in ORDER]
    return rank(cands)


def rank(cands: Iterable[Candidate]) -> list[Candidate]:
    """Best first: higher score, then more found, then the more distinctive format."""
    return sorted(cands, key=lambda c: (-round(c.score, 6), c.priority, -c.found))


@dataclass
class ProbeReport:
    """Everything a probe found: the ranked candidates and the bytes seen per baud rate."""

    port: str
    candidates: list[Candidate] = field(default_factory=list)
    captured: dict[int, int] = field(default_factory=dict)  # baud -> bytes
    replies: list[tuple[str, list[Reading]]] = field(default_factory=list)  # set-up commands

    @property
    def best(self) -> Candidate | None:
        ranked = rank(self.candidates)
        return ranked[0] if ranked and ranked[0].score >= MIN_SCORE else None

    def to_json_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "port": self.port,
            "best": None if best is None else best.to_json_dict(),
            "candidates": [c.to_json_dict() for c in rank(self.candidates)[:8] if c.score > 0],
            "captured_bytes": {str(b): n for b, n in self.captured.items()},
            "setup": [{"command": cmd, "replies": [r.to_json_dict() for r in rs]}
                      for cmd, rs in self.replies],
        }

    def to_text(self) -> str:
        lines = []
        for cmd, rs in self.replies:
            said = ", ".join(r.raw.decode("latin-1").strip() for r in rs if r.kind == "reply")
            others = sum(1 for r in rs if r.kind != "reply")
            lines.append(f"sent {cmd}: {said or '(no reply)'}"
                         + (f" (and {others} other lines)" if others else ""))
        tried = ", ".join(f"{b} baud ({n} bytes)" for b, n in self.captured.items())
        best = self.best
        if best is None:
            lines.append(f"{self.port}: no known format recognised; tried {tried or 'nothing'}. "
                         "Check the wiring and that the device sends, give --baud, or capture "
                         "its output and use `fartkoll collector decode --protocol regex`.")
            return "\n".join(lines)
        found = sum(best.counts.values())
        lines.append(f"{self.port}: best guess {best.protocol} at {best.baud} baud "
                     f"(score {best.score:.2f}: {found - best.counts.get('malformed', 0)} of "
                     f"{found} lines or frames understood)")
        lines.append(f"unit: {best.unit_hint}")
        if best.clock_offset_s is not None:
            off = best.clock_offset_s
            lines.append(f"device clock: {off:+.1f} s against this computer (latest device time minus "
                         "end of capture)" + ("; set the sign's clock (OPS sensors: --setup-ops)"
                                              if abs(off) > CLOCK_OFFSET_WARN_S else ""))
        elif any(r.device_time is not None for r in best.sample):
            lines.append("device clock: not set (its times count since power-on); "
                         "--setup-ops sets an OPS sensor's clock")
        lines.append(f"  {'kind':<9} {'speed_kmh':>9}  {'direction':<11} {'time':>14}  raw")
        for r in best.sample:
            d = r.to_json_dict()
            speed = "" if d["speed_kmh"] is None else f"{d['speed_kmh']:.1f}"
            t = "" if d["time"] is None else f"{d['time']:.3f}".rstrip("0").rstrip(".")  # Unix s: no 1.7e+09
            lines.append(f"  {r.kind:<9} {speed:>9}  {d['direction']:<11} {t:>14}  {d['raw'].strip()}")
        others = [c for c in rank(self.candidates)[1:] if c.score > 0][:3]
        if others:
            lines.append("also fits: " + ", ".join(
                f"{c.protocol} at {c.baud} ({c.score:.2f})" for c in others))
        lines.append(f"tried: {tried}")
        return "\n".join(lines)


# --- the port ---------------------------------------------------------------------------------

OpenPort = Callable[..., Any]


def _serial_open() -> OpenPort:
    import serial

    return serial.Serial


def capture(port: str, baud: int, seconds: float, *, open_port: OpenPort | None = None,
            monotonic: Callable[[], float] = time.monotonic,
            enough: Callable[[bytes, float], bool] | None = None, check_every_s: float = 0.5) -> bytes:
    """Everything the port sends in ``seconds`` at ``baud`` (8N1), or less: every
    ``check_every_s`` the bytes so far and the seconds listened go to ``enough``, and a true
    answer ends the capture."""
    data = bytearray()
    with (open_port or _serial_open())(port, baudrate=baud, timeout=0.1) as dev:
        start = monotonic()
        deadline, check = start + seconds, start + check_every_s
        while (now := monotonic()) < deadline:
            data += dev.read(max(1, dev.in_waiting))
            if enough is not None and now >= check:
                check = now + check_every_s
                if enough(bytes(data), now - start):
                    break
    return bytes(data)


@dataclass(frozen=True)
class Progress:
    """Where a probe is: the baud rate it listens at (``step`` of ``steps``), for how long of
    ``seconds``, the bytes heard and the best candidate so far (None: nothing fits yet)."""

    baud: int
    step: int
    steps: int
    listened_s: float
    seconds: float
    bytes: int
    best: Candidate | None
    confident: bool = False

    def to_text(self) -> str:
        best = "nothing recognised yet" if self.best is None else \
            f"best so far {self.best.protocol} ({self.best.score:.2f}, {self.best.found} found)"
        line = (f"listening at {self.baud} baud ({self.step} of {self.steps}): "
                f"{self.listened_s:.1f} of {self.seconds:g} s, {self.bytes:,} bytes; {best}")
        return line + (" - confident, stopping" if self.confident else "")


def send_commands(port: str, baud: int, commands: Sequence[bytes], *, reply_s: float = 0.5,
                  clock: Clock = utc_now, open_port: OpenPort | None = None,
                  monotonic: Callable[[], float] = time.monotonic) -> list[tuple[str, list[Reading]]]:
    """Send each command and decode what comes back within ``reply_s`` (OPS JSON parser):
    replies and anything else the device sent meanwhile."""
    out = []
    parser = make_parser("ops-json")  # one parser: a line may straddle two commands' windows
    with (open_port or _serial_open())(port, baudrate=baud, timeout=0.1) as dev:
        for cmd in commands:
            dev.write(cmd)
            dev.flush()
            got: list[Reading] = []
            deadline = monotonic() + reply_s
            while monotonic() < deadline:
                chunk = dev.read(max(1, dev.in_waiting))
                if chunk:
                    got += parser.feed(chunk, clock())
            out.append((cmd.decode("ascii").strip(), got))
        out[-1][1].extend(parser.flush(clock()))
    return out


def probe(port: str, bauds: Sequence[int] = BAUD_RATES, seconds: float = 3.0, *,
          unit: str | None = None, clock: Clock = utc_now,
          open_port: OpenPort | None = None, progress: Callable[[Progress], None] | None = None,
          monotonic: Callable[[], float] = time.monotonic) -> ProbeReport:
    """Capture at each baud rate in turn and score; stops at the first confident match, as
    soon as it is confident (the same format confident at two checks in a row, so a capture
    cut short is not judged on its first few lines). ``progress`` hears every check."""
    report = ProbeReport(port)
    for step, baud in enumerate(bauds, 1):
        streak: list[str] = []

        def enough(data: bytes, listened: float, baud: int = baud, step: int = step,
                   streak: list[str] = streak) -> bool:
            best = score_capture(data, baud, clock(), unit)[0]
            sure = best.score >= CONFIDENT and best.found >= MIN_FOUND
            streak[:] = (streak + [best.protocol])[-2:] if sure else []
            stop = len(streak) == 2 and streak[0] == streak[1]
            if progress is not None:
                progress(Progress(baud, step, len(bauds), listened, seconds, len(data),
                                  best if best.score > 0 else None, stop))
            return stop

        data = capture(port, baud, seconds, open_port=open_port, monotonic=monotonic, enough=enough)
        report.captured[baud] = len(data)
        cands = score_capture(data, baud, clock(), unit)
        report.candidates.extend(cands)
        if cands[0].score >= CONFIDENT and cands[0].found >= MIN_FOUND:
            break
    return report
