"""`fartkoll planner rank | plan | pins | control | followup`: enforcement planning commands."""

from __future__ import annotations

import argparse
import getpass
import math
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from planner.names import direction_code, direction_name, display_name

from ..settings import Settings
from .planner_jobs import add_commands as add_job_commands


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("planner", help="rank sites and hours, draw control plans, log controls, follow up")
    ps = p.add_subparsers(dest="planner_cmd", required=True, metavar="ACTION")

    def period_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first local day of the data period")
        q.add_argument("--to", dest="date_to", type=date.fromisoformat,
                       help="last local day, inclusive (default: the latest data)")
        q.add_argument("--pin", action="append", default=[], metavar="SITE", help="put a site first (repeatable)")
        q.add_argument("--exclude", action="append", default=[], metavar="SITE", help="leave a site out (repeatable)")

    r = ps.add_parser("rank", help="rank sites and site × direction × hour-of-week cells, every score part shown")
    period_args(r)
    r.add_argument("--limit", type=int, default=20, help="sites (and cells with --cells) to show (default 20)")
    r.add_argument("--cells", action="store_true", help="also list the best cells one by one")
    r.add_argument("--json", action="store_true", help="print JSON")

    pl = ps.add_parser("plan", help="draw a randomised control plan from the ranking and store it")
    period_args(pl)
    pl.add_argument("--slots", help="patrol slots file, .csv (date,start,end,units) or .toml ([[slot]])")
    pl.add_argument("--seed", type=int, help="random seed (default: a new one, printed); same seed, same plan")
    pl.add_argument("--start", dest="first_day", type=date.fromisoformat,
                    help="first day of the default patrol slots (default: next Monday)")
    pl.add_argument("--weeks", type=int, default=1, help="weeks of default patrol slots (default 1)")
    pl.add_argument("--ics", help="write the plan as iCalendar to this file")
    pl.add_argument("--csv", help="write the plan as CSV to this file")
    pl.add_argument("--html", help="write a printable HTML page of the plan to this file")
    pl.add_argument("--pdf", help="write the same printable page as an A4 PDF to this file (needs chromium)")
    pl.add_argument("--language", choices=("sv", "en"), default="sv",
                    help="language of the calendar and the printout (default sv)")
    pl.add_argument("--actor", help="who makes the plan (default: the login name)")
    pl.add_argument("--json", action="store_true", help="print the stored plan as JSON (as the API gives it)")

    pn = ps.add_parser("pins", help="standing pins and excludes of sites")
    pns = pn.add_subparsers(dest="pins_cmd", required=True, metavar="ACTION")
    pns.add_parser("list", help="list pinned and excluded sites")
    for name, text in (("pin", "always rank a site first"), ("exclude", "never rank a site")):
        q = pns.add_parser(name, help=text)
        q.add_argument("site", metavar="SITE")
        q.add_argument("--note", default="")
        q.add_argument("--actor")
    q = pns.add_parser("clear", help="remove a site's pin or exclude")
    q.add_argument("site", metavar="SITE")
    q.add_argument("--actor")

    pp = ps.add_parser("plans", help="stored plans: list, show, approve, cancel")
    pps = pp.add_subparsers(dest="plans_cmd", required=True, metavar="ACTION")
    q = pps.add_parser("list", help="list plans, newest first")
    q.add_argument("--status", choices=("draft", "approved", "cancelled"))
    q.add_argument("--json", action="store_true")
    q = pps.add_parser("show", help="show a plan and its controls (the item ids for `control done`)")
    q.add_argument("plan_id", type=int, metavar="PLAN")
    q.add_argument("--ics", help="write the plan as iCalendar to this file")
    q.add_argument("--csv", help="write the plan as CSV to this file")
    q.add_argument("--html", help="write the printable plan as HTML to this file")
    q.add_argument("--pdf", help="write the printable plan as an A4 PDF to this file (needs chromium)")
    q.add_argument("--actor", help="who exports it, for the audit log (default: the login name)")
    q.add_argument("--json", action="store_true")
    for name, text in (("approve", "approve a draft plan"), ("cancel", "cancel a draft or approved plan")):
        q = pps.add_parser(name, help=text)
        q.add_argument("plan_id", type=int, metavar="PLAN")
        q.add_argument("--actor")
        if name == "cancel":
            q.add_argument("--note", default="", help="why it was cancelled")
        q.add_argument("--json", action="store_true")

    c = ps.add_parser("control", help="the control log")
    cs = c.add_subparsers(dest="control_cmd", required=True, metavar="ACTION")
    ca = cs.add_parser("add", help="log a control that was held")
    ca.add_argument("--site", required=True, help="site id or name")
    ca.add_argument("--start", required=True, help="start, ISO date-time (local time of the site if no offset)")
    ca.add_argument("--end", required=True, help="end, ISO date-time")
    ca.add_argument("--method", required=True, help="laser, radar, camera, presence or other")
    ca.add_argument("--checked", type=int, help="vehicles checked")
    ca.add_argument("--reports", type=int, help="reports written")
    ca.add_argument("--direction", choices=("approaching", "receding", "unknown"),
                    help="the direction controlled (default: both)")
    ca.add_argument("--plan-id", type=int, help="the plan this control carried out")
    ca.add_argument("--second-unit", action="store_true",
                    help="another unit controlled the same site at the same time (not a duplicate)")
    ca.add_argument("--note", default="")
    ca.add_argument("--actor")
    ca.add_argument("--json", action="store_true", help="print the stored control as JSON")
    cd = cs.add_parser("done", help="mark a planned control done: log it prefilled from the plan item")
    cd.add_argument("item", type=int, metavar="PLAN-ITEM", help="the item id (`fartkoll planner plans show PLAN`)")
    cd.add_argument("--vehicles", type=int, help="vehicles checked")
    cd.add_argument("--reports", type=int, help="reports written")
    cd.add_argument("--method", default="laser", help="laser (default), radar, camera, presence or other")
    cd.add_argument("--start", help="when it really started, if not as planned (ISO date-time)")
    cd.add_argument("--end", help="when it really ended, if not as planned")
    cd.add_argument("--note", default="")
    cd.add_argument("--actor")
    cd.add_argument("--json", action="store_true", help="print the stored control as JSON")
    cl = cs.add_parser("list", help="list logged controls")
    cl.add_argument("--site", help="only this site")
    cl.add_argument("--json", action="store_true")

    f = ps.add_parser("followup", help="effect of each logged control against comparison sites")
    f.add_argument("site", nargs="?", metavar="SITE", help="only controls at this site")
    f.add_argument("--json", action="store_true")
    add_job_commands(ps)  # run | report | job: the scheduler and its jobs (fartkoll/commands/planner_jobs.py)
    p.set_defaults(handler=run)


