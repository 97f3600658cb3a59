"""Properties of content keys: the same vehicles re-encoded, re-ordered or with other line
endings store nothing new; rows keyed by the file's bytes before content keys do not double."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from places import make_site

from collector.importers.csvfile import CsvOptions, import_csv
from collector.passes import Direction, Display, VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.store import write_passes

T0 = datetime(2024, 5, 6, 7, 0, tzinfo=timezone.utc)
RULE, NOW = TimeRule(), datetime.now(timezone.utc)
OPTS = CsvOptions(unit="kmh", direction_col="direction", length_col="length")
_names = itertools.count()

rows = st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["38", "38.0", "41.25", "50"]),
                          st.sampled_from(["approaching", "receding", "unknown"]), st.sampled_from(["", "4.5", "Övrigt"])),
                min_size=1, max_size=40)
layouts = st.tuples(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252"]), st.sampled_from(["\n", "\r\n"]),
                    st.randoms(use_true_random=False))


def _file(path, data, encoding="utf-8", newline="\n"):
    lines = ["time,speed,direction,length"] + [
        f"{(T0 + timedelta(seconds=s)).isoformat()},{v},{d},{ln if ln != 'Övrigt' else ''}" for s, v, d, ln in data]
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return str(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, layout=layouts)
def test_reencoded_reordered_file_stores_nothing_new(db, tmp_path, data, layout):
    encoding, newline, rnd = layout
    site = f"Site {next(_names)}"
    make_site(db, site)
    first = import_csv(db, _file(tmp_path / "a.csv", data), OPTS, rule=RULE, received=NOW, site=site)
    db.commit()
    assert first.stored == len(data) and not first.rejected       # equal-looking rows are distinct vehicles
    shuffled = list(data)
    rnd.shuffle(shuffled)
    again = import_csv(db, _file(tmp_path / "b.csv", shuffled, encoding, newline),
                       CsvOptions(**{**OPTS.__dict__, "encoding": encoding}), rule=RULE, received=NOW, site=site)
    db.commit()
    assert (again.stored, again.duplicates) == (0, len(data))
    n = db.execute("SELECT count(*) FROM readings r JOIN sites s ON s.id = r.site_id WHERE s.name = %s", (site,)).fetchone()[0]
    assert n == len(data)


def test_rows_keyed_by_the_old_file_hash_do_not_double(db, tmp_path):
    site_id = make_site(db, "Storgatan 12")
    data = [(0, "38", "approaching", ""), (0, "38", "approaching", ""), (5, "41.25", "receding", "")]
    path = _file(tmp_path / "a.csv", data)
    old = [VehiclePass(time=T0 + timedelta(seconds=s), speed_kmh=float(v), direction=Direction.from_name(d),
                       site_id=site_id, display=Display.STEALTH, key=pass_key("csv:0123abcd", n))
           for n, (s, v, d, _) in enumerate(data, start=1)]
    assert write_passes(db, old).inserted == 3                     # as the importer stored them before
    db.commit()
    s = import_csv(db, path, OPTS, rule=RULE, received=NOW, site="Storgatan 12")
    db.commit()
    assert (s.stored, s.duplicates) == (0, 3)
    more = import_csv(db, _file(tmp_path / "b.csv", data + [(0, "38", "approaching", "")]), OPTS, rule=RULE,
                      received=NOW, site="Storgatan 12")
    db.commit()
    assert (more.stored, more.duplicates) == (1, 3)                # a third equal vehicle is new
    assert db.execute("SELECT count(*), (SELECT sum(n) FROM rollup_hourly) FROM readings").fetchone() == (4, 4)
