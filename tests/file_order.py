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
# without the one-off seeding of the demo template). A file not listed counts 0.3 s a test.
FILE_SECONDS = {
    "test_schema_fuzz.py": 254,
    "test_users_cli.py": 184,
    "test_stats_binned.py": 143,
    "browser/test_public_pages.py": 140,
    "test_constraints.py": 139,
    "test_auth.py": 137,
    "test_demo.py": 134,
    "browser/test_technician_pages.py": 124,
    "test_import_corpus.py": 122,
    "collector/test_decoder_corpus.py": 122,
    "test_ops.py": 104,
    "browser/test_officer_pages.py": 97,
    "planner_db/test_cell_cache_db.py": 96,
    "planner_db/test_day_totals_db.py": 88,
    "test_ingest_http.py": 84,
    "test_write_path.py": 84,
    "collector/test_cli_collector.py": 65,
    "test_setup_cli.py": 65,
    "planner/test_schedule.py": 64,
    "test_bench_api.py": 56,
    "test_bench_web.py": 55,
    "test_figures_api.py": 52,
    "test_localdb.py": 52,
    "test_live.py": 52,
    "test_bench_live.py": 50,
    "browser/test_admin_pages.py": 49,
    "test_setup.py": 48,
    "browser/test_staff_pages.py": 48,
    "browser/test_citizen_pages.py": 46,
    "planner_db/test_planner_cli_db.py": 45,
    "test_bench_read.py": 40,
    "test_measures.py": 40,
    "test_settings.py": 38,
    "test_import_fuzz.py": 37,
    "collector/test_runner.py": 37,
    "browser/test_plan_page.py": 34,
    "test_ingest_concurrency.py": 33,
    "test_promise_setbased.py": 31,
    "test_siteoverview_setbased.py": 30,
    "collector/test_forward.py": 29,
    "test_access_matrix.py": 26,
    "test_plans_api.py": 26,
    "test_read_fast_pipeline.py": 25,
    "test_live_demo.py": 24,
    "collector/test_end_to_end.py": 22,
    "test_officer_api.py": 22,
    "planner_db/test_planner_followup_db.py": 22,
    "test_report_pdf.py": 22,
    "test_jobs_cells.py": 22,
    "test_technician_flow.py": 22,
    "planner/test_cellweeks.py": 21,
    "test_import_toronto.py": 20,
    "collector/test_cabinet_cli.py": 20,
    "test_report_meeting.py": 20,
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