def _actor(args: argparse.Namespace) -> str:
    return getattr(args, "actor", None) or getpass.getuser() or "cli"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..db import connect

    with connect(settings) as conn:  # an error rolls back; fartkoll.cli prints it with its exit code
        code = _dispatch(args, settings, conn)
        conn.commit()
        return code


def _dispatch(args, settings: Settings, conn) -> int:
    cmd = args.planner_cmd
    if cmd in ("rank", "plan"):
        return _rank_or_plan(args, settings, conn)
    if cmd == "pins":
        return _pins(args, conn)
    if cmd == "plans":
        return _plans(args, settings, conn)
    if cmd == "control":
        return _control(args, settings, conn)
    return _followup(args, settings, conn)


def _period(args, settings: Settings, conn):
    from planner.load import default_period
    from planner.sitestats import local_period

    default = default_period(conn, settings.planner.period_weeks)
    if not args.date_from and not args.date_to:
        return default
    return local_period(args.date_from, args.date_to, settings.default_time_zone, default)


def _site_ids(sites, names: list[str]) -> tuple[int, ...]:
    from planner.load import resolve_site

    return tuple(resolve_site(sites, n).id for n in names)


def _rank_or_plan(args, settings: Settings, conn) -> int:
    from planner.load import load_sites
    from planner.ranking import rank

    if args.planner_cmd == "plan" and not args.slots:
        from planner.planning import check_weeks

        check_weeks(args.weeks)  # before the ranking: a wrong option is named first
    if args.planner_cmd == "rank" and args.date_from and args.date_to and args.date_to < args.date_from:
        print(f"fartkoll planner rank: --to {args.date_to} is before --from {args.date_from} "
              f"(both local days, --to inclusive)", file=sys.stderr)
        return 2
    sites = load_sites(conn)
    pins, excludes = _site_ids(sites, args.pin), _site_ids(sites, args.exclude)
    period = _period(args, settings, conn)
    if args.planner_cmd == "rank":
        if args.limit < 1:
            print(f"fartkoll planner rank: --limit {args.limit} must be 1 or more", file=sys.stderr)
            return 2
        result = rank(conn, settings.planner, over_kmh=settings.threshold_over_kmh, period=period,
                      pins=pins, excludes=excludes)
        if args.json:
            print(result.view(args.limit).model_dump_json(by_alias=True, indent=2))
        else:
            print(format_ranking(result, args.limit, args.cells))
        return 0
    return _plan(args, settings, conn, period, pins, excludes)


