"""Wire encoders for the traffic simulator: vehicles in, the bytes a given device would send.

Streaming devices report each vehicle as a run of readings around its peak (``readings``
per vehicle, ``rate_hz`` apart) and, where the device does so, idle lines between
vehicles; per-vehicle formats (OPS ``ON``/``OC``) send one line a vehicle. Speeds are in the
device ``unit``, rounded as the device rounds; ``+`` means approaching, as the parsers
assume by default. Feeding the output to ``make_parser(spec.parser)`` and grouping gives back
the vehicles (within half the format's resolution).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from collector.passes import Direction
from collector.units import from_kmh, unit_name

A, R, U = Direction.APPROACHING, Direction.RECEDING, Direction.UNKNOWN


@dataclass(frozen=True, slots=True)
class SimVehicle:
    """A simulated vehicle: its peak at ``time_s`` seconds from the start of the traffic."""

    time_s: float
    speed_kmh: float
    direction: Direction = Direction.UNKNOWN
    length_m: float | None = None


# Encodes one reading (streaming) or one vehicle: speed in the device unit (already
# rounded to the resolution), direction, the vehicle, the unit name.
Encode = Callable[[float, Direction, SimVehicle, str], bytes]


@dataclass(frozen=True, slots=True)
class EncoderSpec:
    """How one device format is written, and which parser reads it back."""

    parser: str
    encode: Encode
    resolution: float  # smallest speed step in the device unit
    low: float  # slowest speed the format can express (unit), above its idle value
    high: float  # fastest speed the format can express (unit)
    directions: str  # "signed" (+/- only), "full" (also unknown) or "none" (never sent)
    default_unit: str | None = None
    idle: bytes | None = None  # what the device sends with no target, if anything
    streaming: bool = True
    rate_hz: float = 10.0
    idle_every_s: float = 0.5
    readings: tuple[int, int] = (5, 20)


def _sign(d: Direction) -> str:
    return {A: "+", R: "-"}.get(d, "")


def _ops_sign(d: Direction) -> str:
    return "-" if d is R else ""  # the sensor prints positive speeds unsigned


def _int(v: float) -> int:
    return int(round(v))


def _oc(v: float, d: Direction, veh: SimVehicle, unit: str) -> bytes:
    if unit not in ("mps", "mph"):
        raise ValueError(f"ops-object writes max_speed_mps or max_speed_mph, not unit {unit!r}")
    obj: dict[str, object] = {"classifier": {A: "object_inbound", R: "object_outbound"}.get(d, "object_unknown"),
                              "end_time": f"{veh.time_s:.3f}", f"max_speed_{unit}": v}
    if veh.length_m is not None:
        obj["length_m" if unit == "mps" else "length_ft"] = round(
            veh.length_m if unit == "mps" else veh.length_m / 0.3048, 2)
    return json.dumps(obj).encode() + b"\r\n"


def _stalker_s(v: float, d: Direction, veh: SimVehicle, unit: str) -> bytes:
    c = {A: "C", R: "A"}.get(d, " ")
    return f"{c}{_int(v):04d} {c}{_int(v):04d}099050 \r".encode()


def _icoms(v: float, d: Direction, veh: SimVehicle, unit: str) -> bytes:
    if d is U:
        return f"*S{_int(v):03d}\r\n".encode()  # type 4: no direction
    word = {"kmh": " km/h", "mph": " mph"}.get(unit, "")  # type 1, else type 3
    return f"{_sign(d)}{_int(v):03d}{word}\r\n".encode()


ENCODERS: dict[str, EncoderSpec] = {
    "ops-plain": EncoderSpec("ops-plain", lambda v, d, veh, u: f"{_ops_sign(d)}{v:.1f}\r\n".encode(),
                             0.1, 0.1, 999.9, "signed", "mps"),
    "ops-json": EncoderSpec(
        "ops-json",
        lambda v, d, veh, u: f'{{"magnitude":"120.5","speed":"{_ops_sign(d)}{v:.2f}"}}\r\n'.encode(),
        0.01, 0.01, 999.99, "signed", "mps"),
    "ops-vehicle": EncoderSpec(
        "ops-json", lambda v, d, veh, u: f'{{"DetectedObjectVelocity":"{_ops_sign(d)}{v:.1f}"}}\r\n'.encode(),
        0.1, 0.1, 999.9, "signed", "mps", streaming=False),
    "ops-object": EncoderSpec("ops-json", _oc, 0.01, 0.01, 999.99, "full", "mps", streaming=False),
    "hlk-ld2415h": EncoderSpec("hlk-ld2415h", lambda v, d, veh, u: f"V{_sign(d)}{v:05.1f}\r\n".encode(),
                               0.1, 0.1, 999.9, "full", "kmh", rate_hz=20.0),
    "houston-dr500": EncoderSpec("houston-dr500", lambda v, d, veh, u: f"{_sign(d)}{_int(v):03d}\r".encode(),
                                 1, 1, 999, "full", idle=b"000\r"),
    "stalker-a": EncoderSpec("stalker-a", lambda v, d, veh, u: f"{v:5.1f}\r".encode(),
                             0.1, 0.1, 999.9, "none", idle=b"   . \r"),
    "stalker-s": EncoderSpec("stalker-s", _stalker_s, 1, 1, 9999, "full",
                             idle=b" 0000  0000000000 \r"),
    "decatur-si3": EncoderSpec("decatur-si3",
                               lambda v, d, veh, u: f"{_sign(d) or '?'}{_int(v)}\r".encode(),
                               1, 1, 9999, "full"),
    "icoms-tma296": EncoderSpec("icoms-tma296", _icoms, 1, 1, 999, "full", "kmh"),
    "mph-binary": EncoderSpec(
        "mph-binary", lambda v, d, veh, u: bytes([2, 0x40 if d is A else 0, 0, _int(v), 0, 0, 3]),
        1, 4, 255, "signed", idle=bytes([2, 0, 0, 0, 0, 0, 3]), rate_hz=4.0, idle_every_s=0.25,
        readings=(3, 8)),
    "hikvision-0": EncoderSpec("hikvision-0", lambda v, d, veh, u: bytes([_int(v)]),
                               1, 1, 255, "none", "kmh", idle=b"\x00"),
    "hikvision-1": EncoderSpec(
        "hikvision-1", lambda v, d, veh, u: bytes([{A: 0xF9, R: 0xF8}.get(d, 0xF7), _int(v)]),
        1, 1, 255, "full", "kmh", idle=b"\xf7\x00"),
    "hikvision-2": EncoderSpec("hikvision-2", lambda v, d, veh, u: f"{_sign(d)}{_int(v):03d}".encode(),
                               1, 1, 999, "signed", "kmh", idle=b"+000"),
    "display-contract": EncoderSpec("display-contract", lambda v, d, veh, u: f"{_int(v):03d}\r".encode(),
                                    1, 1, 999, "none", idle=b"000\r", idle_every_s=2.0),
    "regex": EncoderSpec("regex", lambda v, d, veh, u: f"SPD {v:05.1f} {'-' if d is R else '+'}\r\n".encode(),
                         0.1, 0.1, 999.9, "signed", "kmh", streaming=False),
}

REGEX_PATTERN = r"^SPD (?P<speed>\d+\.\d) (?P<direction>[+-])"
"""The pattern that reads the simulated ``regex`` sign's lines (``-o pattern=...``)."""

