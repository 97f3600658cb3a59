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
