"""The column write path against the per-pass path it replaced (``ingest_columns_reference``):
for the same batches the same accepted / duplicate / rejected answers (record, field, value and
message), the same rows in ``readings`` and the same ``rollup_hourly``, re-sent batches included."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from ingest_columns_reference import write_passes as reference
from places import deploy, make_sign, make_site

from collector.columns import PassColumns
from collector.forward import ingest_body
from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.store import write_columns, write_passes

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 10, tzinfo=UTC)
A, R, U = Direction.APPROACHING, Direction.RECEDING, Direction.UNKNOWN

READINGS = ("SELECT time, sign_id, site_id, direction, speed_kmh, display, length_m, idem_key FROM readings "
            "ORDER BY idem_key")
ROLLUPS = ("SELECT site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist, tail, tail2, local_how, local_week, "
           "limit_kmh FROM rollup_hourly ORDER BY site_id, direction, display, hour")


def _answer(r):
    # a refusal names the hypertable's chunk, whose number grows with every run (rolled back or not)
    return (r.received, r.inserted, r.duplicates,
            [(x.index, x.field, repr(x.value), re.sub(r"_hyper_\d+_\d+_chunk", "chunk", x.reason)) for x in r.rejected])


def _run(db, write, batches, received, rule):
    """Answers, rows and rollups after writing ``batches`` one after another; rolled back afterwards."""
    with db.transaction(force_rollback=True):
        answers = [_answer(write(db, b, received=received, rule=rule)) for b in batches]
        return answers, db.execute(READINGS).fetchall(), db.execute(ROLLUPS).fetchall()


def same_as_reference(db, batches, received=RECEIVED, rule=None, columns=None):
    """Write ``batches`` (lists of passes) by both paths; the column path may be given its own
    input per batch (``columns``: the batches as columns, e.g. decoded from an upload)."""
    rule = rule or TimeRule()
    want = _run(db, reference, batches, received, rule)
    if columns is None:
        got = _run(db, write_passes, batches, received, rule)
    else:
        got = _run(db, lambda c, b, **kw: write_columns(c, columns[id(b)](), **kw), batches, received, rule)
    assert got[0] == want[0], "the answers differ"
    assert got[1] == want[1], "the stored readings differ"
    assert got[2] == want[2], "the rollups differ"
    return want


@pytest.fixture
def world(db):
    site, other = make_site(db), make_site(db, "Kungsgatan 3", limit_kmh=30)
    sign, moved, idle = make_sign(db, "SN-1"), make_sign(db, "SN-2"), make_sign(db, "SN-3")
    deploy(db, sign, site, T0 - timedelta(days=1), T0 + timedelta(days=2), display=1)
    deploy(db, moved, site, T0 - timedelta(days=1), T0 + timedelta(hours=2), display=0)
    deploy(db, moved, other, T0 + timedelta(hours=2), None, display=1)
    return {"site": site, "other": other, "sign": sign, "moved": moved, "idle": idle}


def _edge_cases(w):
    s, site = w["sign"], w["site"]
    cet = timezone(timedelta(hours=2))
    at = lambda k: T0 + timedelta(seconds=k)  # noqa: E731
    return [
        VehiclePass(at(1), 48.0, A, sign_id=s),                                        # via deployment
        VehiclePass(at(2), 48.0, A, sign_id=s),                                        # same-looking, own key
        VehiclePass(at(2), 48.0, A, sign_id=s),
        VehiclePass(at(3).astimezone(cet), 51.5, R, sign_id=s),                        # an offset of +02:00
        VehiclePass(at(4), 51, R, site_id=site, display=Display.STEALTH),              # int speed
        VehiclePass(at(5), np.float64(52.25), R, site_id=site, display=Display.STEALTH),  # numpy speed
        VehiclePass(at(6), 40.0, U, site_id=site, display=Display.DISPLAY, length_m=4),  # int length
        VehiclePass(at(7), -5.0, A, sign_id=s),
        VehiclePass(at(8), 0.0, A, sign_id=s),
        VehiclePass(at(9), 300.0, A, sign_id=s),
        VehiclePass(at(10), 299.99999, A, sign_id=s),
        VehiclePass(at(11), 299.99, A, sign_id=s),
        VehiclePass(at(12), 1e-50, A, sign_id=s),
        VehiclePass(at(13), 1e39, A, sign_id=s),
        VehiclePass(at(14), float("inf"), A, sign_id=s),
        VehiclePass(at(15), float("nan"), A, sign_id=s),
        VehiclePass(at(16), 10 ** 400, A, sign_id=s),
        VehiclePass(at(17), True, A, sign_id=s),
        VehiclePass(at(18), "50", A, sign_id=s),
        VehiclePass(at(19), 50.0, A, sign_id=s, length_m=0.0),
        VehiclePass(at(20), 50.0, A, sign_id=s, length_m=40.0),
        VehiclePass(at(21), 50.0, A, sign_id=s, length_m=float("nan")),
        VehiclePass(at(22), 50.0, A, sign_id=s, length_m="4"),
        VehiclePass(at(23), 50.0, 7, sign_id=s),
        VehiclePass(at(24), 50.0, A, site_id=site, display=5),
        VehiclePass(at(25), 50.0, A),                                                  # no site, no sign
        VehiclePass(at(26), 50.0, A, site_id=site),                                    # no display, no sign
        VehiclePass(at(27), 50.0, A, sign_id=424242),
        VehiclePass(at(28), 50.0, A, site_id=424242, display=Display.STEALTH),
        VehiclePass(at(29), 50.0, A, sign_id=w["idle"]),                               # never deployed
        VehiclePass(T0 + timedelta(days=5), 50.0, A, sign_id=s),                       # after its deployment
        VehiclePass(at(30), 50.0, A, sign_id=w["moved"]),                              # first deployment
        VehiclePass(T0 + timedelta(hours=3), 50.0, A, sign_id=w["moved"]),             # after the move
        VehiclePass(T0 + timedelta(hours=2), 50.0, A, sign_id=w["moved"]),             # at the move, exactly
        VehiclePass(at(31), 50.0, A, sign_id=w["moved"], site_id=site),                # site given, display found
        VehiclePass(at(32), 50.0, A, sign_id=s, display=Display.STEALTH),              # display given, site found
        VehiclePass(T0.replace(tzinfo=None), 40.0, A, sign_id=s),                      # naive time
        VehiclePass("2026-03-02T06:00:00Z", 40.0, A, sign_id=s),                       # time as text
        VehiclePass(datetime(1999, 12, 31, 23, 59, tzinfo=UTC), 40.0, A, sign_id=s),   # before the earliest
        VehiclePass(RECEIVED + timedelta(minutes=10), 40.0, A, sign_id=s),             # the margin, exactly
        VehiclePass(RECEIVED + timedelta(minutes=10, microseconds=1), 40.0, A, sign_id=s),
        VehiclePass(at(33), 50.0, A, sign_id=True),                                    # a bool for a sign id
        VehiclePass(at(34), 50.0, A, sign_id=np.int64(s)),                             # a numpy sign id
        VehiclePass(at(35), 50.0, Direction.RECEDING, sign_id=s, key=pass_key("edge", 1)),
        VehiclePass(at(36), 50.0, 2, sign_id=s, key=pass_key("edge", 1)),              # its key again
    ]


def test_edge_cases_answer_store_and_roll_up_alike(db, world):
    batch = _edge_cases(world)
    answers, rows, _ = same_as_reference(db, [batch, batch])  # sent, then re-sent
    first, again = answers
    assert first[1] > 10 and len(first[3]) > 20 and again[1] == 0  # the cases reach both outcomes


def test_keyed_batches_resent_in_other_splits_alike(db, world):
    passes = [VehiclePass(T0 + timedelta(seconds=i * 7), 30.0 + i % 40, Direction(i % 3), sign_id=world["sign"],
                          key=pass_key("split", i)) for i in range(600)]
    same_as_reference(db, [passes[:300], passes[200:], passes[50:80] + passes[50:80], passes])


@pytest.mark.parametrize("seed", range(4))
def test_generated_batches_with_bad_records_alike(db, world, seed):
    rng = np.random.default_rng(seed)
    n = 3000
    secs = rng.uniform(-3 * 86400, 6 * 86400, n)
    speeds = rng.lognormal(np.log(45), 0.35, n)
    speeds[rng.random(n) < 0.02] = rng.choice([-1.0, 0.0, 300.0, 1e40, float("nan")], int((rng.random(n) < 0.02).sum()) or 1)[0]
    who = rng.integers(0, 5, n)
    passes = []
    for i in range(n):
        sign_id, site_id, display = [(world["sign"], None, None), (world["moved"], None, None),
                                     (None, world["site"], Display(int(rng.integers(0, 2)))),
                                     (world["idle"], None, None), (None, world["other"], None)][who[i]]
        passes.append(VehiclePass(T0 + timedelta(seconds=float(secs[i])), float(speeds[i]), Direction(int(rng.integers(0, 3))),
                                  sign_id, site_id, display, float(rng.uniform(2, 20)) if rng.random() < 0.3 else None,
                                  pass_key("gen", seed, i) if rng.random() < 0.7 else None))
    half = n // 2
    same_as_reference(db, [passes[:half], passes, passes[half // 2:]])


@pytest.mark.parametrize("resent", [False, True], ids=["direct-copy", "deduplicating"])
def test_passes_the_database_refuses_alike(db, world, resent):
    rule = TimeRule(earliest=datetime(1900, 1, 1, tzinfo=UTC))
    good = [VehiclePass(T0 + timedelta(seconds=i), 40.0 + i % 30, A, site_id=world["site"], display=Display.STEALTH,
                        key=pass_key("g", i)) for i in range(400)]
    batch = list(good)
    batch.insert(37, VehiclePass(datetime(1985, 5, 1, tzinfo=UTC), 40.0, A, site_id=world["site"], display=Display.STEALTH))
    batch.insert(300, VehiclePass(datetime(2150, 5, 1, tzinfo=UTC), 40.0, A, site_id=world["site"], display=Display.STEALTH))
    batches = [good[:100], batch] if resent else [batch]
    answers, _, _ = same_as_reference(db, batches, received=datetime(2200, 1, 1, tzinfo=UTC), rule=rule)
    assert [x[:2] for x in answers[-1][3]] == [(37, "time"), (300, "time")]


def test_an_upload_decoded_into_columns_is_stored_as_its_passes_would_be(db, world):
    """The upload's route: the body decoded (msgspec) and built into columns for the sign, against
    the pass objects the route used to make of it."""
    from api.ingest import fast_passes
    from api.ingest.models import DIRECTION
    from api.ingest.upload_passes import passes_job

    cet = timezone(timedelta(hours=-5, minutes=-30))
    sign = world["sign"]
    sent = [VehiclePass((T0 + timedelta(seconds=i * 3.3)).astimezone(cet if i % 4 == 0 else UTC), 20.0 + i % 90,
                        Direction(i % 3), length_m=None if i % 3 else 2.5 + i % 7, key=pass_key("up", i))
            for i in range(250)]
    sent[11] = replace(sent[11], speed_kmh=305.5)
    sent[12] = replace(sent[12], time=RECEIVED + timedelta(hours=1))       # refused by the route
    sent[13] = replace(sent[13], time=datetime(1990, 1, 1, tzinfo=UTC))   # refused by the route
    sent[14] = replace(sent[14], time=T0 + timedelta(days=5))             # no deployment then
    body = json.dumps(ingest_body(uuid.uuid4(), "SN-1", sent)).encode()
    decoded = fast_passes.decode(body)
    assert decoded is not None
    job = passes_job(sign, decoded.batch_id, decoded.times, decoded.passes, TimeRule(), RECEIVED, None)
    assert [(r["record"], r["field"]) for r in job.rejected] == [(12, "time"), (13, "time")]
    assert list(job.indices) == [i for i in range(250) if i not in (12, 13)]
    objects = [VehiclePass(t, p.speed_kmh, DIRECTION[p.direction], sign, None, None, p.length_m, p.key)
               for i, (t, p) in enumerate(zip(decoded.times, decoded.passes, strict=True)) if i not in (12, 13)]
    answers, rows, _ = same_as_reference(db, [objects, objects], columns={id(objects): lambda: job.columns})
    assert [x[:2] for x in answers[0][3]] == [(11, "speed_kmh"), (12, "site_id")]  # record 14 is the 12th pass left
    assert len(rows) == 246


def test_a_group_of_column_and_object_jobs_is_one_batch_in_order(db, world):
    """The group commit joins uploads' columns (and a CSV upload's objects) into one batch."""
    a = [VehiclePass(T0 + timedelta(seconds=i), 50.0 + i, A, sign_id=world["sign"], key=pass_key("a", i)) for i in range(5)]
    b = [VehiclePass(T0 + timedelta(seconds=i), 60.0 + i, R, sign_id=world["moved"]) for i in range(5)]  # derived keys
    b[2] = replace(b[2], speed_kmh=True)
    built = PassColumns.build([p.time for p in a], [p.speed_kmh for p in a], [int(p.direction) for p in a],
                              [p.key for p in a], sign_id=world["sign"])
    joined = PassColumns.concat([built, PassColumns.from_passes(b)])
    assert [(p.time, p.speed_kmh, p.sign_id, p.key) for p in joined.passes()] == [
        (p.time, p.speed_kmh, p.sign_id, p.key) for p in a + b]
    both = a + b
    same_as_reference(db, [both, both], columns={id(both): lambda: PassColumns.concat([
        PassColumns.build([p.time for p in a], [p.speed_kmh for p in a], [int(p.direction) for p in a],
                          [p.key for p in a], sign_id=world["sign"]), PassColumns.from_passes(b)])})


def test_live_messages_from_columns_equal_those_from_passes():
    from api.ingest.group_commit import Job, _live_messages
    from api.live import payloads

    t = [T0 + timedelta(milliseconds=123 * k + (k % 7) * 1000) for k in range(400)]
    passes = [VehiclePass(t[k], 30 + (k % 50) / 3, Direction(k % 3), sign_id=1, key=pass_key("l", k)) for k in range(400)]
    jobs = [Job(1, uuid.uuid4(), "passes", 400, passes, list(range(400))),
            Job(2, uuid.uuid4(), "passes", 5, passes[:5], [0, 1, 3, 4, 6]),
            Job(3, uuid.uuid4(), "passes", 3, passes[:3], [0, 1, 2])]
    answers = [{"accepted": 398, "rejected": [{"record": 5}, {"record": 399}]},
               {"accepted": 4, "rejected": [{"record": 2}, {"record": 3}]}, {"accepted": 0, "rejected": []}]
    assert _live_messages(jobs, answers) == payloads(jobs, answers)
