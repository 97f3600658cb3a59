"""The web benchmark end to end on a tiny load: the demo seeded into a scratch database, a real
`fartkoll serve`, every public page and its API call answered 200 (a refusal raises), each page's
weight counted from the files it loads (figures are printed, not asserted)."""

from fartkoll.bench.web import GOAL_KB, GOAL_MS, WebFigures, run


def test_bench_web_runs_tiny(server_url):
    figures = run(server_url, weeks=1, rounds=2)
    assert isinstance(figures, WebFigures)
    names = [k.name for k in figures.kinds]
    assert names[:2] == ["map /", "site /sites/{id}"] and len(names) == 5
    for k in figures.kinds:
        per = figures.sites if k.name.startswith(("site", "past")) else 1
        assert len(k.page.first_ms) == per and len(k.page.later_ms) == per  # round 1 first, round 2 later
        assert len(k.api.first_ms) + len(k.api.later_ms) == 2 * per
        assert k.weight_bytes > 1000
    site = figures.kinds[1]
    assert site.parts >= 4  # the HTML, site.css, htmx and the partial it loads
    text = figures.report()
    for label in ("p95", "first p95", "weight", "API call it rests on", f"< {GOAL_MS:.0f} ms", f"< {GOAL_KB:.0f} kB"):
        assert label in text
    print(text)
