"""The ingest benchmark runs end to end on a small load (figures are printed, not asserted)."""

from fartkoll.bench.ingest import IngestFigures, make_passes, run


def test_bench_ingest_loads_every_row_through_each_path(server_url):
    figures = run(server_url, rows=3000, batch=1000, executemany_rows=500, log=lambda m: None)
    assert isinstance(figures, IngestFigures)
    assert figures.rows == 3000 and figures.executemany_rows == 500
    text = figures.report()
    for label in ("write path", "\\copy", "executemany", "ratio"):
        assert label in text


def test_bench_rows_are_deterministic_and_keyed():
    a, b = make_passes(50, site_id=1, seed=3), make_passes(50, site_id=1, seed=3)
    assert a == b
    assert len({p.key for p in a}) == 50
    assert all(a[i].time <= a[i + 1].time for i in range(49))