def _totals_line(result) -> str:
    through, n_sites = result.cells.through, len({s.site_id for s in result.cells.spans})
    if not through:
        return ("cells summed from the hourly rollups (no current running totals: "
                "`fartkoll planner job cells` builds them and makes this faster)")
    return (f"cells from running totals up to {min(through.values()):%Y-%m-%d %H:%M}Z for {len(through)} of "
            f"{n_sites} sites, hourly rollups after that")


def format_ranking(result, limit: int, cells: bool = False) -> str:
    """Each site once: its best hours, its best cell's score parts and its warnings (said once)."""
    from planner.names import DISPLAYS

    out = [f"data {result.period} (trend vs {result.previous}); pinned {list(result.pinned)}, "
           f"excluded {list(result.excluded)}", _totals_line(result), "", "sites (by best cell):"]
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for i, s in enumerate(result.sites[:limit], start=1):
        hours = ", ".join(f"{days[c.hour_of_week // 24]} {c.hour_of_week % 24:02d} {direction_name(c.direction)} "
                          f"({c.total:.1f})" for c in (s.top or (s.best,)))
        out.append(f"{i:3d}. {s.name} [{s.site_id}] best {s.best_total:.1f}, top-3 {s.top3_total:.1f}, "
                   f"tips {s.tips}" + (" [pinned]" if s.pinned else ""))
        out.append(f"      best hours: {hours}")
        out.append(f"      best cell ({DISPLAYS[s.best.display]} data): {s.best.explain()}")
        warnings = list(dict.fromkeys(w for c in (s.top or (s.best,)) for w in c.warnings))
        if warnings:
            out.append("      ! " + "; ".join(warnings))
    if cells:
        out += ["", "cells:"]
        names = {i: s.name for i, s in result.site_info.items()}
        for i, r in enumerate(result.ranking.rows(limit), start=1):
            out.append(f"{i:3d}. {names.get(r.site_id, r.site_id)} ({DISPLAYS[r.display]} data) — {r.explain()}")
            if r.warnings:
                out.append("      ! " + "; ".join(r.warnings))
    return "\n".join(out)


def _page_url(settings: Settings, plan_id: int) -> str:
    """The plan's web page for officers (the link in its calendar events and on its printout)."""
    scheme = "https" if settings.api.https else "http"
    return f"{scheme}://{settings.api.host}:{settings.api.port}/officer/plans/{plan_id}"


