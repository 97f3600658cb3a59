"""Edge mode: push spooled batches to the central server's ingest endpoint over HTTP.

``POST {url}/api/v1/ingest/passes`` with a bearer token, one request per sign in a batch; the
server answers ``{batch_id, accepted, duplicates, rejected: [{record, field, value, reason}]}``.
Connection errors, timeouts, 5xx, 408 and 429 mean "down, retry later" (``ForwardUnavailable``);
any other 4xx except 409 is a refusal that retrying will not fix (``ForwardRejected``, naming
the batch). 409 means the server already has the batch. Re-sending is always safe: every pass
carries its idempotency key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Self

import httpx

from collector.passes import VehiclePass
from collector.spool import SpoolBatch, SpooledPass

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest/passes"
_RETRY_LATER = {408, 429}


class ForwardError(Exception):
    """Forwarding a batch to the central server failed."""


class ForwardUnavailable(ForwardError):
    """The central server cannot be reached or is failing; the batch stays spooled."""


class ForwardRejected(ForwardError):
    """The central server refused a batch; retrying will not help until the cause is fixed."""

    def __init__(self, message: str, *, status: int, batch_id: uuid.UUID) -> None:
        super().__init__(message)
        self.status = status
        self.batch_id = batch_id


@dataclass
class ForwardResult:
    """What the central server did with a batch: passes stored now, already stored, refused."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def pass_json(p: VehiclePass) -> dict[str, Any]:
    """One pass in the ingest endpoint's JSON shape."""
    if p.key is None:
        raise ForwardError(f"pass at {p.time.isoformat()} has no key; spool assigns keys first")
    t = p.time.astimezone(UTC)
    return {
        "time": t.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "speed_kmh": p.speed_kmh,
        "direction": p.direction.name.lower(),
        "length_m": p.length_m,
        "key": str(p.key),
    }


def ingest_body(batch_id: uuid.UUID, sign: str, passes: Sequence[VehiclePass]) -> dict[str, Any]:
    """The request body for one sign's passes."""
    return {"batch_id": str(batch_id), "sign": sign, "passes": [pass_json(p) for p in passes]}


def split_by_sign(batch: SpoolBatch) -> list[tuple[uuid.UUID, str, list[VehiclePass]]]:
    """One ``(batch_id, sign, passes)`` per sign, in first-seen order.

    A one-sign batch keeps its id; otherwise each part gets an id derived from the batch id
    and the sign, so a re-sent part carries the same id as before.
    """
    by_sign: dict[str, list[SpooledPass]] = {}
    for entry in batch.entries:
        by_sign.setdefault(entry.sign, []).append(entry)
    if len(by_sign) == 1:
        ((sign, entries),) = by_sign.items()
        return [(batch.batch_id, sign, [e.vehicle for e in entries])]
    return [
        (uuid.uuid5(batch.batch_id, sign), sign, [e.vehicle for e in entries])
        for sign, entries in by_sign.items()
    ]


class Forwarder:
    """A sink for the drain loop: ``forwarder(batch)`` returns once the server has it all."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.endpoint = str(url).rstrip("/") + INGEST_PATH
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client or httpx.Client(timeout=timeout)

    def __call__(self, batch: SpoolBatch) -> ForwardResult:
        total = ForwardResult()
        for batch_id, sign, passes in split_by_sign(batch):
            part = self._post(batch_id, sign, passes)
            total.accepted += part.accepted
            total.duplicates += part.duplicates
            total.rejected.extend(part.rejected)
        return total

    def _post(self, batch_id: uuid.UUID, sign: str, passes: list[VehiclePass]) -> ForwardResult:
        what = f"batch {batch_id} ({len(passes)} passes from sign {sign!r})"
        try:
            response = self._client.post(
                self.endpoint, json=ingest_body(batch_id, sign, passes), headers=self._headers
            )
        except httpx.TransportError as e:
            raise ForwardUnavailable(
                f"cannot reach {self.endpoint} for {what}: {e!r}; will retry"
            ) from e
        status = response.status_code
        if status == 409:
            log.info("%s: server already has it (409)", what)
            return ForwardResult(duplicates=len(passes))
        if status >= 500 or status in _RETRY_LATER:
            raise ForwardUnavailable(
                f"{self.endpoint} answered {status} to {what}: {_excerpt(response)}; will retry"
            )
        if status >= 400:
            hint = "check forward_token" if status in (401, 403) else "check the server's log"
            raise ForwardRejected(
                f"{self.endpoint} refused {what} with {status}: {_excerpt(response)}; {hint}; "
                "the batch stays spooled",
                status=status,
                batch_id=batch_id,
            )
        try:
            body = response.json()
            result = ForwardResult(
                accepted=int(body["accepted"]),
                duplicates=int(body["duplicates"]),
                rejected=list(body.get("rejected") or []),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ForwardUnavailable(
                f"{self.endpoint} answered {status} to {what} with an unexpected body "
                f"{_excerpt(response)}; will retry"
            ) from e
        for r in result.rejected:
            record = r.get("record")
            key = passes[record].key if isinstance(record, int) and 0 <= record < len(passes) else "?"
            log.warning(
                "server rejected pass #%s (key %s) of %s: %s=%r: %s",
                record, key, what, r.get("field"), r.get("value"), r.get("reason"),
            )
        return result

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return repr(text[:limit] + ("…" if len(text) > limit else ""))
