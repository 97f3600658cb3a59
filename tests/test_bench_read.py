"""The read benchmark runs end to end on a tiny load over real HTTP: every request answered 200,
the scan sites' readings cover the whole period and the endpoint's vehicle counts equal the
scan's (figures are printed, not asserted)."""

import math

from fartkoll.bench.read import ReadFigures, run


def test_bench_read_runs_tiny(server_url):
    figures = run(server_url, sites=3, weeks=4, raw_weeks=2, clients=2, requests=3, scans=2, log=lambda m: None)
    assert isinstance(figures, ReadFigures)
    assert figures.readings > 0
    assert figures.counts_agree
    assert figures.fast_equals_plain and len(figures.fast_year_s) == 2
    assert len(figures.stats_year.seconds) == len(figures.series_year.seconds) == 2 * 3
    assert len(figures.stats_alone.seconds) == 3
    assert len(figures.floor.seconds) == 2 * 3
    assert len(figures.scan_year_s) == 2
    text = figures.report()
    for label in ("p50", "p99", "plain SQL over readings, 4 weeks", "faster", "goals", "1 server process",
                  "CPU a request: server", "database", "load average",
                  "/me (reads no figures)", "p99 < 50 ms needs at most"):
        assert label in text
    # the server's CPU is read from /proc and is positive where there is one
    assert figures.stats_year.server_cpu_s > 0 and figures.stats_year.client_cpu_s > 0
    # read at all (not NaN: the database runs here); a tiny load may take under one clock tick (10 ms)
    assert all(math.isfinite(x) and x >= 0 for x in (figures.stats_year.database_cpu_s, figures.floor.server_cpu_s,
                                                       figures.floor.database_cpu_s))
    print(text)