def _write_exports(args, settings: Settings, conn, view) -> None:
    """The --pdf, --ics, --csv and --html files of a stored plan, each export audited."""
    from psycopg.types.json import Jsonb

    from planner.calendar_export import plan_calendar, plan_csv
    from planner.plan_html import plan_page
    from planner.report.pdf import html_to_pdf
    from sql import QUERIES

    url = _page_url(settings, view.plan_id)
    writers = {"pdf": lambda path: html_to_pdf(plan_page(view, url), path),
               "ics": lambda path: Path(path).write_text(plan_calendar(view, url), encoding="utf-8", newline=""),
               "csv": lambda path: Path(path).write_text(plan_csv(view), encoding="utf-8", newline=""),
               "html": lambda path: Path(path).write_text(plan_page(view, url), encoding="utf-8")}
    for fmt, write in writers.items():  # pdf first: if Chromium fails, nothing else names the plan
        path = getattr(args, fmt, None)
        if path:
            write(path)
            conn.execute(QUERIES["planner_audit"], {"actor": _actor(args), "action": "plan.export", "entity": "plans",
                                                    "entity_id": str(view.plan_id),
                                                    "detail": Jsonb({"format": fmt, "file": str(path)})})


def _plan(args, settings: Settings, conn, period, pins, excludes) -> int:
    from planner.planlife import plan_view
    from planner.planning import propose_plan, read_slots
    from planner.report.pdf import find_chromium
    from sql import QUERIES

    # no Chromium, no plan: fail before one is drawn and stored
    if args.pdf:
        find_chromium()
    tz = settings.default_time_zone
    slots = read_slots(args.slots) if args.slots else None
    actor = _actor(args)
    out = propose_plan(conn, settings.planner, now=datetime.now(timezone.utc), tz=tz, actor=actor, slots=slots,
                       first_day=args.first_day, weeks=args.weeks, seed=args.seed,
                       over_kmh=settings.threshold_over_kmh, period=period, pins=pins, excludes=excludes)
    conn.execute(QUERIES["plans_set_language"], {"plan_id": out.plan_id, "language": args.language})
    view = plan_view(conn, out.plan_id)
    controls = out.plan.controls
    if args.json:
        print(view.model_dump_json(indent=2))
    else:
        print(f"plan {out.plan_id}: {len(controls)} controls, seed {out.seed}, data {out.ranking.period}")
        for c in controls:
            print(f"  {c.start:%a %Y-%m-%d %H:%M}–{c.end:%H:%M %Z} unit {c.unit}: "
                  f"{out.site_names.get(c.site_id, c.site_id)} {direction_name(c.direction)} "
                  f"({c.reason}, score {c.weight:.1f})")
        for u in out.plan.unmet:
            print(f"  not met: {u}")
    _write_exports(args, settings, conn, view)
    return 0


def _pins(args, conn) -> int:
    from planner.load import load_sites, resolve_site
    from planner.pins import clear_rule, list_rules, set_rule

    if args.pins_cmd == "list":
        rows = list_rules(conn)
        for site_id, name, rule, note, by, at in rows:
            print(f"{rule:8s} {name} [{site_id}] by {by} {at:%Y-%m-%d}" + (f": {note}" if note else ""))
        if not rows:
            print("no pinned or excluded sites")
        return 0
    site = resolve_site(load_sites(conn), args.site)
    if args.pins_cmd == "clear":
        was = clear_rule(conn, site.id, _actor(args))
        print(f"{site.name}: {'removed ' + was if was else 'had no pin or exclude'}")
    else:
        set_rule(conn, site.id, args.pins_cmd, _actor(args), args.note)
        print(f"{site.name}: {args.pins_cmd}ned" if args.pins_cmd == "pin" else f"{site.name}: excluded")
    return 0


