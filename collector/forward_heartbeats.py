"""Edge mode: each sign's heartbeat to the central server's ``POST /api/v1/ingest/heartbeat``.

``HeartbeatForwarder`` is a ``HeartbeatHook``: it logs each heartbeat, queues it and sends what
is queued, oldest first. A server that is down (connection refused, timeout, 5xx, 408, 429)
keeps the heartbeats queued for the next one, as the drain loop keeps passes spooled, with one
warning line per outage and no traceback; a heartbeat the server refuses (another 4xx) is
dropped with a warning, as sending it again cannot help. Each heartbeat carries the moment the
collector took it (``at``) and the sign's clock at that moment, so one sent late still gives
the right clock offset.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, timedelta
from typing import Any, Self

import httpx

from collector.health_store import heartbeat_detail
from collector.heartbeat import Heartbeat, log_heartbeat

log = logging.getLogger(__name__)

HEARTBEAT_PATH = "/api/v1/ingest/heartbeat"
MAX_PENDING = 1000  # heartbeats kept while the server is down (a day of one a minute and more)
_RETRY_LATER = {408, 429}


def _iso(t: Any) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def heartbeat_body(hb: Heartbeat) -> dict[str, Any]:
    """The request body for one heartbeat (the route's ``HeartbeatIn``)."""
    body: dict[str, Any] = {"sign": hb.sign, "at": _iso(hb.at), "detail": heartbeat_detail(hb)}
    if hb.clock_offset_s is not None:
        body["clock"] = _iso(hb.at + timedelta(seconds=hb.clock_offset_s))
    return body


class HeartbeatForwarder:
    """Heartbeat hook posting to the central server; an outage is logged and retried, never raised."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self.endpoint = str(url).rstrip("/") + HEARTBEAT_PATH
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client or httpx.Client(timeout=timeout)
        self._pending: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING)
        self._down = False
        self.sent = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __call__(self, hb: Heartbeat) -> None:
        log_heartbeat(hb)
        self._pending.append(heartbeat_body(hb))
        self.flush()

    def flush(self) -> bool:
        """Send what is queued, oldest first; False (the rest kept) when the server is down."""
        while self._pending:
            body = self._pending[0]
            problem = self._post(body)
            if problem is not None:
                if not self._down:
                    log.warning("cannot send heartbeats to %s (%s); %d kept, sent again with the next one",
                                self.endpoint, problem, len(self._pending))
                self._down = True
                return False
            self._pending.popleft()
        if self._down:
            log.info("heartbeats reach %s again", self.endpoint)
            self._down = False
        return True

    def _post(self, body: dict[str, Any]) -> str | None:
        """None when the server has the heartbeat (or refused it for good), else why to retry."""
        try:
            response = self._client.post(self.endpoint, json=body, headers=self._headers)
        except httpx.TransportError as e:
            return f"{type(e).__name__}: {e}"
        status = response.status_code
        if status >= 500 or status in _RETRY_LATER:
            return f"answered {status}"
        if status >= 400:
            hint = "check forward_token" if status in (401, 403) else "check the server's log"
            log.warning("%s refused the heartbeat of sign %s at %s with %s: %s; %s; dropped",
                        self.endpoint, body["sign"], body["at"], status, response.text.strip()[:200], hint)
            return None
        self.sent += 1
        return None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
