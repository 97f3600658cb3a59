"""OmniPreSense OPS24x JSON objects: speed readings, replies, ``ON`` vehicles, ``OC`` objects, ``@O`` bins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.passes import Direction
from collector.protocols.fields import (
    FieldError,
    bad,
    json_number,
    sign_direction,
    word_direction,
)
from collector.reading import Reading
from collector.units import to_kmh, unit_name

FT_TO_M = 0.3048


@dataclass(frozen=True, slots=True)
class OpsLine:
    """What every reading of one OPS line shares: its bytes, receive time and conventions."""

    raw: bytes
    received_at: datetime
    unit: str
    plus_means: Direction
    bin_interval_s: float | None


def interpret(obj: dict[str, Any], line: OpsLine) -> list[Reading]:
    """Readings for one decoded OPS JSON object, chosen by the keys it carries."""
    if "DetectedObjectVelocity" in obj:
        return [_detected_object(obj, line)]
    if "TimedSpeedCounts" in obj:
        return [_timed_counts(obj["TimedSpeedCounts"], line)]
    if "classifier" in obj or any(k.startswith("max_speed_") for k in obj):
        return [_object_record(obj, line)]
    if "speed" in obj:
        return _speeds(obj, line)
    return [Reading(kind="reply", received_at=line.received_at, raw=line.raw, detail=obj)]


def _unit(obj: dict[str, Any], key: str, default: str) -> str:
    if key not in obj:
        return default
    value = obj[key]
    try:
        return unit_name(str(value))
    except ValueError:
        raise bad(key, value, "is not a known speed unit") from None


def _direction(value: object, signed: float, plus_means: Direction, field: str) -> Direction:
    """From a ``direction`` value when present (word or sign), else from the speed's sign."""
    if value is None:
        return sign_direction("-" if signed < 0 else "+", plus_means)
    text = str(value).strip()
    if text in ("+", "-"):
        return sign_direction(text, plus_means)
    try:
        return word_direction(text, field)
    except FieldError:
        return Direction.UNKNOWN


def _time(obj: dict[str, Any], key: str) -> float | None:
    return json_number(obj[key], key) if key in obj else None


def _detected_object(obj: dict[str, Any], line: OpsLine) -> Reading:
    signed = json_number(obj["DetectedObjectVelocity"], "DetectedObjectVelocity")
    unit = _unit(obj, "unit", line.unit)
    direction = _direction(obj.get("direction"), signed, line.plus_means, "direction")
    rest = {k: v for k, v in obj.items()
            if k not in ("DetectedObjectVelocity", "unit", "time", "direction")}
    if "direction" in obj and direction is Direction.UNKNOWN:
        rest["direction"] = obj["direction"]
    return Reading(
        kind="vehicle" if signed else "idle", received_at=line.received_at, raw=line.raw,
        speed_kmh=to_kmh(abs(signed), unit) if signed else None,
        direction=direction if signed else Direction.UNKNOWN,
        device_time=_time(obj, "time"), detail=rest,
    )


def _object_record(obj: dict[str, Any], line: OpsLine) -> Reading:
    speed_keys = [k for k in obj if k.startswith("max_speed_")]
    if len(speed_keys) != 1:
        raise bad("max_speed_*", speed_keys, "must be exactly one key")
    key = speed_keys[0]
    try:
        unit = unit_name(key.removeprefix("max_speed_"))
    except ValueError:
        raise bad("field", key, "has an unknown speed unit suffix") from None
    speed = abs(json_number(obj[key], key))
    length = None
    if "length_m" in obj:
        length = json_number(obj["length_m"], "length_m")
    elif "length_ft" in obj:
        length = json_number(obj["length_ft"], "length_ft") * FT_TO_M
    classifier = str(obj.get("classifier", ""))
    try:
        direction = word_direction(classifier, "classifier")
    except FieldError:
        direction = Direction.UNKNOWN
    time_key = "end_time" if "end_time" in obj else "start_time"
    rest = {k: v for k, v in obj.items() if k not in (key, "length_m", "length_ft", "end_time")}
    return Reading(
        kind="vehicle", received_at=line.received_at, raw=line.raw,
        speed_kmh=to_kmh(speed, unit), direction=direction,
        device_time=_time(obj, time_key), length_m=length, detail=rest,
    )


def _timed_counts(inner: object, line: OpsLine) -> Reading:
    if not isinstance(inner, dict):
        raise bad("TimedSpeedCounts", inner, "is not an object")
    unit = _unit(inner, "units", line.unit)
    if "count" not in inner:
        raise bad("TimedSpeedCounts", inner, "has no count")
    count_value = json_number(inner["count"], "count")
    if count_value < 0 or count_value != int(count_value):
        raise bad("count", inner.get("count"), "is not a whole number of vehicles")
    mean = None
    if "average" in inner:
        mean = to_kmh(abs(json_number(inner["average"], "average")), unit)
    direction = Direction.UNKNOWN
    if "direction" in inner:
        direction = _direction(inner["direction"], 1.0, line.plus_means, "direction")
    interval = line.bin_interval_s
    if "interval" in inner:
        interval = json_number(inner["interval"], "interval")
    rest = {k: v for k, v in inner.items()
            if k not in ("units", "count", "average", "time", "interval")}
    return Reading(
        kind="bin", received_at=line.received_at, raw=line.raw, direction=direction,
        device_time=_time(inner, "time"), count=int(count_value),
        mean_kmh=mean if count_value else None, interval_s=interval, detail=rest,
    )


def _speeds(obj: dict[str, Any], line: OpsLine) -> list[Reading]:
    speeds = obj["speed"] if isinstance(obj["speed"], list) else [obj["speed"]]
    magnitudes = obj.get("magnitude")
    if not isinstance(magnitudes, list):
        magnitudes = [magnitudes] * len(speeds)
    unit = _unit(obj, "unit", line.unit)
    device_time = _time(obj, "time")
    shared = {k: v for k, v in obj.items()
              if k not in ("speed", "magnitude", "unit", "time", "direction")}
    if not speeds:
        return [Reading(kind="idle", received_at=line.received_at, raw=line.raw,
                        device_time=device_time, detail=shared)]
    out = []
    for i, value in enumerate(speeds):
        signed = json_number(value, "speed" if len(speeds) == 1 else f"speed[{i}]")
        detail = dict(shared)
        if i < len(magnitudes) and magnitudes[i] is not None:
            detail["magnitude"] = json_number(magnitudes[i], "magnitude")
        if not signed:
            out.append(Reading(kind="idle", received_at=line.received_at, raw=line.raw,
                               device_time=device_time, detail=detail))
            continue
        out.append(Reading(
            kind="reading", received_at=line.received_at, raw=line.raw,
            speed_kmh=to_kmh(abs(signed), unit),
            direction=_direction(obj.get("direction"), signed, line.plus_means, "direction"),
            device_time=device_time, detail=detail,
        ))
    return out