OPS_JSON_FORMS = {"speed": "ops-json", "vehicle": "ops-vehicle", "object": "ops-object"}
"""The OPS24x JSON outputs a simulated ``ops-json`` sign can send: streaming speeds (OJ), one
line per vehicle (ON) or per tracked object (OC); all read by the ``ops-json`` parser."""


def encoder_for(protocol: str, form: str | None = None) -> str:
    """The encoder of a protocol named as ``decode`` and ``run`` name it (``collector.protocols``),
    in the given ``form`` (ops-json only). Raises ``ValueError`` naming the valid names."""
    from collector.protocols import known_protocol

    known_protocol(protocol)
    if form is not None and protocol != "ops-json":
        raise ValueError(f"--form is for ops-json only ({', '.join(OPS_JSON_FORMS)}); {protocol} has one output")
    if form is not None and form not in OPS_JSON_FORMS:
        raise ValueError(f"form {form!r} is not one of {', '.join(OPS_JSON_FORMS)}")
    return OPS_JSON_FORMS[form or "speed"] if protocol == "ops-json" else protocol


def _spec(protocol: str) -> EncoderSpec:
    try:
        return ENCODERS[protocol]
    except KeyError:
        raise ValueError(
            f"no encoder for protocol {protocol!r}: use one of {', '.join(ENCODERS)}"
        ) from None


