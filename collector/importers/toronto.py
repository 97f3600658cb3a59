"""Toronto "Watch Your Speed" mobile-sign summaries (one CSV row per installation) into
``binned_counts``: bins, not invented vehicles.

Choices (see ../shared/data/toronto/README.md):
- A site is one installation place: street (``location``), heading and segment
  (``from_street``–``to_street``), e.g. ``Huntingwood Dr WB (Warden Ave – Davisbrook Blvd)``.
  Streets run for kilometres, so location + heading alone would pool distant segments.
- ``spd_XX`` → bin [XX, XX+5) km/h, ``spd_100_and_above`` → [100, open). Empty cells are 0;
  zero bins are not stored. ``pct_XX`` are ignored: the city computes them without weighting by
  count, so they are not vehicle percentiles.
- ``volume`` must equal the sum of the bins, else the row is rejected. A row with no volume and
  no vehicles in any bin is skipped (no data).
- Period: installation_date 00:00 to the day after removal_date (or, for a sign still up, the
  day after max_date), local time America/Toronto.
- Direction code: approaching (the sign measures the traffic it faces); the heading is in the
  site name. Display: 1 (the programme's signs show drivers their speed).
- ``source_key`` = ``<location_id>:<bin column>``: location_id is unique per installation and,
  unlike the portal's ``_id``, survives a reload of the open-data table.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import psycopg

from . import places
from .binned import BinnedCount, write_binned
from .report import ImportSummary, Problem

SOURCE = "toronto-wys-mobile"
TZ = ZoneInfo("America/Toronto")
BIN_COLUMNS = [f"spd_{lo:02d}" for lo in range(0, 100, 5)] + ["spd_100_and_above"]
REQUIRED = ["location_id", "location", "direction", "installation_date", "removal_date", "volume", "max_date", *BIN_COLUMNS]
HEADINGS = {"NB", "SB", "EB", "WB"}
EARLIEST = date(2000, 1, 1)
BATCH_BINS = 20_000


@dataclass(frozen=True)
class Installation:
    """One sign installation: where, when, and its 5 km/h bins (lo, hi or None, count)."""

    row: int
    location_id: str
    street: str
    site_name: str
    period_start: datetime
    period_end: datetime
    ongoing: bool
    bins: tuple[tuple[str, int, int | None, int], ...]   # (column, lo, hi, count), count > 0
    volume: int


def _bin_bounds(column: str) -> tuple[int, int | None]:
    if column == "spd_100_and_above":
        return 100, None
    lo = int(column[4:])
    return lo, lo + 5


def _clean(s: str | None) -> str:
    return re.sub(r"\s+", " ", (s or "").strip())


def heading(raw: str) -> str:
    """``NB``/``SB``/``EB``/``WB`` from the file's spellings (``SB ``, ``S/B``); '' when unknown."""
    h = raw.strip().upper().replace("/", "")
    return h if h in HEADINGS else ""


def site_name(location: str, head: str, from_street: str, to_street: str) -> str:
    name = f"{location} {head or '(heading unknown)'}"
    if from_street or to_street:
        name += f" ({from_street or '?'} – {to_street or '?'})"
    return name


def _day(raw: str, field: str, record: str) -> date | Problem:
    try:
        d = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return Problem(record, field, raw, "not a date (YYYY-MM-DD)")
    if d < EARLIEST:
        return Problem(record, field, raw, f"before {EARLIEST.isoformat()}: a typing error in the source")
    return d


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), TZ)