def _print_plan(v) -> None:
    zone = ZoneInfo(v.time_zone)
    life = {"draft": "draft", "approved": f"approved by {v.approved_by} at "
            f"{v.approved_at.astimezone(zone):%Y-%m-%d %H:%M %Z}" if v.approved_at else "approved",
            "cancelled": f"cancelled by {v.cancelled_by} at {v.cancelled_at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
            if v.cancelled_at else "cancelled"}[v.status]
    print(f"plan {v.plan_id}: {v.first_day} .. {v.last_day}, {len(v.controls)} controls, {life}; "
          f"made by {v.created_by} at {v.created_at.astimezone(zone):%Y-%m-%d %H:%M %Z}, seed {v.seed}")
    for c in v.controls:
        done = f"done (control {c.control_id})" if c.control_id else "to do"
        print(f"  item {c.id:5d} {c.start:%a %Y-%m-%d %H:%M}–{c.end:%H:%M %Z} unit {c.unit}: {c.site_name} "
              f"({c.street}) {c.direction}, {c.reason} — {done}")
    for u in v.unmet:
        print(f"  not met: {u}")


def _plans(args, settings: Settings, conn) -> int:
    from planner.planlife import approve_plan, cancel_plan, list_plans, plan_view

    now = datetime.now(timezone.utc)
    if args.plans_cmd == "list":
        rows = list_plans(conn, args.status)
        if args.json:
            from pydantic import TypeAdapter

            from planner.planlife import PlanSummary

            print(TypeAdapter(list[PlanSummary]).dump_json(rows, indent=2).decode())
            return 0
        for r in rows:
            zone = ZoneInfo(r.time_zone)
            who = {"approved": f" by {r.approved_by}", "cancelled": f" by {r.cancelled_by}"}.get(r.status, "")
            print(f"{r.plan_id:5d} {r.first_day} .. {r.last_day} {r.status}{who}: {r.done} of {r.controls} done; "
                  f"made {r.created_at.astimezone(zone):%Y-%m-%d %H:%M %Z} by {r.created_by}")
        if not rows:
            print("no plans" + (f" with status {args.status}" if args.status else ""))
        return 0
    if args.plans_cmd == "show":
        view = plan_view(conn, args.plan_id)
        _write_exports(args, settings, conn, view)
    elif args.plans_cmd == "approve":
        view = approve_plan(conn, args.plan_id, _actor(args), now)
    else:
        view = cancel_plan(conn, args.plan_id, _actor(args), now, args.note)
    if args.json:
        print(view.model_dump_json(indent=2))
    else:
        _print_plan(view)
    return 0


def _when(value: str, field: str, tz: str) -> datetime:
    from planner.controls import ControlError

    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ControlError(field, value, "is not an ISO date-time like 2024-10-21T16:00") from None
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz))


def _control(args, settings: Settings, conn) -> int:
    from planner.controls import ControlInput, ControlView, control_view, list_controls, record_control
    from planner.load import load_sites, resolve_site

    sites = load_sites(conn)
    if args.control_cmd == "done":
        from planner.planlife import control_from_item

        ci = control_from_item(conn, args.item, method=args.method, vehicles_checked=args.vehicles,
                               reports_written=args.reports, note=args.note)
        tz = sites[ci.site_id].time_zone
        if args.start or args.end:
            from dataclasses import replace

            ci = replace(ci, start=_when(args.start, "start", tz) if args.start else ci.start,
                         end=_when(args.end, "end", tz) if args.end else ci.end)
        logged = record_control(conn, ci, _actor(args), datetime.now(timezone.utc))
        zone = ZoneInfo(tz)
        print(logged.model_dump_json(indent=2) if args.json else
              f"control {logged.id} logged at {logged.site_name} "
              f"{logged.start_time.astimezone(zone):%Y-%m-%d %H:%M}–{logged.end_time.astimezone(zone):%H:%M %Z}: "
              f"plan item {args.item} done")
        return 0
    if args.control_cmd == "add":
        site = resolve_site(sites, args.site)
        ci = ControlInput(site.id, _when(args.start, "start", site.time_zone), _when(args.end, "end", site.time_zone),
                          args.method, args.checked, args.reports,
                          None if args.direction is None else direction_code(args.direction), args.note, args.plan_id,
                          args.second_unit)
        logged = record_control(conn, ci, _actor(args), datetime.now(timezone.utc))
        print(logged.model_dump_json(indent=2) if args.json else f"control {logged.id} logged at {site.name}")
        return 0
    site_id = resolve_site(sites, args.site).id if args.site else None
    rows = list_controls(conn, site_id)
    if args.json:
        from pydantic import TypeAdapter

        print(TypeAdapter(list[ControlView]).dump_json([control_view(r) for r in rows], indent=2).decode())
        return 0
    for r in rows:
        zone = ZoneInfo(sites[r.site_id].time_zone)
        print(f"{r.id:5d} {r.start_time.astimezone(zone):%Y-%m-%d %H:%M}–{r.end_time.astimezone(zone):%H:%M %Z} "
              f"{r.site_name} {direction_name(r.direction) if r.direction is not None else 'both directions'} {r.method} "
              f"checked {r.vehicles_checked if r.vehicles_checked is not None else '-'} "
              f"reports {r.reports_written if r.reports_written is not None else '-'}"
              + (f" plan {r.plan_id}" if r.plan_id else "") + (f" — note: {r.note}" if r.note else ""))
    if not rows:
        print("no controls logged")
    return 0


