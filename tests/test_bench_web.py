"""The web benchmark end to end on a tiny load: the demo seeded into a scratch database with the
cells job run, a real `fartkoll serve`, every public and citizen page and its API call answered
200, the staff pages by a viewer logged in through the login form (a refusal raises), each
page's weight counted from the files it loads (figures are printed, not asserted)."""

from fartkoll.bench.web import GOAL_KB, GOAL_MS, WebFigures, run

PUBLIC = ["map /", "site /sites/{id}", "past controls /sites/{id}/controls", "compare /compare?site=…",
          "site CSV /sites/{id}/figures.csv", "promise /promise", "tip form /tips/new"]
STAFF = ["staff site /staff/sites/{id}", "measures /sites/{id}/measures", "archive /staff/reports"]


def test_bench_web_runs_tiny(server_url):
    figures = run(server_url, weeks=1, rounds=2)
    assert isinstance(figures, WebFigures)
    names = [k.name for k in figures.kinds]
    assert names == PUBLIC + STAFF
    assert 0 < figures.staff_sites < figures.sites
    for k in figures.kinds:
        per_site = k.name.startswith(("site ", "past", "staff site", "measures"))
        per = (figures.staff_sites if k.name in STAFF else figures.sites) if per_site else 1
        assert len(k.page.first_ms) == per and len(k.page.later_ms) == per  # round 1 first, round 2 later
        assert len(k.api.first_ms) + len(k.api.later_ms) == (2 * per if k.api_name else 0)
        assert k.weight_bytes > 1000
    site = figures.kinds[1]
    assert site.parts >= 4  # the HTML, site.css, htmx and the partial it loads
    text = figures.report()
    for label in ("p95", "first p95", "weight", "API call it rests on", f"< {GOAL_MS:.0f} ms", f"< {GOAL_KB:.0f} kB",
                  "logged in through /login", "load average"):
        assert label in text
    print(text)
