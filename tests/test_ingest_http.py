"""Sign uploads over HTTP on a real uvicorn server and a real TimescaleDB: the forwarder's own
body, idempotent re-sends, tokens bound to their sign, limits and bad input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from ingest_signs import upload_sign
from servers import running

from api.app import create_app
from api.ingest.body import MAX_BODY_BYTES, MAX_RECORDS
from collector.forward import ingest_body
from collector.passes import Direction, VehiclePass, pass_key
from fartkoll.settings import Settings

PASSES = "/api/v1/ingest/passes"


BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
"""Fixed once: a pass built twice (a re-send) must have the same time, even if a second ticks in between."""


def recent(i: int) -> datetime:
    return BASE + timedelta(seconds=7 * i)


def vehicles(n: int, ns: str = "t", start: int = 0) -> list[VehiclePass]:
    return [VehiclePass(recent(i), 30.0 + (i % 40), Direction.APPROACHING if i % 3 else Direction.RECEDING,
                        length_m=4.5 if i % 2 else None, key=pass_key(ns, i)) for i in range(start, start + n)]


def stored(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM readings), (SELECT coalesce(sum(n), 0) FROM rollup_hourly)").fetchone()


@pytest.fixture
def server(db_url):
    with running(create_app(Settings(database_url=db_url))) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_the_forwarders_own_body_is_stored_with_site_display_and_rollups(server, db_url):
    sign = upload_sign(db_url, "HTTP-1", display=1)
    passes = vehicles(50)
    batch_id = uuid.uuid4()
    r = server.post(PASSES, json=ingest_body(batch_id, sign.serial, passes), headers=sign.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"batch_id": str(batch_id), "accepted": 50, "duplicates": 0, "rejected": []}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT time, sign_id, site_id, direction, speed_kmh, display, length_m, idem_key "
                            "FROM readings ORDER BY time").fetchall()
        batches = conn.execute("SELECT sign_id, batch_id, kind, sends, records, accepted FROM ingest_batches").fetchall()
    assert [(t, k) for t, *_, k in rows] == [(p.time, p.key) for p in passes]
    assert {(r[1], r[2], r[5]) for r in rows} == {(sign.sign_id, sign.site_id, 1)}
    assert [r[3] for r in rows] == [int(p.direction) for p in passes]
    assert [r[4] for r in rows] == [p.speed_kmh for p in passes]
    assert [r[6] for r in rows] == [p.length_m for p in passes]
    assert stored(db_url) == (50, 50)
    assert batches == [(sign.sign_id, batch_id, "passes", 1, 50, 50)]


def test_a_resent_batch_answers_duplicates_and_stores_nothing_twice(server, db_url):
    sign = upload_sign(db_url, "HTTP-2")
    batch_id = uuid.uuid4()
    body = ingest_body(batch_id, sign.serial, vehicles(30))
    body["passes"][4]["speed_kmh"] = 420.0  # one bad record, refused both times
    first = server.post(PASSES, json=body, headers=sign.headers).json()
    again = server.post(PASSES, json=body, headers=sign.headers).json()
    assert (first["accepted"], first["duplicates"]) == (29, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 29)
    assert first["rejected"] == again["rejected"] == [
        {"record": 4, "field": "speed_kmh", "value": 420.0, "reason": first["rejected"][0]["reason"]}]
    assert "300" in first["rejected"][0]["reason"]
    # half old, half new: exact split
    body2 = ingest_body(uuid.uuid4(), sign.serial, vehicles(30, start=15))
    mixed = server.post(PASSES, json=body2, headers=sign.headers).json()
    assert (mixed["accepted"], mixed["duplicates"]) == (15, 15)
    assert stored(db_url) == (44, 44)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT sends, accepted, rejected FROM ingest_batches WHERE batch_id = %s",
                            (batch_id,)).fetchone() == (2, 29, 1)


def test_a_token_writes_only_for_its_own_sign(server, db_url):
    a, b = upload_sign(db_url, "SIGN-A"), upload_sign(db_url, "SIGN-B")
    r = server.post(PASSES, json=ingest_body(uuid.uuid4(), b.serial, vehicles(3)), headers=a.headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "SIGN-A" in r.json()["detail"] and "SIGN-B" in r.json()["detail"]
    for path, body in (("/api/v1/ingest/heartbeat", {"sign": b.serial, "battery_v": 12.1}),
                       ("/api/v1/ingest/binned", {"batch_id": str(uuid.uuid4()), "sign": b.serial, "bins": []})):
        assert server.post(path, json=body, headers=a.headers).status_code == 403, path
    assert server.post(f"/api/v1/ingest/csv?batch_id={uuid.uuid4()}&sign={b.serial}", content=b"time,speed_kmh\n",
                       headers=a.headers).status_code == 403
    assert stored(db_url) == (0, 0)


def test_missing_unknown_and_revoked_tokens_answer_401_at_once(server, db_url):
    sign = upload_sign(db_url, "SIGN-R")
    body = ingest_body(uuid.uuid4(), sign.serial, vehicles(2))
    assert server.post(PASSES, json=body).status_code == 401
    assert server.post(PASSES, json=body, headers={"Authorization": "Bearer fks_nope"}).status_code == 401
    assert server.post(PASSES, json=body, headers=sign.headers).status_code == 200
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (sign.token_id,))
    body = ingest_body(uuid.uuid4(), sign.serial, vehicles(2, start=10))
    r = server.post(PASSES, json=body, headers=sign.headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert stored(db_url) == (2, 2)


def test_oversized_body_answers_413_before_it_is_read(server, db_url):
    sign = upload_sign(db_url, "SIGN-L")
    # declared size over the limit, with no body sent at all: the answer comes without reading it
    import socket
    host, port = server.base_url.host, server.base_url.port
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall((f"POST {PASSES} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sign.token}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n").encode())
        head = s.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head[:200]
    assert "application/problem+json" in head
    # streamed without a length: refused once past the limit
    def chunks():
        yield b'{"batch_id": "%s", "sign": "SIGN-L", "passes": [' % str(uuid.uuid4()).encode()
        for _ in range(MAX_BODY_BYTES // 60_000 + 2):
            yield b" " * 60_000
    r = server.post(PASSES, content=chunks(), headers=sign.headers)
    assert r.status_code == 413
    # too many records in a body under the byte limit
    p = {"time": recent(0).isoformat(), "speed_kmh": 40, "key": str(uuid.uuid4())}
    body = {"batch_id": str(uuid.uuid4()), "sign": sign.serial, "passes": [p] * (MAX_RECORDS + 1)}
    r = server.post(PASSES, content=json.dumps(body), headers=sign.headers)
    assert r.status_code == 413 and f"{MAX_RECORDS:,}" in r.json()["detail"]
    assert stored(db_url) == (0, 0)


def test_malformed_records_answer_422_naming_record_field_and_value(server, db_url):
    sign = upload_sign(db_url, "SIGN-V")
    body = ingest_body(uuid.uuid4(), sign.serial, vehicles(5))
    body["passes"][2]["speed_kmh"] = "fast"
    body["passes"][3]["direction"] = "sideways"
    body["passes"][4]["time"] = "2026-05-01T12:00:00"  # no offset
    r = server.post(PASSES, json=body, headers=sign.headers)
    assert r.status_code == 422, r.text
    errors = {(e["record"], e["field"], e["value"]) for e in r.json()["errors"]}
    assert errors == {(2, "speed_kmh", "fast"), (3, "direction", "sideways"), (4, "time", "2026-05-01T12:00:00")}
    assert stored(db_url) == (0, 0)  # nothing of a malformed batch is stored
    r = server.post(PASSES, content=b"{not json", headers=sign.headers)
    assert r.status_code == 422


def test_implausible_times_are_rejected_with_the_reason_and_the_rest_stored(server, db_url):
    sign = upload_sign(db_url, "SIGN-T", since=datetime(1990, 1, 1, tzinfo=UTC))
    body = ingest_body(uuid.uuid4(), sign.serial, vehicles(4))
    body["passes"][1]["time"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body["passes"][2]["time"] = "1999-12-31T23:00:00Z"
    r = server.post(PASSES, json=body, headers=sign.headers).json()
    assert r["accepted"] == 2
    assert [(x["record"], x["field"]) for x in r["rejected"]] == [(1, "time"), (2, "time")]
    assert "after the receive time" in r["rejected"][0]["reason"]
    assert "earliest" in r["rejected"][1]["reason"]
    assert stored(db_url) == (2, 2)


def test_passes_outside_any_deployment_are_rejected_per_record(server, db_url):
    sign = upload_sign(db_url, "SIGN-D", since=datetime.now(UTC) - timedelta(hours=1))
    r = server.post(PASSES, json=ingest_body(uuid.uuid4(), sign.serial, vehicles(3)), headers=sign.headers).json()
    assert r["accepted"] == 0 and [x["record"] for x in r["rejected"]] == [0, 1, 2]
    assert "no deployment" in r["rejected"][0]["reason"]


def test_csv_upload_keys_rows_by_content(server, db_url):
    sign = upload_sign(db_url, "SIGN-C")
    rows = [f"{recent(i).isoformat()},{40 + i % 3},approaching,4.2" for i in range(20)]
    rows.append(rows[0])  # a second, equal-looking vehicle counts too
    text = "time,speed_kmh,direction,length_m\n" + "\n".join(rows) + "\n"
    url = f"/api/v1/ingest/csv?batch_id={uuid.uuid4()}"
    first = server.post(url, content=text.encode(), headers={**sign.headers, "Content-Type": "text/csv"}).json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (21, 0, [])
    # the same rows again, CRLF and another upload id: nothing new
    again = server.post(f"/api/v1/ingest/csv?batch_id={uuid.uuid4()}", content=text.replace("\n", "\r\n").encode(),
                        headers=sign.headers).json()
    assert (again["accepted"], again["duplicates"]) == (0, 21)
    bad = server.post(f"/api/v1/ingest/csv?batch_id={uuid.uuid4()}",
                      content=b"time,speed_kmh\n2026-05-01T12:00:00+00:00,40\n2026-05-01T12:00:01+00:00,fast\n",
                      headers=sign.headers)
    assert bad.status_code == 422
    assert [(e["record"], e["field"], e["value"]) for e in bad.json()["errors"]] == [(1, "speed_kmh", "fast")]
    assert stored(db_url) == (21, 21)


def test_binned_counts_are_stored_once_with_their_edges(server, db_url):
    sign = upload_sign(db_url, "SIGN-B2", display=0)
    start = recent(0).replace(minute=0, second=0)
    bins = [{"start": (start + timedelta(minutes=15 * k)).isoformat(), "end": (start + timedelta(minutes=15 * (k + 1))).isoformat(),
             "direction": "receding", "speed_lo_kmh": lo, "speed_hi_kmh": lo + 10 if lo < 60 else None, "count": 3 + k}
            for k in range(2) for lo in (30, 40, 50, 60)]
    bins.append({**bins[0], "end": bins[0]["start"]})  # an empty interval
    body = {"batch_id": str(uuid.uuid4()), "sign": sign.serial, "bins": bins}
    first = server.post("/api/v1/ingest/binned", json=body, headers=sign.headers).json()
    again = server.post("/api/v1/ingest/binned", json=body, headers=sign.headers).json()
    assert (first["accepted"], first["duplicates"]) == (8, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 8)
    assert [(x["record"], x["field"]) for x in first["rejected"]] == [(8, "end")]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT site_id, sign_id, direction, display, speed_lo, speed_hi, count FROM binned_counts "
                            "ORDER BY period_start, speed_lo").fetchall()
    assert rows == [(sign.site_id, sign.sign_id, 2, 0, float(b["speed_lo_kmh"]),
                     None if b["speed_hi_kmh"] is None else float(b["speed_hi_kmh"]), b["count"]) for b in bins[:8]]


def test_heartbeat_stores_battery_temperature_firmware_clock_offset_and_limit(server, db_url):
    sign = upload_sign(db_url, "SIGN-H")
    clock = datetime.now(UTC) - timedelta(seconds=90)
    r = server.post("/api/v1/ingest/heartbeat", headers=sign.headers, json={
        "sign": sign.serial, "battery_v": 12.4, "temperature_c": -3.5, "firmware": "2.1.7",
        "clock": clock.isoformat(), "configured_limit_kmh": 40})
    assert r.status_code == 200, r.text
    assert -95 < r.json()["clock_offset_s"] < -89 and r.json()["stored"] is True
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT sign_id, battery_v, temperature_c, clock_offset_s, configured_limit_kmh, "
                           "detail->>'firmware' FROM sign_heartbeats").fetchone()
    assert row[:3] == (sign.sign_id, 12.4, -3.5) and row[4:] == (40, "2.1.7")
    assert row[3] == pytest.approx(r.json()["clock_offset_s"])
    bad = server.post("/api/v1/ingest/heartbeat", headers=sign.headers, json={"sign": sign.serial, "battery_v": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "battery_v"


def test_openapi_documents_the_upload_bodies_and_answers(db_url):
    doc = create_app(Settings(database_url=db_url)).openapi()
    text = json.dumps(doc)
    assert "#/$defs/" not in text  # every reference resolves from the document's root
    for path, field in (("passes", "passes"), ("binned", "bins"), ("heartbeat", "battery_v")):
        op = doc["paths"][f"/api/v1/ingest/{path}"]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert field in schema["properties"], path
        assert "200" in op["responses"]
    passes = doc["paths"]["/api/v1/ingest/passes"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert passes["properties"]["passes"]["items"]["properties"]["direction"]["enum"] == ["approaching", "receding", "unknown"]
    assert "text/csv" in doc["paths"]["/api/v1/ingest/csv"]["post"]["requestBody"]["content"]


def test_unreadable_csv_lines_and_edges_that_round_to_the_limit_are_refused_by_name(server, db_url):
    sign = upload_sign(db_url, "SIGN-X")
    t = recent(0).isoformat()
    for content, line in ((f"time,speed_kmh\n{t},40\n{t},4\x000\n".encode(), 3),
                          (f"time,speed_kmh\n{t},\"{'9' * 200_000}\"\n".encode(), 2)):
        r = server.post(f"/api/v1/ingest/csv?batch_id={uuid.uuid4()}", content=content, headers=sign.headers)
        assert r.status_code == 422, r.text
        assert f"line {line}" in json.dumps(r.json())
    start = recent(0).replace(minute=0, second=0)
    bins = [{"start": start.isoformat(), "end": (start + timedelta(minutes=5)).isoformat(),
             "speed_lo_kmh": 299.99999, "count": 1},
            {"start": start.isoformat(), "end": (start + timedelta(minutes=5)).isoformat(),
             "speed_lo_kmh": 100, "speed_hi_kmh": 100.000001, "count": 1}]
    r = server.post("/api/v1/ingest/binned", headers=sign.headers,
                    json={"batch_id": str(uuid.uuid4()), "sign": sign.serial, "bins": bins})
    assert r.status_code == 200, r.text
    assert [(x["record"], x["field"], x["value"]) for x in r.json()["rejected"]] == [
        (0, "speed_lo_kmh", 299.99999), (1, "speed_hi_kmh", 100.000001)]
    assert stored(db_url) == (0, 0)


def test_lowered_limits_from_the_settings_answer_413(db_url, monkeypatch):
    monkeypatch.setenv("FARTKOLL_API__INGEST__MAX_RECORDS", "20")
    monkeypatch.setenv("FARTKOLL_API__INGEST__MAX_BODY_BYTES", "4096")
    settings = Settings.load(database_url=db_url)
    assert (settings.api.ingest.max_records, settings.api.ingest.max_body_bytes) == (20, 4096)
    sign = upload_sign(db_url, "SIGN-LOW")
    with running(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as client:
        ok = client.post(PASSES, json=ingest_body(uuid.uuid4(), sign.serial, vehicles(20, "low")), headers=sign.headers)
        many = client.post(PASSES, json=ingest_body(uuid.uuid4(), sign.serial, vehicles(21, "low2")),
                           headers=sign.headers)
        body = json.dumps(ingest_body(uuid.uuid4(), sign.serial, vehicles(5, "low3"))) + " " * 4096
        big = client.post(PASSES, content=body, headers=sign.headers)
        csv_rows = "time,speed_kmh\n" + "".join(f"{recent(i).isoformat()},40\n" for i in range(21))
        csv = client.post("/api/v1/ingest/csv", params={"batch_id": str(uuid.uuid4())}, content=csv_rows,
                          headers={**sign.headers, "Content-Type": "text/csv"})
    assert ok.status_code == 200 and ok.json()["accepted"] == 20
    assert many.status_code == 413 and "at most 20" in many.json()["detail"]
    assert big.status_code == 413 and "4,096" in big.json()["detail"]
    assert csv.status_code == 413 and "20" in csv.json()["detail"]
    assert stored(db_url) == (20, 20)


def test_a_heartbeat_sent_late_keeps_the_time_it_was_taken(server, db_url):
    sign = upload_sign(db_url, "SIGN-LATE")
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    r = server.post("/api/v1/ingest/heartbeat", headers=sign.headers, json={
        "sign": sign.serial, "at": taken.isoformat(), "clock": (taken + timedelta(seconds=3)).isoformat(),
        "detail": {"passes": 7, "connected": True}})
    assert r.status_code == 200, r.text
    assert r.json()["clock_offset_s"] == 3.0
    ahead = server.post("/api/v1/ingest/heartbeat", headers=sign.headers, json={
        "sign": sign.serial, "at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["field"] == "at"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT time, clock_offset_s, detail->>'passes', detail->>'source' FROM sign_heartbeats"
                            ).fetchall()
    assert rows == [(taken, 3.0, "7", "http")]


def test_uploads_answered_ahead_of_routing_keep_the_edges_headers_metrics_and_problems(server, db_url):
    """``POST /ingest/passes`` is answered by ``api.routes.ingest.passes_shortcut`` from the
    middleware, ahead of FastAPI's routing: its answers still carry the request id and security
    headers, its errors are the same problem documents, and the metrics count it under its route."""
    from prometheus_client.parser import text_string_to_metric_families

    def counts() -> dict[str, float]:
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(server.get("/metrics").text):
            for s in family.samples:
                if s.name == "fartkoll_http_request_duration_seconds_count" and s.labels["route"] == PASSES:
                    out[s.labels["status"]] = s.value
        return out

    sign = upload_sign(db_url, "HTTP-EDGE")
    before = counts()
    ok = server.post(PASSES, json=ingest_body(uuid.uuid4(), sign.serial, vehicles(3, "edge")),
                     headers={**sign.headers, "X-Request-ID": "edge-1"})
    assert ok.status_code == 200 and ok.json()["accepted"] == 3
    assert ok.headers["x-request-id"] == "edge-1" and ok.headers["x-content-type-options"] == "nosniff"
    assert "default-src" in ok.headers["content-security-policy"]
    anonymous = server.post(PASSES, json=ingest_body(uuid.uuid4(), sign.serial, vehicles(1, "edge")))
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["title"] and "fartkoll token issue" in anonymous.json()["detail"]
    bad = server.post(PASSES, content=b'{"batch_id": "x"', headers={**sign.headers, "Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    after = counts()
    assert after.get("2xx", 0) - before.get("2xx", 0) == 1
    assert after.get("4xx", 0) - before.get("4xx", 0) == 2
    # the route stays in the OpenAPI document (and in the access matrix) with its body schema
    spec = server.get("/openapi.json").json()
    assert "requestBody" in spec["paths"][PASSES]["post"]
    assert stored(db_url) == (3, 3)
