"""Pull client for the Traffic Logix SafePace statistics API (the HTTP edge; parsing is in
:mod:`collector.importers.trafficlogix`).

``GET {base}/sv2/signs`` lists locations; ``GET {base}/sv2/signs/statistics/location/{id}/date/
{YYYY-MM-DD}/from/00:00/to/23:59/speed_units/0`` gives one day (the API serves at most 24 h a
call), header ``x-api-key``. 204: no data that day. 401: bad key — stop everything. 404: no such
location — skip its remaining days. 502/503/504 and transport errors: retried with doubling
backoff a bounded number of times, then the day is reported and skipped (a re-run fetches it;
stored bins are not stored twice). Errors carry ``error_message`` in the body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Iterator

import httpx

from .report import Problem

DEFAULT_BASE_URL = "https://api.streetsoncloud.com"
RETRY_STATUSES = {502, 503, 504}


class SafePaceError(Exception):
    """The cloud refused or failed; the message names the request, the status and the cloud's words."""


class BadApiKey(SafePaceError):
    """HTTP 401: the API key was refused. Nothing more can be fetched with it."""


class NotFound(SafePaceError):
    """HTTP 404: the location (or path) is unknown to the cloud."""


@dataclass(frozen=True)
class SignInfo:
    location_id: str
    name: str
    address: str


def _message(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text.strip()[:200]
    if isinstance(body, dict) and body.get("error_message"):
        return str(body["error_message"])
    return str(body)[:200]


class SafePaceClient:
    """Fetches SafePace data with an injected ``httpx.Client`` (tests pass a MockTransport)."""

    def __init__(self, http: httpx.Client, api_key: str, *, base_url: str = DEFAULT_BASE_URL, retries: int = 3,
                 backoff_s: float = 1.0, sleep: Callable[[float], object] = time.sleep) -> None:
        if not api_key:
            raise BadApiKey("no API key: give --api-key or set TRAFFICLOGIX_API_KEY")
        self.http, self.api_key, self.base_url = http, api_key, base_url.rstrip("/")
        self.retries, self.backoff_s, self.sleep = retries, backoff_s, sleep

    def _get(self, path: str) -> httpx.Response | None:
        """The response to GET ``path`` (None for 204), after retries; raises SafePaceError."""
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            try:
                r = self.http.get(url, headers={"x-api-key": self.api_key})
            except httpx.TransportError as e:
                failure = f"GET {path}: {type(e).__name__}: {e}"
            else:
                if r.status_code == 204:
                    return None
                if r.status_code == 401:
                    raise BadApiKey(f"GET {path}: 401 {_message(r)}: the API key was refused; check --api-key")
                if r.status_code == 404:
                    raise NotFound(f"GET {path}: 404 {_message(r)}")
                if r.status_code not in RETRY_STATUSES:
                    if r.is_success:
                        return r
                    raise SafePaceError(f"GET {path}: {r.status_code} {_message(r)}")
                failure = f"GET {path}: {r.status_code} {_message(r)}"
            if attempt < self.retries:
                self.sleep(self.backoff_s * 2 ** attempt)
        raise SafePaceError(f"{failure} (gave up after {self.retries + 1} attempts)")

    def signs(self) -> list[SignInfo]:
        r = self._get("/sv2/signs")
        body: Any = r.json() if r is not None else []
        if isinstance(body, dict):        # tolerate a wrapper object around the list
            body = next((v for v in body.values() if isinstance(v, list)), [])
        return [SignInfo(str(s.get("location_id")), str(s.get("name") or ""), str(s.get("address") or ""))
                for s in body if isinstance(s, dict) and s.get("location_id") is not None]

    def day(self, location_id: str, day: date) -> Any | None:
        """One day's statistics body for a location (None: no data that day)."""
        r = self._get(f"/sv2/signs/statistics/location/{location_id}/date/{day.isoformat()}"
                      "/from/00:00/to/23:59/speed_units/0")
        if r is None:
            return None
        try:
            return r.json()
        except ValueError:
            raise SafePaceError(f"location {location_id} {day}: the body is not JSON: {r.text[:80]!r}") from None


def pull(client: SafePaceClient, location_ids: list[str], first: date, last: date,
         on_day: Callable[[], object] = lambda: None) -> Iterator[tuple[str, Any] | Problem]:
    """Bodies for each location and day in [first, last], one call a day; problems for days that
    failed. Raises :class:`BadApiKey` at once (nothing else would succeed either)."""
    for loc in location_ids:
        d = first
        while d <= last:
            record = f"location {loc} {d.isoformat()}"
            try:
                body = client.day(loc, d)
            except NotFound as e:
                yield Problem(f"location {loc}", "location_id", loc, f"unknown to the cloud, days from {d} skipped: {e}")
                break
            except BadApiKey:
                raise
            except SafePaceError as e:
                yield Problem(record, "date", d.isoformat(), str(e))
            else:
                if body is not None:
                    yield record, body
            on_day()
            d += timedelta(days=1)
