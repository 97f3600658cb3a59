"""Hour-of-week profiles (168 cells, Monday 00–01 local = cell 0) from UTC hourly rollups.

Local weekday and hour come from the site's time zone (zoneinfo), so DST days with 23 or 25
hours land in the right cells: the repeated 02:00 of an autumn Sunday adds two observed hours
to its cell, the missing 02:00 of a spring Sunday adds none. Figures per hour are normalised
by the hours actually observed (coverage minutes / 60), never by calendar counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_TZ = "Europe/Stockholm"
HOURS_PER_WEEK = 168
DAY_S = 86_400
HOUR_S = 3_600


def epoch_seconds(times: ArrayLike) -> NDArray[np.int64]:
    """UTC instants as integer epoch seconds, from numpy datetime64 (naive = UTC) or numbers."""
    t = np.asarray(times)
    if np.issubdtype(t.dtype, np.datetime64):
        return t.astype("datetime64[s]").astype(np.int64)
    return t.astype(np.int64)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _offset_at(s: int, zone: ZoneInfo) -> int:
    off = datetime.fromtimestamp(int(s), timezone.utc).astimezone(zone).utcoffset()
    if off is None:  # a ZoneInfo always has an offset; this guards a naive result
        raise ValueError(f"time zone {zone} gives no UTC offset at {s}")
    return int(off.total_seconds())


def offset_transitions(
    first_s: int, last_s: int, tz: str | ZoneInfo = DEFAULT_TZ
) -> tuple[list[int], list[int]]:
    """(starts, offsets): the UTC offset (s) in force from each start (epoch s) on, covering
    [first_s, last_s]. The first start lies a day or more before ``first_s``.

    Looks the zone up once a day over the span and bisects to the second where it changes.
    """
    zone = _zone(tz)
    days = np.arange(first_s // DAY_S - 1, last_s // DAY_S + 2) * DAY_S
    offs = [_offset_at(d, zone) for d in days]
    starts, values = [int(days[0])], [offs[0]]
    for i in range(1, len(days)):
        if offs[i] == values[-1]:
            continue
        lo, hi = int(days[i - 1]), int(days[i])  # offset(lo) == values[-1] != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _offset_at(mid, zone) == values[-1] else (lo, mid)
        starts.append(hi)
        values.append(offs[i])
    return starts, values


def utc_offsets(epoch_s: ArrayLike, tz: str | ZoneInfo = DEFAULT_TZ) -> NDArray[np.int64]:
    """UTC offset (seconds) in force at each instant: O(days) zone calls, not O(instants)."""
    s = epoch_seconds(epoch_s)
    if s.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts, values = offset_transitions(int(s.min()), int(s.max()), tz)
    idx = np.searchsorted(np.array(starts), s, side="right") - 1
    return np.array(values, dtype=np.int64)[idx]


def local_cells(
    hours_utc: ArrayLike, tz: str | ZoneInfo = DEFAULT_TZ
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(hour-of-week cell 0..167, local day number since 1970-01-01) of each UTC hour start.

    With a half-hour offset an hour is placed by its start.
    """
    s = epoch_seconds(hours_utc)
    local = s + utc_offsets(s, tz)
    day = local // DAY_S
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return weekday * 24 + (local % DAY_S) // HOUR_S, day


def cell_of(when: datetime) -> int:
    """Hour-of-week cell of an aware local datetime (Monday 00:00–00:59 = 0)."""
    return when.weekday() * 24 + when.hour


@dataclass(frozen=True)
class HourOfWeekProfile:
    """Per-cell sums over a period; every array has 168 rows (cell = weekday·24 + hour)."""

    vehicles: NDArray[np.float64]
    observed_hours: NDArray[np.float64]
    """Σ coverage minutes / 60 of the UTC hours that fell in the cell."""
    weeks: NDArray[np.int64]
    """Distinct local Monday-based weeks in which the cell was observed."""
    histogram: NDArray[np.float64] | None
    """(168, B) summed histograms, when given."""
    columns: dict[str, NDArray[np.float64]]
    """Other per-hour counts summed per cell (e.g. vehicles over that hour's threshold)."""

    @property
    def vehicles_per_hour(self) -> NDArray[np.float64]:
        """Mean vehicles per fully observed hour in the cell; NaN where never observed."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.observed_hours > 0, self.vehicles / self.observed_hours, np.nan)


def hour_of_week_profile(
    hours_utc: ArrayLike,
    vehicles: ArrayLike,
    coverage_min: ArrayLike | None = None,
    tz: str | ZoneInfo = DEFAULT_TZ,
    histograms: ArrayLike | None = None,
    columns: dict[str, ArrayLike] | None = None,
) -> HourOfWeekProfile:
    """Aggregate one site × direction × mode's hourly rows into 168 local hour-of-week cells.

    ``hours_utc`` (T,) UTC hour starts; ``vehicles`` (T,) counts; ``coverage_min`` (T,) minutes
    with data, 0..60 (default 60). Pass hours with coverage but no vehicles as 0-count rows: a
    quiet, observed hour must lower the mean. Hours with zero coverage are ignored.
    """
    n = np.asarray(vehicles, dtype=np.float64)
    cov = np.full(n.shape, 60.0) if coverage_min is None else np.asarray(coverage_min, dtype=np.float64)
    if n.ndim != 1 or cov.shape != n.shape:
        raise ValueError(f"vehicles {n.shape} and coverage {cov.shape} must be equal 1-D shapes")
    if np.any((cov < 0) | (cov > 60)):
        raise ValueError("coverage minutes must lie in 0..60")
    seen = cov > 0
    cell, day = local_cells(hours_utc, tz)
    if cell.shape != n.shape:
        raise ValueError(f"hours_utc {cell.shape} and vehicles {n.shape} differ in length")
    cell, day, n, cov = cell[seen], day[seen], n[seen], cov[seen]

    def per_cell(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(cell, weights=values, minlength=HOURS_PER_WEEK).astype(np.float64)

    week = (day + 3) // 7
    pairs = np.unique(cell * (1 << 32) + week)
    weeks = np.bincount(pairs // (1 << 32), minlength=HOURS_PER_WEEK)
    hist = None
    if histograms is not None:
        h = np.asarray(histograms, dtype=np.float64)[seen]
        hist = np.zeros((HOURS_PER_WEEK, h.shape[1]))
        np.add.at(hist, cell, h)
    extra = {k: per_cell(np.asarray(v, dtype=np.float64)[seen]) for k, v in (columns or {}).items()}
    return HourOfWeekProfile(per_cell(n), per_cell(cov / 60.0), weeks, hist, extra)