def parse_row(n: int, row: dict[str, str]) -> Installation | Problem | None:
    """One CSV row (``n`` counts data rows from 1) as an installation, a problem, or ``None``
    when it carries no vehicles at all (no volume and empty bins)."""
    record = f"row {n} (_id {row.get('_id', '?')})"
    counts: list[tuple[str, int, int | None, int]] = []
    for col in BIN_COLUMNS:
        raw = (row.get(col) or "").strip()
        if not raw:
            continue
        try:
            c = int(raw)
        except ValueError:
            return Problem(record, col, raw, "not a whole number of vehicles")
        if c < 0:
            return Problem(record, col, raw, "a count cannot be negative")
        if c:
            counts.append((col, *_bin_bounds(col), c))
    total = sum(c for *_, c in counts)
    raw_volume = (row.get("volume") or "").strip()
    if not raw_volume and total == 0:
        return None
    try:
        volume = int(raw_volume)
    except ValueError:
        return Problem(record, "volume", raw_volume, f"not a whole number (the bins add up to {total})")
    if volume != total:
        return Problem(record, "volume", raw_volume,
                       f"does not equal the sum of spd_00..spd_100_and_above ({total})")
    if volume == 0:
        return None
    location = _clean(row.get("location"))
    if not location:
        return Problem(record, "location", row.get("location"), "empty: the installation has no street")
    location_id = (row.get("location_id") or "").strip()
    if not location_id:
        return Problem(record, "location_id", row.get("location_id"), "empty: needed to recognise the row on re-import")
    start = _day(row.get("installation_date") or "", "installation_date", record)
    if isinstance(start, Problem):
        return start
    ongoing = not (row.get("removal_date") or "").strip()
    end_field = "max_date" if ongoing else "removal_date"
    end = _day(row.get(end_field) or "", end_field, record)
    if isinstance(end, Problem):
        return end
    if end < start:
        return Problem(record, end_field, row.get(end_field), f"before installation_date {start.isoformat()}")
    head = heading(row.get("direction") or "")
    return Installation(
        row=n, location_id=location_id, street=location,
        site_name=site_name(location, head, _clean(row.get("from_street")), _clean(row.get("to_street"))),
        period_start=_midnight(start), period_end=_midnight(end + timedelta(days=1)), ongoing=ongoing,
        bins=tuple(counts), volume=volume,
    )


def read_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Numbered rows of the CSV; raises :class:`places.ImportFailed` when columns are missing."""
    reader = csv.DictReader(text)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise places.ImportFailed(f"not a Toronto WYS mobile speed summary: columns {', '.join(missing)} are missing "
                                  "(expected the header of wys_mobile_speed_summary.csv)")
    for n, row in enumerate(reader, start=1):
        yield n, row


def import_toronto(conn: psycopg.Connection, path: str, *, area: places.Area, limit_kmh: int | None = None,
                   after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Import a wys_mobile_speed_summary.csv. Never commits; ``after_batch`` runs after the
    places are written and after each batch of bins (the CLI commits there)."""
    summary = ImportSummary("toronto", path, unit="rows", stored_unit="bins")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(read_rows(f))
    found: list[Installation] = []
    for n, row in rows:
        summary.read += 1
        got = parse_row(n, row)
        if got is None:
            summary.skipped.append(Problem(f"row {n} (_id {row.get('_id', '?')})", "volume", row.get("volume"),
                                           "no vehicles in any bin: nothing to store"))
        elif isinstance(got, Problem):
            summary.rejected.append(got)
        else:
            found.append(got)
    summary.total = len(rows)
    site_ids, new_sites = places.sites(conn, area, sorted({(i.street, i.site_name) for i in found}), TZ.key)
    summary.made("sites", new_sites)
    if limit_kmh is not None:
        since: dict[int, datetime] = {}
        for i in found:
            sid = site_ids[i.site_name]
            since[sid] = min(since.get(sid, i.period_start), i.period_start)
        summary.made("speed limits", places.speed_limits(conn, since, limit_kmh))
        summary.note(f"legal limit {limit_kmh} km/h recorded for the imported sites that had none")
    else:
        summary.note("the file has no speed limits and no --limit-kmh was given: this import recorded none")
    summary.note("pct_XX columns ignored: the city's percentiles are not weighted by count")
    ongoing = sum(1 for i in found if i.ongoing)
    if ongoing:
        summary.note(f"{ongoing} installations had no removal_date (still up): stored as of max_date; "
                     "a later file will not update their counts")
    after_batch(summary)
    summary.done = len(rows) - len(found)     # rejected and skipped rows are done
    batch: list[BinnedCount] = []
    rows_in_batch = 0

    def flush() -> None:
        nonlocal batch, rows_in_batch
        w = write_binned(conn, batch)
        summary.stored += w.inserted
        summary.duplicates += w.duplicates
        summary.vehicles_stored += w.vehicles
        summary.done += rows_in_batch
        batch, rows_in_batch = [], 0
        after_batch(summary)

    for inst in found:
        sid = site_ids[inst.site_name]
        for col, lo, hi, c in inst.bins:
            batch.append(BinnedCount(site_id=sid, direction=1, period_start=inst.period_start,
                                     period_end=inst.period_end, speed_lo=lo, speed_hi=hi, count=c,
                                     source=SOURCE, source_key=f"{inst.location_id}:{col}", display=1))
        rows_in_batch += 1
        if len(batch) >= BATCH_BINS:
            flush()
    if batch:
        flush()
    return summary
