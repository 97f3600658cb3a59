"""A batch of passes as columns: the write path's working form, one array per field.

The write path checks, resolves, keys, bins and copies whole columns (numpy) instead of one
:class:`~collector.passes.VehiclePass` per pass. Uploads decode straight into columns
(:meth:`PassColumns.build`); sources that have pass objects convert them
(:meth:`PassColumns.from_passes`), which keeps the objects: a pass whose values the columns
cannot hold as given (a speed that is not a number, a time without an offset) is marked
``doubt`` and judged by the per-pass checks on its own object, so the decisions and the
messages stay those of :class:`~collector.checks.BatchChecks`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from .passes import Direction, Display, VehiclePass

NONE = np.iinfo(np.int64).min
"""An integer column's "not given" (sign_id, site_id, display)."""

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_NO_KEY = bytes(16)
_NUMBER = frozenset((int, float))
_NONE_TYPE = type(None)


def epoch_us(t: datetime) -> int:
    """An aware datetime as integer microseconds since 1970 UTC (exact)."""
    return (t - EPOCH) // _US


def times_us(times: Sequence[datetime]) -> np.ndarray:
    """Aware datetimes as int64 microseconds since 1970 UTC.

    ``timestamp()`` is exact to the microsecond for any plausible time (below 2**53 µs, year
    2255), and rounding its float back gives the integer: ~0.6 µs a time against ~1.4 for
    ``epoch_us``."""
    return np.rint(np.array([t.timestamp() for t in times], dtype=np.float64) * 1e6).astype(np.int64)


@dataclass
class PassColumns:
    """Passes as columns. ``times`` keeps each time as given (its offset appears in messages and
    in derived keys); ``time_us`` is the same instant in microseconds since 1970 UTC."""

    times: Sequence[datetime]
    time_us: np.ndarray       # int64
    speed_kmh: np.ndarray     # float64, as given
    direction: np.ndarray     # int64
    sign_id: np.ndarray       # int64, NONE when not given
    site_id: np.ndarray       # int64, NONE when not given
    display: np.ndarray       # int64, NONE when not given
    length_m: np.ndarray      # float64, NaN when not given
    key: np.ndarray           # 16-byte keys (dtype V16); zeros where ``keyed`` is False
    keyed: np.ndarray         # bool
    originals: Sequence[VehiclePass] | None = None  # the pass objects, when converted from them
    doubt: np.ndarray | None = None  # bool: only the per-pass checks can judge these (needs originals)

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def build(cls, times: Sequence[datetime], speed_kmh: Sequence[float], direction: Sequence[int],
              keys: Sequence[uuid.UUID | None], *, sign_id: int | None = None,
              length_m: Sequence[float | None] | None = None) -> PassColumns:
        """Columns of well-typed values (aware datetimes, floats, direction numbers, UUIDs) of one sign
        whose deployment gives site and display mode (an upload's)."""
        n = len(times)
        lengths = (np.full(n, np.nan) if length_m is None or length_m.count(None) == n
                   else np.array([np.nan if x is None else x for x in length_m], dtype=np.float64))
        keyed = np.array([k is not None for k in keys], dtype=bool)
        blob = b"".join([_NO_KEY if k is None else k.int.to_bytes(16) for k in keys])
        return cls(times, times_us(times), np.asarray(speed_kmh, dtype=np.float64),
                   np.asarray(direction, dtype=np.int64),
                   np.full(n, NONE if sign_id is None else sign_id, dtype=np.int64),
                   np.full(n, NONE, dtype=np.int64), np.full(n, NONE, dtype=np.int64), lengths,
                   np.frombuffer(blob, dtype="V16").copy(), keyed)

    @classmethod
    def from_passes(cls, passes: Sequence[VehiclePass]) -> PassColumns:
        """The passes' columns; a pass with a value of an unexpected type is marked ``doubt``
        (placeholder values in the columns) and is judged on its object.

        Each field is taken as a list and converted at once when its values are all of the
        expected types (the usual batch); only a field with an odd value is gone through pass by pass."""
        n = len(passes)
        doubt = np.zeros(n, dtype=bool)
        times = [p.time for p in passes]
        if set(map(type, times)) == {datetime} and None not in [t.utcoffset() for t in times]:
            t_us = times_us(times)
        else:
            t_us = np.zeros(n, dtype=np.int64)
            for i, t in enumerate(times):
                if type(t) is datetime and t.utcoffset() is not None:
                    t_us[i] = epoch_us(t)
                else:
                    doubt[i] = True
        speed = _floats([p.speed_kmh for p in passes], doubt, none_ok=False)
        length = _floats([p.length_m for p in passes], doubt, none_ok=True)
        direction = _ints([p.direction for p in passes], doubt, (Direction, int), none_ok=False)
        sign = _ints([p.sign_id for p in passes], doubt, (int,), none_ok=True)
        site = _ints([p.site_id for p in passes], doubt, (int,), none_ok=True)
        display = _ints([p.display for p in passes], doubt, (Display, int), none_ok=True)
        keys = [p.key for p in passes]
        keyed = np.array([type(k) is uuid.UUID for k in keys], dtype=bool)
        doubt |= ~keyed & np.array([k is not None for k in keys], dtype=bool)
        blob = b"".join([k.int.to_bytes(16) if type(k) is uuid.UUID else _NO_KEY for k in keys])
        return cls(times, t_us, speed, direction, sign, site, display, length,
                   np.frombuffer(blob, dtype="V16").copy(), keyed, passes, doubt if doubt.any() else None)

    @classmethod
    def concat(cls, parts: Sequence[PassColumns]) -> PassColumns:
        """One batch of several (a group of uploads), in order."""
        if len(parts) == 1:
            return parts[0]
        # objects are needed for passes judged on them and for keys derived from their values
        needs_objects = any(p.originals is not None and (p.doubt is not None or not p.keyed.all()) for p in parts)
        originals = [q for p in parts for q in p.passes()] if needs_objects else None
        doubts = [p.doubt if p.doubt is not None else np.zeros(len(p), dtype=bool) for p in parts]
        doubt = np.concatenate(doubts) if any(p.doubt is not None for p in parts) else None
        return cls([t for p in parts for t in p.times], *(np.concatenate([getattr(p, f) for p in parts]) for f in (
            "time_us", "speed_kmh", "direction", "sign_id", "site_id", "display", "length_m", "key", "keyed")),
            originals, doubt)

    def take(self, index: np.ndarray) -> PassColumns:
        """The passes at ``index`` (batch positions, in order)."""
        pick = index.tolist()
        return PassColumns([self.times[i] for i in pick], *(getattr(self, f)[index] for f in (
            "time_us", "speed_kmh", "direction", "sign_id", "site_id", "display", "length_m", "key", "keyed")),
            None if self.originals is None else [self.originals[i] for i in pick],
            None if self.doubt is None else self.doubt[index])

    def key_set(self) -> frozenset[bytes]:
        """The given keys (16 bytes each)."""
        return frozenset((self.key if self.keyed.all() else self.key[self.keyed]).tolist())

    def pass_at(self, i: int) -> VehiclePass:
        """Pass ``i`` as an object: the original, or one made from the columns."""
        if self.originals is not None:
            return self.originals[i]
        length = float(self.length_m[i])
        return VehiclePass(self.times[i], float(self.speed_kmh[i]), Direction(int(self.direction[i])),
                           _int_or_none(self.sign_id[i]), _int_or_none(self.site_id[i]),
                           None if self.display[i] == NONE else Display(int(self.display[i])),
                           None if length != length else length, self.key_at(i))

    def passes(self) -> list[VehiclePass]:
        """Every pass as an object (tests, and a group mixing objects with columns)."""
        return list(self.originals) if self.originals is not None else [self.pass_at(i) for i in range(len(self))]

    def key_at(self, i: int) -> uuid.UUID | None:
        return uuid.UUID(bytes=self.key[i].tobytes()) if self.keyed[i] else None


