"""Every importer over random byte mutations of a valid file: a message and exit 0 or 2, never a
traceback. Seeded, a few hundred mutations in all."""

from __future__ import annotations

import json
import random
import traceback

import pytest
from importer_corpus.files import (
    CSV_ROWS,
    MAC,
    csv_text,
    elancity_export,
    toronto_row,
    toronto_text,
    trafficlogix_body,
)
from places import make_site

from fartkoll.cli import main

MUTATIONS = 75


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        op = rnd.random()
        i = rnd.randrange(len(b)) if b else 0
        if op < 0.4 and b:
            b[i] = rnd.randrange(256)
        elif op < 0.6:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
        elif op < 0.8 and b:
            del b[i:i + rnd.randint(1, 64)]
        elif b:
            b = b[:i]
    return bytes(b)


def _valid(kind: str, tmp_path):
    if kind == "csv":
        return "a.csv", csv_text(CSV_ROWS * 5).encode(), ["--unit", "kmh", "--site", "Storgatan 12", "--direction-col", "direction"]
    if kind == "toronto":
        return "wys.csv", toronto_text([toronto_row(i, str(i)) for i in range(1, 6)]).encode(), []
    if kind == "elancity":
        p = elancity_export(tmp_path / "valid.db")
        return f"{MAC}-ELANCITY_RADAR__.db", p.read_bytes(), ["--unit", "kmh"]
    return "tl.json", json.dumps(trafficlogix_body()).encode(), ["--tz", "America/Toronto"]


@pytest.mark.parametrize("kind", ["csv", "toronto", "elancity", "trafficlogix"])
def test_mutations_never_give_a_traceback(kind, db, db_url, tmp_path, monkeypatch, capsys):
    make_site(db, "Storgatan 12")
    db.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    name, valid, args = _valid(kind, tmp_path)
    rnd = random.Random(f"fuzz-{kind}")
    codes = []
    for n in range(MUTATIONS):
        data = _mutate(valid, rnd)
        f = tmp_path / f"m{n}" / name
        f.parent.mkdir()
        f.write_bytes(data)
        try:
            code = main(["import", kind, str(f), *args])
        except BaseException:      # noqa: BLE001 - any escape is the failure this test looks for
            pytest.fail(f"mutation {n} of the {kind} file raised:\n{traceback.format_exc()}\ninput: {data[:300]!r}")
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert code in (0, 2), (n, code, err)
        codes.append(code)
    assert 0 in codes or kind in ("elancity", "trafficlogix")   # text files mostly still import
    with db.cursor() as cur:                           # and what they stored is consistent
        assert cur.execute("SELECT (SELECT coalesce(sum(n), 0) FROM rollup_hourly) = (SELECT count(*) FROM readings) + "
                           "(SELECT coalesce(sum(count), 0) FROM binned_counts WHERE in_rollups)").fetchone()[0]
