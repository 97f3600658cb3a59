"""The upload hot path (api/ingest/fast_passes.py) accepts only what pydantic accepts, with the
same values, and does accept what the forwarder sends."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.ingest import fast_passes
from api.ingest.models import PassBatch
from collector.forward import ingest_body
from collector.passes import Direction, VehiclePass, pass_key


def _pydantic(body: bytes) -> PassBatch | None:
    try:
        return PassBatch.model_validate_json(body)
    except ValidationError:
        return None


def _same(body: bytes) -> None:
    """The fast path either declines or gives exactly pydantic's batch."""
    fast, slow = fast_passes.decode(body), _pydantic(body)
    if fast is None:
        return
    assert slow is not None, f"the fast path accepted what pydantic refuses: {body[:300]!r}"
    assert (fast.batch_id, fast.sign, len(fast.passes)) == (slow.batch_id, slow.sign, len(slow.passes))
    for t, p, q in zip(fast.times, fast.passes, slow.passes, strict=True):
        assert t == q.time and t.utcoffset() == q.time.utcoffset()
        assert (p.speed_kmh, p.direction, p.length_m, p.key) == (q.speed_kmh, q.direction, q.length_m, q.key)
        assert type(p.speed_kmh) is type(q.speed_kmh) is float


def test_the_forwarders_body_takes_the_fast_path_with_pydantics_values():
    now = datetime.now(UTC)
    passes = [VehiclePass(now - timedelta(seconds=i * 7.3), 40.0 + i / 10, Direction(i % 3), sign_id=1,
                          length_m=None if i % 2 else 4.5, key=pass_key("t", i)) for i in range(100)]
    body = json.dumps(ingest_body(uuid.uuid4(), "S-1", passes)).encode()
    assert fast_passes.decode(body) is not None
    _same(body)


GOOD = {"time": "2026-05-01T12:00:00.25Z", "speed_kmh": 47, "key": "0b0c7a52-3f43-4a5e-9f0b-6f1f3e8c2d11"}


@pytest.mark.parametrize("change", [
    {"time": "2026-05-01 12:00:00Z"}, {"time": "2026-05-01t12:00:00Z"}, {"time": "2026-05-01T12:00:00z"},
    {"time": "2026-05-01T12:00:00"}, {"time": "2026-05-01T12:00Z"}, {"time": "2026-02-30T12:00:00Z"},
    {"time": "2026-05-01T24:00:00Z"}, {"time": "2026-05-01T23:59:60Z"}, {"time": "2026-05-01T12:00:00.1234567Z"},
    {"time": "2026-05-01T12:00:00+24:00"}, {"time": "0000-05-01T12:00:00Z"}, {"time": "20260501T120000Z"},
    {"time": 1777636800}, {"time": "2026-05-01T12:00:00Z\n2026-05-01T12:00:00Z"}, {"time": "٢٠٢٦-05-01T12:00:00Z"},
    {"speed_kmh": "47"}, {"speed_kmh": True}, {"speed_kmh": 1e400}, {"speed_kmh": None}, {"length_m": 1e400},
    {"direction": "north"}, {"direction": None}, {"key": "not-a-uuid"}, {"key": 5}, {"extra": 1},
    {"key": "0b0c7a523f434a5e9f0b6f1f3e8c2d11"}, {"key": "0B0C7A52-3F43-4A5E-9F0B-6F1F3E8C2D11"},
    {"time": "2026-05-01T12:00:00.5-05:30"}, {"length_m": 0}, {"direction": "approaching"},
])
def test_edge_cases_are_pydantics_decision(change):
    record = {**GOOD, **change}
    body = json.dumps({"batch_id": str(uuid.uuid4()), "sign": "S-1", "passes": [GOOD, record]}).encode()
    _same(body)
    if fast_passes.decode(body) is None:
        return
    assert change.keys() <= {"key", "time", "length_m", "direction"}  # only the plainly valid ones get here


@pytest.mark.parametrize("body", [b"", b"[]", b"null", b'{"batch_id": "x"}', b'{"batch_id": "38614254-da0c-455a-abf5-2f8cd23c2267", '
                                  b'"sign": 1, "passes": []}',
                                  b'\xef\xbb\xbf{"batch_id": "38614254-da0c-455a-abf5-2f8cd23c2267", "sign": "a", '
                                  b'"passes": []}'])
def test_bodies_that_are_not_a_batch_are_left_to_pydantic(body):
    _same(body)


_digits = st.text("0123456789", min_size=1, max_size=4)
_time = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).map(
        lambda d: d.isoformat().replace("+00:00", "Z")),
    st.builds(lambda y, mo, d, h, mi, s, f, z: f"{y}-{mo}-{d}T{h}:{mi}:{s}{f}{z}",
              _digits, _digits, _digits, _digits, _digits, _digits,
              st.sampled_from(["", ".", ".1", ".123456", ".1234567"]), st.sampled_from(["Z", "+01:00", "-23:59", ""])),
    st.text(max_size=30))
_number = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**70, 2**70), st.booleans(),
                    st.none(), st.text(max_size=5))
_record = st.fixed_dictionaries(
    {"time": _time, "speed_kmh": _number, "key": st.one_of(st.uuids().map(str), st.text(max_size=40))},
    optional={"direction": st.sampled_from(["approaching", "receding", "unknown", "x", None]),
              "length_m": _number, "colour": st.just("red")})


@settings(max_examples=300, deadline=None)
@given(st.lists(_record, max_size=5), st.one_of(st.text(max_size=5), st.integers()))
def test_generated_bodies_never_disagree_with_pydantic(records, sign):
    _same(json.dumps({"batch_id": str(uuid.uuid4()), "sign": sign, "passes": records}).encode())