def _floats(values: list, doubt: np.ndarray, *, none_ok: bool) -> np.ndarray:
    """A float64 column of ints and floats (NaN for None where ``none_ok``); any other value, a
    NaN given as a value or one beyond float64 marks its pass in ``doubt`` (placeholder 0)."""
    kinds = set(map(type, values))
    if kinds <= ({int, float, type(None)} if none_ok else {int, float}):
        try:
            out = np.array([np.nan if v is None else v for v in values] if _NONE_TYPE in kinds else values, dtype=np.float64)
        except OverflowError:  # an int beyond float64: pass by pass below
            pass
        else:
            given_nan = np.isnan(out)
            if _NONE_TYPE in kinds:
                given_nan &= np.array([v is not None for v in values], dtype=bool)
            doubt |= given_nan
            return out
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None and none_ok:
            continue
        try:
            if type(v) not in _NUMBER or v != v:
                raise ValueError
            out[i] = v
        except (OverflowError, ValueError):
            out[i] = 0.0
            doubt[i] = True
    return out


def _ints(values: list, doubt: np.ndarray, kinds_ok: tuple[type, ...], *, none_ok: bool) -> np.ndarray:
    """An int64 column of values of the types ``kinds_ok`` (NONE for None where ``none_ok``); any
    other value, or one beyond int64, marks its pass in ``doubt``."""
    kinds = set(map(type, values))
    allowed = set(kinds_ok) | ({type(None)} if none_ok else set())
    if kinds <= allowed:
        try:
            out = np.array([NONE if v is None else v for v in values] if _NONE_TYPE in kinds else values, dtype=np.int64)
        except OverflowError:
            pass
        else:
            if _NONE_TYPE in kinds or not (out == NONE).any():  # a given value equal to NONE: pass by pass
                return out
    out = np.full(len(values), NONE, dtype=np.int64)
    for i, v in enumerate(values):
        if v is None and none_ok:
            continue
        if type(v) in kinds_ok and -(1 << 63) < v < 1 << 63:
            out[i] = v
        else:
            out[i] = 0
            doubt[i] = True
    return out


def _int_or_none(v: np.int64) -> int | None:
    return None if v == NONE else int(v)
