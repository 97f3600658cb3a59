"""What a committed upload tells the live pages: one NOTIFY message per sign and upload.

A message is JSON ``{"sign": id, "n": passes stored, "passes": [[epoch_ms, km/h, direction], …]}``
with the upload's newest passes (at most :data:`MAX_PASSES`, which keeps it well under
PostgreSQL's 8,000-byte payload limit); ``n`` says how many there were in all. Uploads that
stored nothing new (a re-sent batch) announce nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from collector.passes import VehiclePass
from sql import QUERIES

CHANNEL = "fartkoll_live"
MAX_PASSES = 150
DIRECTIONS = ("unknown", "approaching", "receding")


class _Upload(Protocol):
    sign_id: int
    passes: list[VehiclePass]
    indices: list[int]


def payloads(uploads: Sequence[_Upload], answers: Sequence[dict[str, Any]]) -> list[str]:
    """The messages for uploads and their answers (``accepted``, ``rejected`` records)."""
    out = []
    for up, answer in zip(uploads, answers, strict=True):
        if not answer.get("accepted"):
            continue
        refused = {r["record"] for r in answer.get("rejected") or ()}
        kept = [p for p, i in zip(up.passes, up.indices, strict=True) if i not in refused]
        kept.sort(key=lambda p: p.time)
        shown = kept[-MAX_PASSES:]
        out.append(message(up.sign_id, int(answer["accepted"]), [p.time.timestamp() for p in shown],
                           [p.speed_kmh for p in shown], [p.direction for p in shown]))
    return out


def message(sign_id: int, n: int, epoch_s: Sequence[float], speed_kmh: Sequence[float],
            direction: Sequence[int]) -> str:
    """One upload's message: ``n`` passes stored, the shown ones (oldest first, at most
    :data:`MAX_PASSES`) given as columns."""
    return json.dumps({"sign": sign_id, "n": n, "passes": [
        [int(t * 1000), round(float(v), 1), DIRECTIONS[int(d)]]
        for t, v, d in zip(epoch_s, speed_kmh, direction, strict=True)]}, separators=(",", ":"))


def announce(conn: psycopg.Connection, uploads: Sequence[_Upload], answers: Sequence[dict[str, Any]]) -> None:
    """NOTIFY the uploads' stored passes in the caller's transaction (delivered on its commit)."""
    messages = payloads(uploads, answers)
    if messages:
        conn.execute(QUERIES["live_notify"], {"channel": CHANNEL, "payloads": messages})
