"""planner.cellweeks: running totals per hour-of-week cell, packed a week to a row (pure, no database)."""

import struct

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from planner.cellweeks import (
    CELL,
    HOURS,
    ROW_BYTES,
    SUMMED,
    CellWeeksError,
    difference,
    empty_cells,
    pack,
    row_bytes,
    running_totals,
    totals_at,
)

FIELDS = ("n", "rows", "weeks", "t0", "t1", "ta", "tb", "e0", "e1")
"""CELL's fields in order, written out so a reordering of CELL fails the tests."""
VALUES = ("n", "t0", "t1", "ta", "tb", "e0", "e1")
"""The rollup values in the order the test tuples give them (after series, week, how)."""
INT32_SUMMED = ("n", "t0", "t1", "ta", "tb")
SUN_02 = 6 * 24 + 2  # Sunday 02:00–02:59 local: twice on the night clocks go back


def rollups(rows):
    """running_totals' arguments from (series, week, how, n, t0, t1, ta, tb, e0, e1) tuples."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * 10
    assert len(cols) == 10
    series, week, how = (np.array(c, dtype=np.int64) for c in cols[:3])
    values = {f: np.array(c, dtype=np.int64) for f, c in zip(VALUES, cols[3:], strict=True)}
    return series, week, how, values


def cells(spec):
    """168 cells of CELL from {hour: (n, rows, weeks, t0, t1, ta, tb, e0, e1)}; others zero."""
    out = np.zeros(HOURS, dtype=CELL)
    for h, vals in spec.items():
        out[h] = vals
    return out


def assert_cells_equal(actual, expected):
    assert actual.dtype == CELL and actual.shape == expected.shape
    for f in FIELDS:
        np.testing.assert_array_equal(actual[f], expected[f], err_msg=f"field {f}")


# --- layout -----------------------------------------------------------------------------------

def test_cell_layout_is_44_little_endian_bytes_without_padding():
    assert CELL.names == FIELDS
    assert CELL.itemsize == 44 == struct.calcsize("<7i2q")
    assert HOURS == 168 and ROW_BYTES == 168 * 44
    assert set(SUMMED) == set(VALUES) == set(FIELDS) - {"rows", "weeks"}


def test_pack_writes_cells_in_hour_order_little_endian():
    row = cells({1: (7, 2, 1, 3, 4, 5, 6, 2 ** 40, 9), 167: (1, 1, 1, 0, 0, 0, 0, 0, 0)})
    b = pack(row)
    assert len(b) == ROW_BYTES
    assert b[:44] == bytes(44)
    assert struct.unpack("<7i2q", b[44:88]) == (7, 2, 1, 3, 4, 5, 6, 2 ** 40, 9)
    assert struct.unpack("<7i2q", b[167 * 44:]) == (1, 1, 1, 0, 0, 0, 0, 0, 0)
    assert b[88:167 * 44] == bytes(165 * 44)


def test_empty_cells():
    assert empty_cells().shape == (0, HOURS)
    z = empty_cells(3)
    assert z.shape == (3, HOURS) and z.dtype == CELL and pack(z) == bytes(3 * ROW_BYTES)


# --- running_totals, by hand ------------------------------------------------------------------

# Series 7 has rollups in weeks 100, 101 and 103 (none in 102); week 103 holds the night clocks go
# back, so Sunday 02 occurs twice (two rollups, one cell). Series 3 has one rollup, in week 101.
# Input deliberately unsorted.
#        series week how  n  t0 t1 ta tb e0 e1
EXAMPLE = [
    (7, 103, SUN_02, 3, 1, 1, 1, 1, 4, 3),
    (7, 100, 0, 10, 2, 1, 3, 1, 5, 2),
    (3, 101, 167, 8, 3, 2, 4, 2, 9, 5),
    (7, 101, 0, 6, 1, 0, 2, 1, 3, 1),
    (7, 100, 5, 4, 0, 0, 1, 0, 0, 0),
    (7, 103, 5, 1, 0, 0, 1, 0, 0, 0),
    (7, 103, SUN_02, 2, 0, 0, 1, 0, 0, 0),
]
# cells, in CELL order:  n rows weeks t0 t1 ta tb e0 e1
S3_W101 = {167: (8, 1, 1, 3, 2, 4, 2, 9, 5)}
S7_W100 = {0: (10, 1, 1, 2, 1, 3, 1, 5, 2),
           5: (4, 1, 1, 0, 0, 1, 0, 0, 0)}
S7_W101 = {0: (16, 2, 2, 3, 1, 5, 2, 8, 3),
           5: (4, 1, 1, 0, 0, 1, 0, 0, 0)}
S7_W103 = {0: (16, 2, 2, 3, 1, 5, 2, 8, 3),
           5: (5, 2, 2, 0, 0, 2, 0, 0, 0),
           SUN_02: (5, 2, 1, 1, 1, 2, 1, 4, 3)}


def test_hand_computed_example():
    wr = running_totals(*rollups(EXAMPLE))
    assert len(wr) == 4
    assert wr.series.tolist() == [3, 7, 7, 7]
    assert wr.week.tolist() == [101, 100, 101, 103]  # (series, week) order; no row for the gap week 102
    assert wr.cum.shape == (4, HOURS)
    for i, spec in enumerate([S3_W101, S7_W100, S7_W101, S7_W103]):
        assert_cells_equal(wr.cum[i], cells(spec))


def test_fall_back_night_counts_two_rows_in_one_week():
    wr = running_totals(*rollups([r for r in EXAMPLE if r[2] == SUN_02]))
    assert wr.series.tolist() == [7] and wr.week.tolist() == [103]
    c = wr.cum[0][SUN_02]
    assert (c["n"], c["rows"], c["weeks"]) == (5, 2, 1)


def test_base_is_added_to_every_row_of_its_series_only():
    base7 = cells({0: (100, 5, 3, 10, 4, 20, 8, 50, 20),
                   SUN_02: (7, 2, 2, 1, 0, 1, 0, 3, 0),
                   90: (1, 1, 1, 1, 1, 1, 1, 1, 1)})
    base9 = cells({0: (999, 9, 9, 9, 9, 9, 9, 9, 9)})  # a series without rollups: no row
    wr = running_totals(*rollups(EXAMPLE), base={7: base7, 9: base9})
    assert wr.series.tolist() == [3, 7, 7, 7] and wr.week.tolist() == [101, 100, 101, 103]
    assert_cells_equal(wr.cum[0], cells(S3_W101))  # series 3 has no base
    b90 = (1, 1, 1, 1, 1, 1, 1, 1, 1)
    assert_cells_equal(wr.cum[1], cells({
        0: (110, 6, 4, 12, 5, 23, 9, 55, 22),
        5: (4, 1, 1, 0, 0, 1, 0, 0, 0),
        SUN_02: (7, 2, 2, 1, 0, 1, 0, 3, 0),
        90: b90}))
    assert_cells_equal(wr.cum[2], cells({
        0: (116, 7, 5, 13, 5, 25, 10, 58, 23),
        5: (4, 1, 1, 0, 0, 1, 0, 0, 0),
        SUN_02: (7, 2, 2, 1, 0, 1, 0, 3, 0),
        90: b90}))
    assert_cells_equal(wr.cum[3], cells({
        0: (116, 7, 5, 13, 5, 25, 10, 58, 23),
        5: (5, 2, 2, 0, 0, 2, 0, 0, 0),
        SUN_02: (12, 4, 3, 2, 1, 3, 1, 7, 3),
        90: b90}))


def test_base_does_not_leak_into_the_next_series():
    # series 1 (with base) precedes series 2 (without) in the output
    rows = [(1, 5, 0, 1, 0, 0, 0, 0, 0, 0), (2, 5, 0, 2, 0, 0, 0, 0, 0, 0),
            (2, 6, 0, 3, 0, 0, 0, 0, 0, 0)]
    wr = running_totals(*rollups(rows), base={1: cells({0: (40, 4, 4, 0, 0, 0, 0, 0, 0)})})
    assert wr.series.tolist() == [1, 2, 2]
    assert wr.cum["n"][:, 0].tolist() == [41, 2, 5]
    assert wr.cum["rows"][:, 0].tolist() == [5, 1, 2]
    assert wr.cum["weeks"][:, 0].tolist() == [5, 1, 2]


def test_empty_input():
    wr = running_totals(np.zeros(0), np.zeros(0), np.zeros(0), {f: np.zeros(0, np.int64) for f in SUMMED})
    assert len(wr) == 0
    assert wr.series.shape == (0,) and wr.week.shape == (0,)
    assert wr.cum.shape == (0, HOURS) and wr.cum.dtype == CELL


def test_empty_input_with_base():
    wr = running_totals(*rollups([]), base={1: cells({0: (1, 1, 1, 0, 0, 0, 0, 0, 0)})})
    assert len(wr) == 0 and wr.cum.shape == (0, HOURS)


def test_e_fields_are_exact_in_64_bits():
    big = 2 ** 53  # float64 would round big + 1 down to big
    rows = [(1, 1, 0, 1, 0, 0, 0, 0, big, 3 * 2 ** 40),
            (1, 1, 0, 1, 0, 0, 0, 0, 1, 2 ** 40)]
    wr = running_totals(*rollups(rows))
    assert int(wr.cum[0][0]["e0"]) == big + 1
    assert int(wr.cum[0][0]["e1"]) == 2 ** 42


# --- running_totals, errors -------------------------------------------------------------------

@pytest.mark.parametrize("field", INT32_SUMMED)
def test_32_bit_overflow_names_the_field(field):
    i = VALUES.index(field)
    r1, r2 = [1, 10, 3] + [0] * 7, [1, 11, 3] + [0] * 7
    r1[3 + i], r2[3 + i] = 2 ** 31 - 1, 1  # reached in week 11's running total
    with pytest.raises(CellWeeksError, match=rf"\b{field}\b.*2147483648"):
        running_totals(*rollups([tuple(r1), tuple(r2)]))


@pytest.mark.parametrize("field", INT32_SUMMED)
def test_32_bit_maximum_itself_fits(field):
    i = VALUES.index(field)
    r1, r2 = [1, 10, 3] + [0] * 7, [1, 11, 3] + [0] * 7
    r1[3 + i], r2[3 + i] = 2 ** 31 - 2, 1
    wr = running_totals(*rollups([tuple(r1), tuple(r2)]))
    assert int(wr.cum[1][3][field]) == 2 ** 31 - 1


def test_overflow_through_the_base():
    base = cells({3: (2 ** 31 - 1, 0, 0, 0, 0, 0, 0, 0, 0)})
    with pytest.raises(CellWeeksError, match=r"\bn\b"):
        running_totals(*rollups([(1, 10, 3, 1, 0, 0, 0, 0, 0, 0)]), base={1: base})


def test_rows_count_overflow_through_the_base():
    base = cells({3: (0, 2 ** 31 - 1, 0, 0, 0, 0, 0, 0, 0)})
    with pytest.raises(CellWeeksError, match=r"\brows\b"):
        running_totals(*rollups([(1, 10, 3, 0, 0, 0, 0, 0, 0, 0)]), base={1: base})


def test_64_bit_fields_may_pass_32_bits():
    wr = running_totals(*rollups([(1, 10, 3, 0, 0, 0, 0, 0, 2 ** 40, 2 ** 33)]))
    assert int(wr.cum[0][3]["e0"]) == 2 ** 40 and int(wr.cum[0][3]["e1"]) == 2 ** 33


@pytest.mark.parametrize("bad", [-1, 168, 1000])
def test_hour_of_week_outside_range(bad):
    rows = [(1, 10, 0, 1, 0, 0, 0, 0, 0, 0), (1, 10, bad, 1, 0, 0, 0, 0, 0, 0)]
    with pytest.raises(CellWeeksError, match=rf"hour-of-week {bad} is outside 0\.\.167"):
        running_totals(*rollups(rows))


def test_hours_0_and_167_are_inside():
    rows = [(1, 10, 0, 1, 0, 0, 0, 0, 0, 0), (1, 10, 167, 2, 0, 0, 0, 0, 0, 0)]
    wr = running_totals(*rollups(rows))
    assert wr.cum["n"][0, [0, 167]].tolist() == [1, 2] and int(wr.cum["n"][0].sum()) == 3


# --- row_bytes / totals_at / difference -------------------------------------------------------

def _row(seed):
    """A row with distinct values in every field of every cell."""
    out = np.zeros(HOURS, dtype=CELL)
    for k, f in enumerate(FIELDS):
        out[f] = seed * 1_000_000 + k * 1000 + np.arange(HOURS)
    return out


def test_row_bytes_whole_row():
    b = pack(_row(1))
    assert row_bytes(b, None, False) == b
    assert_cells_equal(totals_at(b, None, False), _row(1))


@pytest.mark.parametrize("h", [0, 1, 50, 167, 168])
def test_row_bytes_split_takes_head_from_this_week_and_rest_from_the_previous_row(h):
    this, prev = pack(_row(2)), pack(_row(1))
    got = totals_at(this[:h * 44], prev[h * 44:], True)
    assert_cells_equal(got[:h], _row(2)[:h])
    assert_cells_equal(got[h:], _row(1)[h:])


@pytest.mark.parametrize("h", [0, 1, 167, 168])
def test_row_bytes_split_without_previous_row_is_zero_after_the_boundary(h):
    got = totals_at(pack(_row(2))[:h * 44], None, True)
    assert_cells_equal(got[:h], _row(2)[:h])
    assert_cells_equal(got[h:], np.zeros(HOURS - h, dtype=CELL))


def test_totals_at_is_writable_copy():
    b = pack(_row(1))
    t = totals_at(b, None, False)
    t["n"][0] = -5
    assert totals_at(b, None, False)["n"][0] == _row(1)["n"][0]


@pytest.mark.parametrize("head_len", [0, 44, ROW_BYTES - 1, ROW_BYTES + 44])
def test_row_bytes_whole_row_of_wrong_length(head_len):
    with pytest.raises(CellWeeksError, match=rf"{ROW_BYTES} bytes, got {head_len}"):
        row_bytes(bytes(head_len), None, False)


@pytest.mark.parametrize("head_len, rest_len", [(43, ROW_BYTES - 43), (44, ROW_BYTES - 88), (44, ROW_BYTES),
                                                (88, 0)])
def test_row_bytes_split_slices_that_do_not_make_a_row(head_len, rest_len):
    with pytest.raises(CellWeeksError, match=rf"{head_len} \+ {rest_len} bytes"):
        row_bytes(bytes(head_len), bytes(rest_len), True)


def test_row_bytes_split_misaligned_head_without_previous_row():
    with pytest.raises(CellWeeksError):
        row_bytes(bytes(45), None, True)


def test_row_bytes_split_head_longer_than_a_row_without_previous_row():
    with pytest.raises(CellWeeksError):
        row_bytes(bytes(ROW_BYTES + 44), None, True)


def test_difference_per_field_in_64_bits():
    later = cells({4: (2 ** 31 - 1, 9, 3, 7, 6, 5, 4, 2 ** 40, 8)})
    earlier = cells({4: (-1, 4, 1, 2, 2, 2, 2, 1, 3)})
    d = difference(later, earlier)
    assert set(d) == set(FIELDS)
    for f in FIELDS:
        assert d[f].shape == (HOURS,)
        assert d[f].dtype == np.int64
    expected = {"n": 2 ** 31, "rows": 5, "weeks": 2, "t0": 5, "t1": 4, "ta": 3, "tb": 2, "e0": 2 ** 40 - 1,
                "e1": 5}
    for f, v in expected.items():
        assert d[f][4] == v, f
        assert not np.delete(d[f], 4).any(), f


def test_difference_of_two_rows_of_the_hand_example():
    wr = running_totals(*rollups(EXAMPLE))
    d = difference(wr.cum[3], wr.cum[1])  # series 7: weeks 101..103
    assert d["n"][[0, 5, SUN_02]].tolist() == [6, 1, 5]
    assert d["rows"][[0, 5, SUN_02]].tolist() == [1, 1, 2]
    assert d["weeks"][[0, 5, SUN_02]].tolist() == [1, 1, 1]
    assert int(d["n"].sum()) == 12


# --- properties against direct sums -----------------------------------------------------------

ONE_HOT_HOURS = np.arange(HOURS)
NO_EXPLAIN = [p for p in Phase if p is not Phase.explain]  # the explain phase adds ~10 s to a failure


def direct(series, week, how, values, select):
    """168 cells summed straight from the rollup rows where ``select`` (a row mask) holds."""
    out = np.zeros(HOURS, dtype=CELL)
    in_cell = select[:, None] & (how[:, None] == ONE_HOT_HOURS)  # (rows, 168)
    for f in SUMMED:
        v = values[f]
        out[f] = np.where(in_cell, v[:, None], np.zeros((), v.dtype)).sum(axis=0)
    out["rows"] = in_cell.sum(axis=0)
    out["weeks"] = sum((in_cell & (week == w)[:, None]).any(axis=0).astype(np.int64) for w in set(week.tolist()))
    return out


rollup_row = st.tuples(
    st.sampled_from([3, 7, 12_345_678]),  # series
    st.integers(2900, 2908),  # week
    st.one_of(st.integers(0, 3), st.sampled_from([SUN_02, 167]), st.integers(0, 167)),  # hour-of-week
    *[st.integers(0, 10_000)] * 5,  # n, t0, t1, ta, tb
    *[st.integers(0, 2 ** 45)] * 2)  # e0, e1


@settings(max_examples=150, deadline=None, phases=NO_EXPLAIN)
@given(rows=st.lists(rollup_row, max_size=40), base_seed=st.none() | st.integers(0, 2 ** 32 - 1))
def test_each_row_is_the_direct_sum_through_its_week(rows, base_seed):
    series, week, how, values = rollups(rows)
    base = {}
    if base_seed is not None:  # bases for two of the three series
        rng = np.random.default_rng(base_seed)
        for s in (3, 7):
            b = np.zeros(HOURS, dtype=CELL)
            for f in FIELDS:
                b[f] = rng.integers(0, 1000, HOURS)
            base[s] = b
    wr = running_totals(series, week, how, values, base)
    pairs = sorted(set(zip(series.tolist(), week.tolist(), strict=True)))
    assert list(zip(wr.series.tolist(), wr.week.tolist(), strict=True)) == pairs
    for i, (s, w) in enumerate(pairs):
        expected = direct(series, week, how, values, (series == s) & (week <= w))
        if s in base:
            for f in FIELDS:
                expected[f] += base[s][f]
        assert_cells_equal(wr.cum[i], expected)


@settings(max_examples=150, deadline=None, phases=NO_EXPLAIN)
@given(rows=st.lists(rollup_row, min_size=1, max_size=40), data=st.data())
def test_difference_of_two_rows_is_the_direct_sum_between_their_weeks(rows, data):
    series, week, how, values = rollups(rows)
    base = {7: _row(1), 3: _row(2)}  # cancels in the difference
    wr = running_totals(series, week, how, values, base)
    s = data.draw(st.sampled_from(sorted(set(series.tolist()))))
    idx = np.flatnonzero(wr.series == s)
    i = data.draw(st.sampled_from(idx.tolist()))
    j = data.draw(st.sampled_from(idx[idx >= i].tolist()))
    d = difference(wr.cum[j], wr.cum[i])
    expected = direct(series, week, how, values, (series == s) & (week > wr.week[i]) & (week <= wr.week[j]))
    for f in FIELDS:
        np.testing.assert_array_equal(d[f], expected[f].astype(d[f].dtype), err_msg=f"field {f}")


@settings(max_examples=200, deadline=None, phases=NO_EXPLAIN)
@given(rows=st.lists(rollup_row, min_size=1, max_size=40), data=st.data())
def test_totals_at_a_boundary_are_the_direct_sum_before_it(rows, data):
    """As cell_totals serves them: the last row at or before week w; split when it is week w's."""
    series, week, how, values = rollups(rows)
    wr = running_totals(series, week, how, values)
    s = data.draw(st.sampled_from(sorted(set(series.tolist()))))
    w = data.draw(st.integers(int(week[series == s].min()), 2910))
    h = data.draw(st.integers(0, HOURS))
    idx = np.flatnonzero((wr.series == s) & (wr.week <= w))
    last = idx[-1]
    if wr.week[last] == w:
        prev = idx[-2] if len(idx) > 1 else None
        head = pack(wr.cum[last])[:h * 44]
        rest = pack(wr.cum[prev])[h * 44:] if prev is not None else None
        got = totals_at(head, rest, True)
    else:
        got = totals_at(pack(wr.cum[last]), None, False)
    # a row counts for cell c if its week is before w, or it is week w's and c is before the boundary hour
    before = (series == s) & ((week < w) | ((week == w) & (how < h)))
    assert_cells_equal(got, direct(series, week, how, values, before))