def _unit(protocol: str, spec: EncoderSpec, unit: str | None) -> str:
    if unit is not None:
        return unit_name(unit)
    if spec.default_unit is None:
        raise ValueError(f"encoding {protocol!r} needs a unit: the device sends the unit it is set to")
    return spec.default_unit


def _quantize(value: float, spec: EncoderSpec) -> float:
    return round(round(value / spec.resolution) * spec.resolution, 6)


def encode_vehicle(
    protocol: str, vehicle: SimVehicle, unit: str | None = None,
    rng: random.Random | None = None,
) -> list[tuple[float, bytes]]:
    """``(seconds, bytes)`` for one vehicle: a run of readings or a single record.

    Raises ``ValueError`` when the format cannot carry the vehicle (speed out of range,
    a signed-only format and an unknown direction).
    """
    spec = _spec(protocol)
    unit = _unit(protocol, spec, unit)
    rng = rng or random.Random(0)
    peak = _quantize(from_kmh(vehicle.speed_kmh, unit), spec)
    if not spec.low <= peak <= spec.high:
        raise ValueError(f"speed {vehicle.speed_kmh!r} km/h is {peak} {unit}: {protocol} "
                         f"carries {spec.low}..{spec.high} {unit}")
    if spec.directions == "signed" and vehicle.direction is U:
        raise ValueError(f"{protocol} always sends a direction: give the vehicle one")
    if not spec.streaming:
        return [(vehicle.time_s, spec.encode(peak, vehicle.direction, vehicle, unit))]
    n = rng.randint(*spec.readings)
    at_peak = rng.randrange(n)
    out = []
    for i in range(n):
        speed = peak if i == at_peak else max(spec.low, _quantize(peak * rng.uniform(0.8, 0.97), spec))
        t = round(vehicle.time_s + (i - at_peak) / spec.rate_hz, 6)
        out.append((t, spec.encode(speed, vehicle.direction, vehicle, unit)))
    return out


def encode_traffic(
    protocol: str, vehicles: Iterable[SimVehicle], unit: str | None = None,
    rng: random.Random | None = None,
) -> Iterator[tuple[float, bytes]]:
    """``(seconds, bytes)`` in time order for a stream of vehicles, with idle lines between.

    Idle lines (for devices that send them) come every ``idle_every_s`` from one second
    before the first run to one second after the last, wherever no run is under way.
    Vehicles closer than the grouping gap merge on the wire, as they would on the road.
    """
    spec = _spec(protocol)
    rng = rng or random.Random(0)
    events: list[tuple[float, bytes]] = []
    spans: list[tuple[float, float]] = []
    for vehicle in vehicles:
        run = encode_vehicle(protocol, vehicle, unit, rng)
        events.extend(run)
        spans.append((run[0][0] - 1 / spec.rate_hz, run[-1][0] + 1 / spec.rate_hz))
    if spec.idle is not None and spec.streaming and spans:
        start, end = min(s for s, _ in spans) - 1.0, max(e for _, e in spans) + 1.0
        steps = int((end - start) / spec.idle_every_s)
        for k in range(steps + 1):
            t = round(start + k * spec.idle_every_s, 6)
            if not any(s <= t <= e for s, e in spans):
                events.append((t, spec.idle))
    events.sort(key=lambda e: e[0])
    yield from events
