"""The situation picture's words in Swedish and English, and numbers written the local way."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

from planner.names import DIRECTION_CODES

LANGUAGES = ("sv", "en")

TEXT: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Lägesbild trafiksäkerhet",
        "week": "vecka {week}, {year}",
        "period": "{first} – {last}",
        "generated": "Framtagen {when} av Fartkoll",
        "for_meeting": "Underlag till det gemensamma mötet mellan polis och kommun enligt EST (Effektiv samverkan för trafiksäkerhet). Innehåller inga planerade kontroller.",
        "figures": "Veckan i korthet",
        "vehicles": "fordon uppmätta",
        "stealth_share": "över hastighetsgränsen (dold skylt)",
        "display_share": "över hastighetsgränsen (skylt visar hastighet)",
        "controls": "hastighetskontroller",
        "reports": "rapporterade förare",
        "new_tips": "nya medborgartips",
        "silent": "skyltar som tystnat",
        "top": "Platser och tider att prioritera",
        "top_intro": "Rangordning över de {weeks} veckorna till och med vecka {week}: förväntat antal rapporterbara fordon per 20-minuterskontroll (räknat försiktigt, Wilsons nedre gräns) × allvar × skyddsvärde × tips × trend.",
        "rank": "#", "site": "Plats", "direction": "Riktning", "when": "Tid", "per_hour": "Fordon/h",
        "over_thr": "Över rapporteringsgräns", "reportable": "Rapporterbara per 20 min", "score": "Poäng", "notes": "Anmärkning",
        "school": "skola", "tips_n": "{n} tips", "tips_1": "1 tips",
        "trends": "Utveckling: andel över hastighetsgränsen per vecka",
        "trend_intro": "De högst rankade platserna. Heldragen punkt: dold skylt; ihålig punkt: skylten visade hastigheten (förarna ser sin fart, andelen blir lägre). Lägena blandas aldrig.",
        "this_week": "Vecka {week}", "change": "Förändring (procentenheter)",
        "pp": "{v} procentenheter",
        "controls_title": "Genomförda kontroller och uppmätt effekt",
        "controls_intro": "Kontroller de senaste {weeks} veckorna. Effekt = skillnad i skillnader mot jämförelseplatser i andelen över gränsen, med baslinje från tiden före beslutet om platsen.",
        "method": "Metod", "checked": "Kontrollerade", "reported": "Rapporterade", "during": "Effekt under kontrollen (procentenheter)",
        "week_after": "Effekt veckan efter (procentenheter)", "halo": "Varaktighet", "revisit": "Åter från",
        "planned": "planerad", "unplanned": "oplanerad",
        "days": "{n} dagar", "day_1": "1 dag", "none": "—", "no_controls": "Inga kontroller har loggats under perioden.",
        "silences": "Skyltar som inte rapporterat",
        "silences_intro": "Utplacerade skyltar utan fordon eller livstecken i mer än {hours} timmar under veckan.",
        "sign": "Skylt", "from": "Från", "to": "Till", "hours": "Timmar", "ongoing": "pågår",
        "no_silences": "Alla utplacerade skyltar har rapporterat under veckan.",
        "tips": "Nya medborgartips",
        "received": "Inkom", "place": "Plats", "tip": "Tips", "status": "Status",
        "no_tips": "Inga nya tips under veckan.",
        "status_new": "ny", "status_linked": "kopplad", "status_closed": "avslutad",
        "promise": "Medborgarlöftet: kontroller där medborgare klagat",
        "promise_intro": "Löfte: minst {target} kontroll i veckan vid platser som medborgare tipsat om ({sites}). Uppfyllt {met} av {n} veckor.",
        "promise_none": "Inga platser med medborgartips under perioden.",
        "controls_per_week": "Kontroller per vecka",
        "notes_title": "Att läsa siffrorna",
        "notes_text": "Andel över hastighetsgränsen: fordon med hastighet över gränsen (exakt på gränsen räknas som laglig). Rapporteringsgräns: gränsen + {over} km/h. Siffror med färre än 100 fordon är osäkra och markeras. Fordon räknas, inte radarmätningar.",
        "dir_0": "okänd", "dir_1": "mot skylten", "dir_2": "från skylten",
        "weekdays": "mån tis ons tor fre lör sön",
        "low_sample": "litet underlag",
        "not_significant": "ingen mätbar effekt", "increase": "ökning: fler körde för fort",
        "n_days": "{n} dagar", "baseline_short": "ej beräknad: baslinjen vilar på {n} dagar",
        "best_hours": "Bästa timmar",
        "no_data": "Ingen trafikdata för vecka {week}. Skyltarna har inte rapporterat några fordon under veckan; rangordning och utveckling visas inte.",
        "no_data_latest": "Senaste data: {when}.",
        "limit_change": "{site}: gräns {old} → {new} km/h",
        "return_intro": "Åter från: dagen då effekten klingat av.",
        "checked_reported": "Kontr./rapp.",
        "q1": "för få fordon (< 30)", "q2": "litet underlag (< 100 fordon)", "q4": "skylten mätte < 75 % av timmarna",
        "q8": "dold och synlig skylt blandade", "q16": "skyltens inställda gräns avviker", "q32": "gränsen ändrades under perioden",
        "q64": "bara en vecka med data",
    },
    "en": {
        "title": "Road safety situation picture",
        "week": "week {week}, {year}",
        "period": "{first} – {last}",
        "generated": "Produced {when} by Fartkoll",
        "for_meeting": "For the joint police–municipality meeting under EST (Effektiv samverkan för trafiksäkerhet, effective collaboration for road safety). Contains no planned controls.",
        "figures": "The week at a glance",
        "vehicles": "vehicles measured",
        "stealth_share": "over the speed limit (stealth sign)",
        "display_share": "over the speed limit (sign showing speeds)",
        "controls": "speed controls",
        "reports": "drivers reported",
        "new_tips": "new citizen tips",
        "silent": "signs gone silent",
        "top": "Sites and times to prioritise",
        "top_intro": "Ranking over the {weeks} weeks up to and including week {week}: expected reportable vehicles per 20-minute control (counted conservatively, Wilson lower bound) × severity × vulnerability × tips × trend.",
        "rank": "#", "site": "Site", "direction": "Direction", "when": "Time", "per_hour": "Vehicles/h",
        "over_thr": "Over reporting threshold", "reportable": "Reportable per 20 min", "score": "Score", "notes": "Notes",
        "school": "school", "tips_n": "{n} tips", "tips_1": "1 tip",
        "trends": "Trend: share over the speed limit per week",
        "trend_intro": "The top-ranked sites. Solid point: stealth sign; hollow point: the sign showed speeds (drivers see their speed, the share drops). Modes are never pooled.",
        "this_week": "Week {week}", "change": "Change (percentage points)",
        "pp": "{v} percentage points",
        "controls_title": "Controls held and their measured effect",
        "controls_intro": "Controls in the last {weeks} weeks. Effect = difference in differences against comparison sites in the share over the limit, baseline from before the site was chosen.",
        "method": "Method", "checked": "Checked", "reported": "Reported", "during": "Effect during the control (percentage points)",
        "week_after": "Effect the week after (percentage points)", "halo": "Lasted", "revisit": "Return from",
        "planned": "planned", "unplanned": "unplanned",
        "days": "{n} days", "day_1": "1 day", "none": "—", "no_controls": "No controls were logged in the period.",
        "silences": "Signs not reporting",
        "silences_intro": "Deployed signs without vehicles or a sign of life for more than {hours} hours during the week.",
        "sign": "Sign", "from": "From", "to": "To", "hours": "Hours", "ongoing": "ongoing",
        "no_silences": "Every deployed sign reported during the week.",
        "tips": "New citizen tips",
        "received": "Received", "place": "Site", "tip": "Tip", "status": "Status",
        "no_tips": "No new tips this week.",
        "status_new": "new", "status_linked": "linked", "status_closed": "closed",
        "promise": "Citizen promise: controls where citizens complained",
        "promise_intro": "Promise: at least {target} control a week at sites citizens reported ({sites}). Met in {met} of {n} weeks.",
        "promise_none": "No sites with citizen tips in the period.",
        "controls_per_week": "Controls per week",
        "notes_title": "Reading the figures",
        "notes_text": "Share over the speed limit: vehicles faster than the limit (exactly at the limit is compliant). Reporting threshold: the limit + {over} km/h. Figures from fewer than 100 vehicles are uncertain and marked. Vehicles are counted, not radar readings.",
        "dir_0": "unknown", "dir_1": "approaching", "dir_2": "receding",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "low_sample": "small sample",
        "not_significant": "no measurable effect", "increase": "increase: more drivers speeding",
        "n_days": "{n} days", "baseline_short": "not computed: the baseline rests on {n} days",
        "best_hours": "Best hours",
        "no_data": "No traffic data for week {week}. The signs reported no vehicles this week; the ranking and trends are not shown.",
        "no_data_latest": "Latest data: {when}.",
        "limit_change": "{site}: limit {old} → {new} km/h",
        "return_intro": "Return from: the day the effect has worn off.",
        "checked_reported": "Checked/reported",
        "q1": "too few vehicles (< 30)", "q2": "small sample (< 100 vehicles)", "q4": "sign measured < 75 % of the hours",
        "q8": "stealth and display pooled", "q16": "sign's configured limit differs", "q32": "limit changed in the period",
        "q64": "one week of data only",
    },
}


class Words:
    """Text and number formatting for one language."""

    def __init__(self, lang: str, time_zone: str = "Europe/Stockholm") -> None:
        if lang not in TEXT:
            raise ValueError(f"language {lang!r} is not available; choose one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self.zone = ZoneInfo(time_zone)
        self.t = TEXT[lang]

    def __call__(self, key: str, **kw: object) -> str:
        return self.t[key].format(**kw) if kw else self.t[key]

    def number(self, x: float | int | None, decimals: int = 0) -> str:
        """12 345,6 in Swedish (narrow no-break space, decimal comma), 12,345.6 in English."""
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return self.t["none"]
        s = f"{x:,.{decimals}f}"
        if self.lang == "sv":
            s = s.replace(",", "\u202f").replace(".", ",").replace("-", "−")
        return s

    def percent(self, share: float | None, decimals: int = 0) -> str:
        if share is None or math.isnan(share):
            return self.t["none"]
        return self.number(100 * share, decimals) + "\u00a0%"

    def pp(self, value: float | None, decimals: int = 1) -> str:
        """Signed percentage points, e.g. −4,2."""
        if value is None or math.isnan(value):
            return self.t["none"]
        sign = "+" if value > 0 else ""
        return sign + self.number(value, decimals)

    def day(self, d: date) -> str:
        return d.isoformat()

    def moment(self, t: datetime) -> str:
        """Local date and time with its zone, e.g. 2024-10-15 07:30 CEST."""
        return t.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def days(self, n: int) -> str:
        """'1 dag' / '2 dagar', '1 day' / '2 days'."""
        return self.t["day_1"] if n == 1 else self.t["days"].format(n=n)

    def weekday(self, i: int) -> str:
        return self.t["weekdays"].split()[i]

    def direction(self, d: str) -> str:
        """A direction name (approaching, receding, unknown) in words."""
        return self.t[f"dir_{DIRECTION_CODES[d]}"]

    def quality(self, flags: int) -> list[str]:
        """Readable warnings for planner.quality.Quality bits, in bit order."""
        return [self.t[f"q{bit}"] for bit in (1, 2, 4, 8, 16, 32, 64) if flags & bit]

    def status(self, s: str) -> str:
        return self.t.get(f"status_{s}", s)
