"""Uploads from signs: passes, pre-binned counts, per-vehicle CSV and heartbeats.

Each route is authenticated by the sign's upload token (``Sign``) and writes only for that
sign. Passes of every form go through the one write path (``collector.store.write_passes``)
by way of the group commit; an upload is answered only once its transaction has committed, so
a client that gets no answer sends the batch again and the per-record keys keep it from being
stored twice.

The passes and CSV routes are ``async``: they wait for the group commit on the event loop. As
plain ``def`` routes each waiting upload held a worker thread and a pooled connection (taken by
the ``Sign`` dependency), and 50 concurrent uploads exhausted the thread pool while the threads
that held connections waited for a thread to run in: every request timed out (measured with
``fartkoll bench api``). They take no pooled connection at all: the sign comes from the token
memory (``UploadSign``, checked again in the group's transaction), and a passes body that is
plainly valid is decoded by :mod:`api.ingest.fast_passes` (pydantic decides every other body).

``POST /ingest/passes`` is answered ahead of FastAPI's routing (:func:`passes_shortcut`, called by
:class:`api.middleware.Edge`): the same sign check, body limit and implementation
(:func:`store_passes`) without the routing, dependency solving and CSRF layers, which took about
40 % of the server's CPU per upload (profiled under ``fartkoll bench api``; an upload carries a
sign's Bearer token and never a cookie, so CSRF does not apply). The route stays declared for the
OpenAPI document and the access matrix.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import numpy as np
import psycopg
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb

from collector.checks import MAX_SPEED_KMH
from collector.passes import VehiclePass, pass_key
from collector.plausible import TimeRule
from collector.store import Deployments
from core.errors import FartkollError, Forbidden, InvalidInput, TooLarge, Unavailable
from fartkoll.db import session_kwargs
from sql import QUERIES

from ..deps import AppSettings, Conn, Sign
from ..ingest import admission, fast_passes
from ..ingest.admission import Admitted
from ..ingest.body import RawBody, jsonable, limited_body, limits, parse
from ..ingest.group_commit import GroupCommit, Job
from ..ingest.models import (
    DIRECTION,
    DISPLAY,
    BinnedBatch,
    HeartbeatAnswer,
    HeartbeatIn,
    IngestAnswer,
    PassBatch,
)
from ..ingest.upload_passes import passes_job
from ..ingest.upload_sign import KnownTokens, UploadSign, upload_sign
from ..principal import SignPrincipal
from ..problems import domain_problem


@asynccontextmanager
async def lifespan(app: FastAPI):
    dsn = app.state.settings.database_dsn()
    limits = app.state.settings.api.ingest
    app.state.known_sign_tokens = KnownTokens()
    app.state.group_commit = GroupCommit(lambda: psycopg.connect(dsn, **session_kwargs(dsn)),
                                         rule=app.state.settings.collector.time_rule(),
                                         writers=limits.group_writers, max_passes=limits.group_max_passes,
                                         known_tokens=app.state.known_sign_tokens)
    admission.make_room(app)
    try:
        yield
    finally:
        app.state.group_commit.close()


router = APIRouter(prefix="/ingest", tags=["ingest"], lifespan=lifespan)


def _body_schema(model: type, media_type: str = "application/json") -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its body itself (bounded, see ``RawBody``)."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": _inlined(model.model_json_schema())}}}}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions (OpenAPI resolves
    ``#/...`` from the document's root, where a model's own ``$defs`` are not)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _own_sign(who: SignPrincipal, serial: str | None) -> None:
    if serial is not None and serial != who.serial:
        raise Forbidden(f"the token is sign {who.serial!r}'s; it may not write for sign {serial!r}")


def _now() -> datetime:
    return datetime.now(UTC)


async def _stored(request: Request, job: Job) -> JSONResponse:
    """The job's answer once its group has committed (waiting on the event loop, not a thread)."""
    waiter = request.app.state.group_commit.submit_async(job)
    timeout = limits(request).answer_timeout_s
    try:
        answer = await asyncio.wait_for(waiter, timeout)
    except TimeoutError:
        raise Unavailable(f"batch {job.batch_id} is not yet stored after {timeout:g} s: send it again") from None
    return JSONResponse(answer)


@router.post("/passes", response_model=IngestAnswer, openapi_extra=_body_schema(PassBatch))
async def ingest_passes(who: UploadSign, body: RawBody, request: Request) -> JSONResponse:
    """Store one sign's vehicle passes (the body ``fartkoll collector run --forward`` sends)."""
    return await store_passes(who, body, request)


async def store_passes(who: SignPrincipal, body: bytes, request: Request) -> JSONResponse:
    """The passes upload of ``who`` with ``body``: its answer once stored (the route's and
    :func:`passes_shortcut`'s one implementation)."""
    max_records = limits(request).max_records
    batch = fast_passes.decode(body)
    if batch is None:  # not plainly valid: pydantic decides, and names what is wrong
        batch = parse(PassBatch, body, "passes", max_records)
        times = [p.time for p in batch.passes]
    elif len(batch.passes) > max_records:
        raise TooLarge(f"the batch has {len(batch.passes):,} passes; a batch may have at most {max_records:,}: "
                       "send smaller batches")
    else:
        times = batch.times
    _own_sign(who, batch.sign)
    job = passes_job(who.sign_id, batch.batch_id, times, batch.passes, request.app.state.settings.collector.time_rule(),
                     _now(), request.state.token_hash)
    return await _stored(request, job)


