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
- ``source_key`` = ``<location_id>|<site name>|<installation_date>|<occurrence>|<bin column>``:
  what the row says about the installation (``location_id`` names a place the city measures
  again and again, so alone it would make a later installation there "already stored"), the
  removal date left out so a later file with the same installation stored as of max_date does
  not store it twice; *occurrence* counts earlier rows of the file with the same identity. Rows
  stored under the older ``<location_id>:<bin column>`` keys are re-keyed by migration 0007.
- Counts are checked against the column (integer); installation and removal dates against the
  plausible-time rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import psycopg

from collector.plausible import TimeRule

from . import columns, places
from .binned import BinnedCount, store_bins
from .report import ImportSummary, Problem
from .textfile import Lines, csv_rows, header

SOURCE = "toronto-wys-mobile"
TZ = ZoneInfo("America/Toronto")
BIN_COLUMNS = [f"spd_{lo:02d}" for lo in range(0, 100, 5)] + ["spd_100_and_above"]
REQUIRED = ["location_id", "location", "direction", "installation_date", "removal_date", "volume", "max_date", *BIN_COLUMNS]
HEADINGS = {"NB", "SB", "EB", "WB"}
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
    installed: date
    record: str = ""

    @property
    def identity(self) -> str:
        """What the row says about the installation, for its key."""
        return f"{self.location_id}|{self.site_name}|{self.installed.isoformat()}"


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


def _day(raw: str, field: str, record: str, rule: TimeRule, received: datetime) -> date | Problem:
    try:
        d = date.fromisoformat(raw.strip()[:10])
        why = rule.problem(_midnight(d), received)
    except (ValueError, OverflowError):
        return Problem(record, field, raw, "not a date (YYYY-MM-DD)")
    if why:
        return Problem(record, field, raw, f"{why}: a typing error in the source")
    return d


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), TZ)


def parse_row(n: int, row: dict[str, str], rule: TimeRule, received: datetime, line: int | None = None
              ) -> Installation | Problem | None:
    """One CSV row (``n`` counts data rows from 1, ``line`` is its line in the file) as an
    installation, a problem, or ``None`` when it carries no vehicles at all (no volume and empty
    bins). Dates are checked with ``rule`` for an import at ``received``."""
    record = f"row {n} (_id {row.get('_id', '?')}" + (f", line {line})" if line else ")")
    counts: list[tuple[str, int, int | None, int]] = []
    for col in BIN_COLUMNS:
        raw = (row.get(col) or "").strip()
        if not raw:
            continue
        try:
            c = columns.count(int(raw))
        except ValueError:
            return Problem(record, col, raw, "not a whole number of vehicles")
        if isinstance(c, str):
            return Problem(record, col, raw, c)
        if c:
            counts.append((col, *_bin_bounds(col), c))
    total = sum(c for *_, c in counts)
    raw_volume = (row.get("volume") or "").strip()
    if not raw_volume and total == 0:
        return None
    try:
        volume = int(raw_volume)
        if len(raw_volume) > 40:
            raise ValueError(raw_volume)
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
    start = _day(row.get("installation_date") or "", "installation_date", record, rule, received)
    if isinstance(start, Problem):
        return start
    ongoing = not (row.get("removal_date") or "").strip()
    end_field = "max_date" if ongoing else "removal_date"
    end = _day(row.get(end_field) or "", end_field, record, rule, received)
    if isinstance(end, Problem):
        return end
    if end < start:
        return Problem(record, end_field, row.get(end_field), f"before installation_date {start.isoformat()}")
    head = heading(row.get("direction") or "")
    return Installation(
        row=n, location_id=location_id, street=location,
        site_name=site_name(location, head, _clean(row.get("from_street")), _clean(row.get("to_street"))),
        period_start=_midnight(start), period_end=_midnight(end + timedelta(days=1)), ongoing=ongoing,
        bins=tuple(counts), volume=volume, installed=start, record=record,
    )


def read_rows(lines: Lines) -> Iterator[tuple[int, int, dict[str, str]] | Problem]:
    """Numbered rows of the CSV as (row number, line, row), or problems of rows that cannot be
    read; raises :class:`places.ImportFailed` when columns are missing."""
    names = header(lines, ",")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise places.ImportFailed(f"{lines.path}: not a Toronto WYS mobile speed summary: columns {', '.join(missing)} "
                                  "are missing (expected the header of wys_mobile_speed_summary.csv)")
    n = 0
    for item in csv_rows(lines, names, ","):
        n += 1
        if isinstance(item, Problem):
            yield Problem(f"row {n} ({item.record})", item.field, item.value, item.reason)
        else:
            yield n, item[0], item[1]


def import_toronto(conn: psycopg.Connection, path: str, *, area: places.Area, rule: TimeRule, received: datetime,
                   limit_kmh: int | None = None, encoding: str = "utf-8",
                   after_batch: Callable[[ImportSummary], object] = lambda s: None) -> ImportSummary:
    """Import a wys_mobile_speed_summary.csv. Never commits; ``after_batch`` runs after the
    places are written and after each batch of bins (the CLI commits there)."""
    summary = ImportSummary("toronto", path, unit="rows", stored_unit="bins")
    found: list[Installation] = []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise places.ImportFailed(f"{path}: {e.strerror}") from None
    with f:
        for item in read_rows(Lines(f, path, encoding)):
            summary.read += 1
            if isinstance(item, Problem):
                summary.rejected.append(item)
                continue
            n, line, row = item
            got = parse_row(n, row, rule, received, line)
            if got is None:
                summary.skipped.append(Problem(f"row {n} (_id {row.get('_id', '?')}, line {line})", "volume",
                                               row.get("volume"), "no vehicles in any bin: nothing to store"))
            elif isinstance(got, Problem):
                summary.rejected.append(got)
            else:
                found.append(got)
    summary.total = summary.read
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
    summary.done = summary.read - len(found)     # rejected and skipped rows are done
    batch: list[tuple[str, BinnedCount]] = []
    rows_in_batch = 0
    seen: dict[str, int] = {}

    def flush() -> None:
        nonlocal batch, rows_in_batch
        w, refused = store_bins(conn, batch)
        summary.stored += w.inserted
        summary.duplicates += w.duplicates
        summary.vehicles_stored += w.vehicles
        summary.rejected.extend(Problem(label, f"spd_{b.speed_lo:02.0f}" if b.speed_hi else "spd_100_and_above",
                                        b.count, reason) for label, b, reason in refused)
        summary.done += rows_in_batch
        batch, rows_in_batch = [], 0
        after_batch(summary)

    for inst in found:
        sid = site_ids[inst.site_name]
        occurrence = seen.get(inst.identity, 0)
        seen[inst.identity] = occurrence + 1
        for col, lo, hi, c in inst.bins:
            batch.append((inst.record, BinnedCount(
                site_id=sid, direction=1, period_start=inst.period_start, period_end=inst.period_end,
                speed_lo=lo, speed_hi=hi, count=c, source=SOURCE,
                source_key=f"{inst.identity}|{occurrence}|{col}", display=1)))
        rows_in_batch += 1
        if len(batch) >= BATCH_BINS:
            flush()
    if batch:
        flush()
    return summary
