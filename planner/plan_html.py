"""A printable HTML page of a control plan, headings in Swedish and English. Pure: returns a string.

Plans are for officers only (never published): the page says so in its footer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from planner.schedule import Control

DIRECTIONS = {0: ("okänd", "unknown"), 1: ("mot skylten", "approaching"), 2: ("från skylten", "receding")}
REASONS = {"score": ("poäng", "score"), "complaints": ("medborgarklagomål", "citizen complaints"),
           "focus street": ("fokusgata", "focus street")}
WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")

_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.en { color: #555; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { border: 1px solid #999; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; }
.unmet { margin-top: 1.5em; }
footer { margin-top: 2em; font-size: 0.85em; color: #555; }
tr { break-inside: avoid; }
@media print { body { margin: 0; } th { background: #ddd !important; print-color-adjust: exact; } }
"""


def _bi(sv: str, en: str) -> str:
    return f"{escape(sv)} <span class=\"en\">/ {escape(en)}</span>"


def plan_html(controls: Sequence[Control], *, plan_id: int, created_at: datetime, created_by: str,
              site_names: Mapping[int, str], data_from: datetime, data_to: datetime, seed: int,
              unmet: Sequence[str] = ()) -> str:
    """The plan as one self-contained HTML document (inline CSS, prints on A4)."""
    rows = []
    for c in controls:
        d_sv, d_en = DIRECTIONS.get(c.direction, (str(c.direction), str(c.direction)))
        r_sv, r_en = REASONS.get(c.reason, (c.reason, c.reason))
        rows.append(
            "<tr>"
            f"<td>{WEEKDAYS_SV[c.start.weekday()]} {c.start:%Y-%m-%d}</td>"
            f"<td>{c.start:%H:%M}–{c.end:%H:%M}</td>"
            f"<td>{escape(site_names.get(c.site_id, f'site {c.site_id}'))}</td>"
            f"<td>{escape(d_sv)} / {escape(d_en)}</td>"
            f"<td class=\"num\">{c.unit}</td>"
            f"<td>{escape(r_sv)} / {escape(r_en)}</td>"
            f"<td class=\"num\">{c.weight:.1f}</td>"
            "<td></td>"
            "</tr>")
    heads = [("Datum", "Date"), ("Tid", "Time"), ("Plats", "Site"), ("Riktning", "Direction"),
             ("Enhet", "Unit"), ("Skäl", "Reason"), ("Poäng", "Score"), ("Utfört", "Done")]
    unmet_html = ""
    if unmet:
        items = "".join(f"<li>{escape(u)}</li>" for u in unmet)
        unmet_html = f"<section class=\"unmet\"><h2>{_bi('Ej uppfyllt', 'Not met')}</h2><ul>{items}</ul></section>"
    first = min((c.start for c in controls), default=None)
    last = max((c.end for c in controls), default=None)
    span = f"{first:%Y-%m-%d} – {last:%Y-%m-%d}" if first and last else "–"
    return (
        "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
        f"<title>Kontrollplan {plan_id} / Control plan {plan_id}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_bi(f'Kontrollplan {plan_id}', f'Control plan {plan_id}')}</h1>"
        f"<p>{_bi('Period', 'Period')}: {escape(span)} · "
        f"{_bi('Skapad', 'Created')}: {created_at:%Y-%m-%d %H:%M} UTC ({escape(created_by)}) · "
        f"{_bi('Underlag', 'Data')}: {data_from:%Y-%m-%d} – {data_to:%Y-%m-%d} · "
        f"{_bi('Slumpfrö', 'Seed')}: {seed}</p>"
        f"<h2>{_bi('Kontroller', 'Controls')} ({len(controls)})</h2>"
        "<table><thead><tr>" + "".join(f"<th>{_bi(sv, en)}</th>" for sv, en in heads) + "</tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>" + unmet_html
        + "<footer>Endast för polisen – publiceras inte. / For police use only – not to be published.</footer>"
        "</body></html>\n"
    )


