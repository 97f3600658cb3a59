"""The order in which the test files are handed to the xdist workers: longest first.

`make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`, so each worker takes the
next whole file in collection order as it runs low. Longest first keeps a long file from being
left alone at the end of the run while the other worker idles. Only the order depends on these
figures; the same items are collected, in the same order, on every worker.
"""

from __future__ import annotations

from collections import Counter

import pytest

# Seconds each file took in one full run (--durations=0, setup + call + teardown summed per file,
# without the one-off seeding of the demo template). A file not listed counts 0.3 s a test. The
# files whose tests were made faster since have their figure scaled by the before/after ratio of
# that file measured alone on one machine (test_stats_binned.py: measured, with the Toronto import).
FILE_SECONDS = {
    "test_schema_fuzz.py": 290,
    "browser/test_officer_pages.py": 98,
    "browser/test_public_pages.py": 60,
    "planner_db/test_day_totals_db.py": 58,
    "test_demo.py": 54,
    "browser/test_technician_pages.py": 50,
    "test_read_overhead.py": 48,
    "planner_db/test_cell_cache_db.py": 46,
    "browser/test_admin_pages.py": 36,
    "browser/test_citizen_pages.py": 30,
    "test_import_corpus.py": 30,
    "test_ingest_concurrency.py": 29,
    "test_stats_binned.py": 28,
    "test_import_fuzz.py": 28,
    "collector/test_runner.py": 28,
    "test_auth.py": 27,
    "planner/test_schedule.py": 27,
    "test_ops.py": 25,
    "collector/test_decoder_corpus.py": 23,
    "browser/test_staff_pages.py": 22,
    "test_bench_live.py": 22,
    "test_localdb.py": 22,
    "collector/test_end_to_end.py": 22,
    "planner_db/test_followup_store_db.py": 22,
    "test_access_matrix.py": 20,
    "test_users_cli.py": 20,
    "test_setup_cli.py": 20,
    "browser/test_plan_page.py": 19,
    "test_constraints.py": 19,
    "test_technician_flow.py": 18,
    "test_settings.py": 18,
    "collector/test_cli_collector.py": 18,
    "test_officer_api.py": 18,
    "test_bench_read.py": 17,
    "test_bench_api.py": 15,
    "collector/test_forward.py": 15,
    "test_jobs_cells.py": 15,
    "test_live.py": 15,
    "test_bench_web.py": 14,
    "browser/test_site_page.py": 14,
    "test_measures.py": 13,
    "test_report_pdf.py": 12,
    "test_write_path.py": 12,
    "test_ingest_http.py": 11,
    "planner_db/test_planner_followup_db.py": 11,
}


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def longest_files_first(items: list[pytest.Item]) -> None:
    """Sort ``items`` in place by their file's expected seconds, longest first; the items of a
    file keep their order, and files of equal weight their collection order."""
    first: dict[str, int] = {}
    count: Counter[str] = Counter()
    for i, item in enumerate(items):
        first.setdefault(_file(item), i)
        count[_file(item)] += 1

    def weight(f: str) -> float:
        return FILE_SECONDS.get(f.removeprefix("tests/"), 0.3 * count[f])

    items.sort(key=lambda item: (-weight(_file(item)), first[_file(item)]))