PASSES_PATH = "/api/v1/ingest/passes"


def passes_shortcut(app: FastAPI) -> Any:
    """``POST /api/v1/ingest/passes`` as a plain ASGI application, called by :class:`api.middleware.Edge`
    ahead of routing: the same sign check, body limit and implementation as the route."""
    route = SimpleNamespace(path=PASSES_PATH, path_format=PASSES_PATH)  # what metrics and the access log read

    async def handle(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["app"] = app
        scope["route"] = route
        request = Request(scope, receive)
        try:
            who = await upload_sign(request)
            body = await limited_body(request)
            response = await store_passes(who, body, request)
        except FartkollError as e:
            response = domain_problem(e)
        await response(scope, receive, send)

    return handle


CSV_COLUMNS = ("time", "speed_kmh", "direction", "length_m")


@router.post("/csv", response_model=IngestAnswer, openapi_extra={"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string", "description": "header time,speed_kmh[,direction][,length_m]; "
                            "one vehicle per row; times ISO 8601 with offset"}}}}})
async def ingest_csv(who: UploadSign, body: RawBody, request: Request,
               batch_id: Annotated[uuid.UUID, Query(description="the upload's id; send the same id again to retry")],
               sign: Annotated[str | None, Query(description="the sign's serial (must be the token's sign)")] = None,
               ) -> JSONResponse:
    """Store one sign's per-vehicle rows from a CSV body; keys come from each row's content."""
    _own_sign(who, sign)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"the CSV body is not UTF-8: byte {e.object[e.start]:#04x} at offset {e.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if "time" not in header or "speed_kmh" not in header or unknown:
        raise InvalidInput(f"the CSV header {','.join(header)!r} must name time and speed_kmh, and may name "
                           f"direction and length_m{'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    rule, received = request.app.state.settings.collector.time_rule(), _now()
    passes, indices, rejected, errors = [], [], [], []
    seen: Counter = Counter()
    records, max_records = 0, limits(request).max_records
    for i, row in enumerate(_csv_rows(reader)):
        records += 1
        if records > max_records:
            raise TooLarge(f"the CSV has more than {max_records:,} rows: send smaller uploads")
        p, problem = _csv_pass(who, row, i + 2)
        if problem is not None:
            errors.append({"record": i, **problem})
            continue
        why = rule.problem(p.time, received)
        if why is not None:
            rejected.append({"record": i, "field": "time", "value": row["time"], "reason": why})
            continue
        ident = (p.time.isoformat(), p.speed_kmh, int(p.direction), p.length_m)
        passes.append(VehiclePass(time=p.time, speed_kmh=p.speed_kmh, direction=p.direction, sign_id=who.sign_id,
                                  length_m=p.length_m, key=pass_key(f"csv-upload:{who.sign_id}", *ident, seen[ident])))
        seen[ident] += 1
        indices.append(i)
    if errors:
        raise InvalidInput(f"{len(errors)} row(s) of the CSV are invalid; nothing was stored", errors=errors[:100])
    return await _stored(request, Job(who.sign_id, batch_id, "csv", records, passes, indices, rejected,
                                      token_hash=request.state.token_hash))


def _csv_rows(reader: csv.DictReader) -> Iterator[dict[str, Any]]:
    """The reader's rows; a line the csv module cannot read (a NUL byte, a field over its limit)
    is a 422 naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line = reader.line_num + 1  # the line being read when it failed
            raise InvalidInput(f"line {line} of the CSV cannot be read: {e}; nothing was stored",
                               errors=[{"record": None, "field": None, "value": None,
                                        "reason": f"line {line}: {e}"}]) from None
        yield row


def _csv_pass(who: SignPrincipal, row: dict[str, Any], line: int) -> tuple[VehiclePass | None, dict | None]:
    def bad(field: str, reason: str) -> tuple[None, dict]:
        return None, {"field": field, "value": row.get(field), "reason": f"line {line}: {reason}"}

    if None in row:
        return bad("time", "more fields than the header names")
    try:
        t = datetime.fromisoformat((row.get("time") or "").strip())
    except ValueError:
        return bad("time", "not an ISO 8601 time")
    if t.tzinfo is None:
        return bad("time", "has no UTC offset (e.g. 2026-05-01T12:00:00+02:00)")
    try:
        speed = float((row.get("speed_kmh") or "").strip())
    except ValueError:
        return bad("speed_kmh", "not a number")
    direction = (row.get("direction") or "unknown").strip()
    if direction not in DIRECTION:
        return bad("direction", "must be approaching, receding or unknown")
    length_text = (row.get("length_m") or "").strip()
    try:
        length = float(length_text) if length_text else None
    except ValueError:
        return bad("length_m", "not a number")
    return VehiclePass(time=t, speed_kmh=speed, direction=DIRECTION[direction], sign_id=who.sign_id,
                       length_m=length), None


@router.post("/binned", response_model=IngestAnswer, openapi_extra=_body_schema(BinnedBatch))
def ingest_binned(_: Admitted, who: Sign, body: RawBody, conn: Conn, settings: AppSettings) -> JSONResponse:
    """Store one sign's pre-binned counts (interval, direction, speed bin with its edges, count)."""
    batch = parse(BinnedBatch, body, "bins", settings.api.ingest.max_records)
    _own_sign(who, batch.sign)
    rule, received = settings.collector.time_rule(), _now()
    deployments = Deployments(conn.execute(QUERIES["ingest_deployments_of_sign"], {"sign_id": who.sign_id}).fetchall())
    accepted = duplicates = 0
    rejected: list[dict[str, Any]] = []
    for i, b in enumerate(batch.bins):
        problem = _bin_problem(b, rule, received)
        found = deployments.at(who.sign_id, b.start) if problem is None else None
        if problem is None and found is None:
            problem = ("start", b.start.isoformat(), f"sign {who.serial} has no deployment covering this time")
        if problem is not None:
            rejected.append({"record": i, "field": problem[0], "value": jsonable(problem[1]), "reason": problem[2]})
            continue
        site_id, deployed_display = found
        display = DISPLAY[b.display] if b.display is not None else deployed_display
        key = "|".join(str(x) for x in (who.sign_id, b.start.astimezone(UTC).isoformat(),
                                         b.end.astimezone(UTC).isoformat(), b.direction,
                                         b.speed_lo_kmh, b.speed_hi_kmh, int(display)))
        row = conn.execute(QUERIES["ingest_binned_insert"], {
            "site_id": site_id, "sign_id": who.sign_id, "direction": int(DIRECTION[b.direction]), "display": int(display),
            "start": b.start, "end": b.end, "lo": b.speed_lo_kmh, "hi": b.speed_hi_kmh, "count": b.count,
            "key": key}).fetchone()
        if row is None:
            duplicates += 1
        else:
            accepted += 1
    conn.execute(QUERIES["ingest_batches_record"], {
        "sign_ids": [who.sign_id], "batch_ids": [batch.batch_id], "kinds": ["binned"], "records": [len(batch.bins)],
        "accepted": [accepted], "rejected": [len(rejected)]})
    conn.commit()
    return JSONResponse({"batch_id": str(batch.batch_id), "accepted": accepted, "duplicates": duplicates,
                         "rejected": rejected})


def _bin_problem(b: Any, rule: TimeRule, received: datetime) -> tuple[str, Any, str] | None:
    if b.end <= b.start:
        return "end", b.end.isoformat(), "must be after start"
    for name in ("start", "end"):
        why = rule.problem(getattr(b, name), received)
        if why is not None:
            return name, getattr(b, name).isoformat(), why
    # checked as stored (real): 299.99999 is 300 there
    lo = float(np.float32(b.speed_lo_kmh))
    hi = None if b.speed_hi_kmh is None else float(np.float32(b.speed_hi_kmh))
    if not 0 <= lo < MAX_SPEED_KMH:
        return "speed_lo_kmh", b.speed_lo_kmh, f"must be at least 0 and below {MAX_SPEED_KMH:g} km/h as stored (real)"
    if hi is not None and not lo < hi <= MAX_SPEED_KMH:
        return "speed_hi_kmh", b.speed_hi_kmh, f"must be above speed_lo_kmh and at most {MAX_SPEED_KMH:g} km/h as stored (real)"
    return None


@router.post("/heartbeat", response_model=HeartbeatAnswer, openapi_extra=_body_schema(HeartbeatIn))
def ingest_heartbeat(_: Admitted, who: Sign, body: RawBody, conn: Conn, settings: AppSettings) -> HeartbeatAnswer:
    """Store a sign's heartbeat: battery, temperature, firmware, clock offset, configured limit."""
    hb = parse(HeartbeatIn, body, None)
    _own_sign(who, hb.sign)
    received = _now()
    if hb.at is not None:
        why = settings.collector.time_rule().problem(hb.at, received)
        if why is not None:
            raise InvalidInput(f"the heartbeat's time {hb.at.isoformat()} {why}", errors=[
                {"record": None, "field": "at", "value": hb.at.isoformat(), "reason": why}])
        received = hb.at
    offset = (hb.clock - received).total_seconds() if hb.clock is not None else None
    detail = {**(hb.detail or {}), "firmware": hb.firmware, "source": "http"}
    if hb.clock is not None:
        detail["clock"] = hb.clock.isoformat()
    row = conn.execute(QUERIES["ingest_heartbeat_insert"], {
        "sign_id": who.sign_id, "time": received, "battery_v": hb.battery_v, "temperature_c": hb.temperature_c,
        "clock_offset_s": offset, "configured_limit_kmh": hb.configured_limit_kmh,
        "detail": Jsonb(detail)}).fetchone()
    conn.commit()
    return HeartbeatAnswer(sign=who.serial, time=received, clock_offset_s=offset, stored=row is not None)