def _est(e, scale: float) -> str:
    """DiD with its interval, its days and its reading (a rise is said to be one)."""
    if not math.isfinite(e.did):
        return "no data yet".ljust(38)
    if not math.isfinite(e.low):
        return f"{scale * e.did:+.1f} [CI unknown] {e.days} d".ljust(38)
    word = {"decrease": " decrease", "increase": " INCREASE"}.get(e.verdict, "")
    return f"{scale * e.did:+.1f} [{scale * e.low:+.1f}, {scale * e.high:+.1f}] {e.days} d{word}".ljust(38)


def _followup(args, settings: Settings, conn) -> int:
    from planner.followup import followups
    from planner.load import load_sites, resolve_site

    site_id = resolve_site(load_sites(conn), args.site).id if args.site else None
    fs = followups(conn, settings.planner, site_id)
    if args.json:
        from pydantic import TypeAdapter

        from planner.followupview import FollowupView, followup_view

        print(TypeAdapter(list[FollowupView]).dump_json([followup_view(f) for f in fs], indent=2).decode())
        return 0
    if not fs:
        print("no controls logged" + (" at this site" if site_id else ""))
    for f in fs:
        c, zone = f.control, ZoneInfo(f.time_zone)
        start, end = c.start_time.astimezone(zone), c.end_time.astimezone(zone)
        print(f"control {c.id}: {c.site_name}, {start:%Y-%m-%d %H:%M}–{end:%H:%M} {start:%Z} ({c.method}, "
              f"{'planned' if f.planned else 'unplanned'})")
        print(f"  selected {f.selected_on} ({f.selection_basis}); {len(f.comparison_sites)} comparison sites; "
              f"series: {display_name(f.display) if f.display is not None else 'both display modes'}")
        r = f.report
        if r is not None:
            print(f"  baseline {r.baseline_start} .. {r.baseline_end} (exclusive): rests on {r.baseline_days} "
                  f"days with data of {r.baseline_requested_days} requested")
            if r.computed:
                print(f"  {'window':10s} {'share over limit, pp':38s} {'V85, km/h':38s}")
                for k in r.share_over_limit:
                    print(f"  {k:10s} {_est(r.share_over_limit[k], 100)} {_est(r.v85[k], 1)}")
                print("  (difference in differences [95 % CI], days in the window)")
                halo = f"{r.halo_days} days" if r.halo_days is not None else "not determined"
                print(f"  halo: {halo}; return from {r.return_from or '-'}")
            else:
                print("  effect not computed: too short a baseline")
        for n in (*f.notes, *(r.notes if r else ())):
            print(f"  note: {n}")
    return 0