_PAGE = {
    "sv": {"plan": "Kontrollplan", "period": "Period", "status": "Status", "made": "Skapad", "approved": "Godkänd",
           "cols": ("Nr", "Datum", "Tid", "Plats", "Riktning", "Enhet", "Skäl", "Kontrollerade fordon",
                    "Rapporter", "Utfört"),
           "police": "Endast för polisen – publiceras inte.", "unmet": "Ej uppfyllt",
           "states": {"draft": "utkast", "approved": "godkänd", "cancelled": "inställd"},
           "dirs": {"approaching": "mot skylten", "receding": "från skylten", "unknown": "okänd"},
           "reasons": {"score": "poäng", "complaints": "klagomål", "focus street": "fokusgata"}},
    "en": {"plan": "Control plan", "period": "Period", "status": "Status", "made": "Made", "approved": "Approved",
           "cols": ("No.", "Date", "Time", "Site", "Direction", "Unit", "Reason", "Vehicles checked", "Reports",
                    "Done"),
           "police": "For police use only – not to be published.", "unmet": "Not met",
           "states": {"draft": "draft", "approved": "approved", "cancelled": "cancelled"},
           "dirs": {"approaching": "approaching", "receding": "receding", "unknown": "unknown"},
           "reasons": {"score": "score", "complaints": "complaints", "focus street": "focus street"}},
}
_WEEKDAYS = {"sv": WEEKDAYS_SV, "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}

_PAGE_CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0; color: #111; font-size: 10pt; }
h1 { font-size: 15pt; margin: 0 0 0.2em; }
.police { border: 2px solid #a00; color: #a00; font-weight: bold; padding: 0.2em 0.5em; display: inline-block; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin-top: 0.6em; }
th, td { border: 1px solid #777; padding: 0.25em 0.35em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #eee; font-size: 9pt; }
td.write { height: 2.2em; }
col.n { width: 5%; } col.d { width: 10%; } col.t { width: 10%; } col.s { width: 22%; } col.r { width: 10%; }
col.u { width: 5%; } col.w { width: 10%; } col.v { width: 10%; } col.p { width: 9%; } col.x { width: 9%; }
tr { break-inside: avoid; }
footer { margin-top: 1em; font-size: 9pt; }
@media print { th { print-color-adjust: exact; } }
"""


def plan_page(view, page_url: str = "") -> str:
    """A stored plan (planner.planning.PlanView) as a printable A4 page in its language, with room to
    write vehicles checked and reports per control, marked police-only. Pure: returns a string."""
    w = _PAGE.get(view.language, _PAGE["sv"])
    days = _WEEKDAYS.get(view.language, WEEKDAYS_SV)
    rows = []
    for c in view.controls:
        done = "✓" if c.control_id else ""
        rows.append(
            f"<tr><td>{c.id}</td><td>{days[c.start.weekday()]} {c.start:%Y-%m-%d}</td>"
            f"<td>{c.start:%H:%M}–{c.end:%H:%M}</td>"
            f"<td>{escape(c.site_name)}<br><small>{escape(c.street)}</small></td>"
            f"<td>{escape(w['dirs'].get(c.direction, c.direction))}</td><td>{c.unit}</td>"
            f"<td>{escape(w['reasons'].get(c.reason, c.reason))}</td>"
            f"<td class=\"write\"></td><td class=\"write\"></td><td>{done}</td></tr>")
    cols = "".join(f"<col class=\"{k}\">" for k in "ndtsruwvpx")
    heads = "".join(f"<th>{escape(h)}</th>" for h in w["cols"])
    zone = view.controls[0].start.tzinfo if view.controls else None
    made = view.created_at.astimezone(zone) if zone else view.created_at
    status = w["states"].get(view.status, view.status)
    if view.approved_by and view.approved_at:
        at = view.approved_at.astimezone(zone) if zone else view.approved_at
        status += f" ({w['approved']} {escape(view.approved_by)} {at:%Y-%m-%d %H:%M %Z})"
    unmet = ""
    if view.unmet:
        unmet = f"<h2>{escape(w['unmet'])}</h2><ul>" + "".join(f"<li>{escape(u)}</li>" for u in view.unmet) + "</ul>"
    link = f" · <a href=\"{escape(page_url)}\">{escape(page_url)}</a>" if page_url else ""
    return (
        f"<!DOCTYPE html>\n<html lang=\"{escape(view.language)}\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(w['plan'])} {view.plan_id}</title><style>{_PAGE_CSS}</style></head><body>"
        f"<p class=\"police\">{escape(w['police'])}</p>"
        f"<h1>{escape(w['plan'])} {view.plan_id}</h1>"
        f"<p>{escape(w['period'])}: {view.first_day} – {view.last_day} ({escape(view.time_zone)}) · "
        f"{escape(w['status'])}: {status} · {escape(w['made'])}: {made:%Y-%m-%d %H:%M %Z} "
        f"({escape(view.created_by)}){link}</p>"
        f"<table><colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{unmet}<footer class=\"police\">{escape(w['police'])}</footer></body></html>\n")
