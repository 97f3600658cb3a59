"""Follow-ups of logged controls kept in ``followup_results`` under a fingerprint of what they
rest on (migration 0019), and the ``followups`` job that keeps them.

A follow-up is a pure function of the control row, its window (dates, limit spans, comparison
candidates: :class:`planner.followup.Window`), the planner's settings, the site's first data hour,
the hourly rollups of the window's sites and hours, and the code that evaluates them. The
fingerprint hashes all of these; the rollups enter as one summary row
(``followup_window_summary``: row count, vehicles, vehicles weighted by hour, site, direction
and display, integer speed sums and the sum of the histograms' hashes), which costs one aggregate
instead of reading ~18,500 histograms out. The code enters as the hash of the source of the
modules that compute a follow-up, so a new release never serves results of the old one. A kept
result is used only when its fingerprint equals the one computed now: it can go unused, never
stale. Only the ``followups`` job writes (a reader of a page must not): it keeps the follow-up
of every logged control. One whose window lies wholly before the newest data stays current until
late data, a new limit or a new control in its window; one whose window reaches the newest data
changes with each new hour of data and is computed again by the job's next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from planner.effect import EffectReport, Estimate
from planner.settings import PlannerSettings
from sql import QUERIES

if TYPE_CHECKING:
    from planner.controls import ControlRow
    from planner.followup import Followup, Window
    from planner.load import SiteInfo

CODE_MODULES = ("planner.followup", "planner.followup_store", "planner.effect", "planner.exceedance",
                "planner.percentiles", "planner.hourrows", "planner.hourofweek", "planner.stats",
                "planner.load")
"""The modules whose source a kept follow-up was computed by (their hash is in its fingerprint)."""


def _code_hash() -> bytes:
    h = hashlib.sha256()
    for name in CODE_MODULES:
        h.update(name.encode())
        h.update(Path(import_module(name).__file__ or "").read_bytes())
    return h.digest()


_CODE: list[bytes] = []


def code_hash() -> bytes:
    """The hash of the source of ``CODE_MODULES`` (read once per process)."""
    if not _CODE:
        _CODE.append(_code_hash())
    return _CODE[0]


def fingerprint(conn: psycopg.Connection, c: ControlRow, w: Window, first: datetime | None,
                planner: PlannerSettings, sites: dict[int, SiteInfo]) -> bytes:
    """The 32-byte fingerprint of everything control ``c``'s follow-up rests on (module docstring)."""
    summary = conn.execute(QUERIES["followup_window_summary"],
                           {"site_ids": w.site_ids, "start": w.start, "end": w.end}).fetchone()
    parts = (repr(planner), repr(c), repr(w), repr(sites[c.site_id]), repr(first), tuple(summary))
    return hashlib.sha256(code_hash() + repr(parts).encode()).digest()


def _estimate(e: Estimate) -> list:
    return [e.window, e.days, e.treated_change, e.comparison_change, e.did, e.low, e.high]


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _undate(s: str | None) -> date | None:
    return None if s is None else date.fromisoformat(s)


def to_text(f: Followup) -> str:
    """The follow-up without its control row (kept under the control's id) as JSON text (NaN
    and infinities as JSON's extensions, which jsonb would refuse: hence a text column)."""
    r = f.report
    report: dict[str, Any] | None = None if r is None else {
        "baseline_start": _day(r.baseline_start), "baseline_end": _day(r.baseline_end),
        "baseline_days": r.baseline_days, "baseline_requested_days": r.baseline_requested_days,
        "share_over_limit": {k: _estimate(e) for k, e in r.share_over_limit.items()},
        "v85": {k: _estimate(e) for k, e in r.v85.items()},
        "halo_days": r.halo_days, "return_from": _day(r.return_from), "notes": list(r.notes),
        "computed": r.computed}
    return json.dumps({"time_zone": f.time_zone, "planned": f.planned, "selected_on": _day(f.selected_on),
                       "selection_basis": f.selection_basis, "comparison_sites": list(f.comparison_sites),
                       "display": f.display, "report": report, "notes": list(f.notes)})


def from_text(text: str, c: ControlRow) -> Followup:
    """The follow-up ``to_text`` wrote, with its control row ``c``."""
    from planner.followup import Followup  # the follow-up module uses this one

    d = json.loads(text)
    r = d["report"]
    report = None if r is None else EffectReport(
        _undate(r["baseline_start"]), _undate(r["baseline_end"]), r["baseline_days"], r["baseline_requested_days"],
        {k: Estimate(*e) for k, e in r["share_over_limit"].items()}, {k: Estimate(*e) for k, e in r["v85"].items()},
        r["halo_days"], _undate(r["return_from"]), tuple(r["notes"]), r["computed"])
    return Followup(c, d["time_zone"], d["planned"], _undate(d["selected_on"]), d["selection_basis"],
                    tuple(d["comparison_sites"]), d["display"], report, tuple(d["notes"]))


def stored(conn: psycopg.Connection, controls: list[ControlRow]) -> dict[int, tuple[bytes, str]]:
    """The kept follow-ups of those ``controls`` that have one: control id → (fingerprint, text)."""
    rows = conn.execute(QUERIES["followup_results_of"], {"control_ids": [c.id for c in controls]}).fetchall()
    return {cid: (bytes(fp), text) for cid, fp, text in rows}


def keep(conn: psycopg.Connection, control_id: int, print_: bytes, f: Followup) -> None:
    """Keep one control's follow-up under its fingerprint."""
    conn.execute(QUERIES["followup_results_keep"],
                 {"control_id": control_id, "fingerprint": print_, "result": to_text(f)})


@dataclass(frozen=True)
class KeepResult:
    controls: int
    """Logged controls."""
    current: int
    """Of them, with a kept follow-up that still matched."""
    computed: int
    """Of them, computed now and kept."""
    seconds: float

    def __str__(self) -> str:
        return (f"follow-ups: {self.controls} controls, {self.current} kept and still current, "
                f"{self.computed} computed and kept ({self.seconds:.1f} s)")


def keep_followups(conn: psycopg.Connection, planner: PlannerSettings) -> KeepResult:
    """Keep the follow-up of every logged control (the ``followups`` job; the caller commits).
    A control whose window still reaches the newest data is kept too: its fingerprint changes
    with the next hour of data, so the job computes it again then, and pages in between find it."""
    from planner.controls import list_controls
    from planner.followup import followups_of
    from planner.load import latest_data_hour, load_sites

    t0 = time.perf_counter()
    controls = list_controls(conn)
    computed: list[int] = []

    def on_computed(c: ControlRow, w: Window, print_: bytes, f: Followup) -> None:
        keep(conn, c.id, print_, f)
        computed.append(c.id)

    followups_of(conn, controls, planner, load_sites(conn), latest_data_hour(conn), on_computed=on_computed)
    return KeepResult(len(controls), len(controls) - len(computed), len(computed), time.perf_counter() - t0)
