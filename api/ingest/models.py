"""The shapes of sign uploads and of their answers (names, not codes: ``approaching``)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from collector.passes import Direction, Display

DirectionName = Literal["approaching", "receding", "unknown"]
DisplayName = Literal["display", "stealth"]

DIRECTION: dict[str, Direction] = {"approaching": Direction.APPROACHING, "receding": Direction.RECEDING,
                                   "unknown": Direction.UNKNOWN}
DISPLAY: dict[str, Display] = {"display": Display.DISPLAY, "stealth": Display.STEALTH}

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class PassIn(BaseModel):
    """One vehicle pass as a sign reports it: peak speed in km/h at a UTC instant."""

    model_config = _STRICT
    time: AwareDatetime
    speed_kmh: float
    direction: DirectionName = "unknown"
    length_m: float | None = None
    key: uuid.UUID = Field(description="idempotency key: the same pass re-sent carries the same key")


class PassBatch(BaseModel):
    """``POST /api/v1/ingest/passes``: one sign's passes (the body ``collector/forward.py`` sends)."""

    model_config = _STRICT
    batch_id: uuid.UUID
    sign: str = Field(description="the sign's serial number; must be the sign of the token")
    passes: list[PassIn]


class BinIn(BaseModel):
    """Vehicles counted with ``speed_lo_kmh <= v < speed_hi_kmh`` between ``start`` and ``end``."""

    model_config = _STRICT
    start: AwareDatetime
    end: AwareDatetime
    direction: DirectionName = "unknown"
    speed_lo_kmh: float = Field(ge=0, lt=300)
    speed_hi_kmh: float | None = Field(default=None, gt=0, le=300, description="None: open top bin")
    count: int = Field(ge=0, le=2**31 - 1)
    display: DisplayName | None = Field(default=None, description="None: the deployment's display mode")


class BinnedBatch(BaseModel):
    """``POST /api/v1/ingest/binned``: one sign's pre-binned counts."""

    model_config = _STRICT
    batch_id: uuid.UUID
    sign: str
    bins: list[BinIn]


class HeartbeatIn(BaseModel):
    """``POST /api/v1/ingest/heartbeat``: a sign's state; its clock gives the clock offset."""

    model_config = _STRICT
    sign: str
    at: AwareDatetime | None = Field(default=None, description="when the sign (or its collector) took this "
                                     "heartbeat; default: when the server receives it")
    clock: AwareDatetime | None = Field(default=None, description="the sign's own clock at that moment")
    battery_v: float | None = Field(default=None, ge=0, le=100)
    temperature_c: float | None = Field(default=None, ge=-80, le=120)
    firmware: str | None = Field(default=None, max_length=200)
    configured_limit_kmh: int | None = Field(default=None, ge=5, le=130)
    detail: dict[str, Any] | None = Field(default=None, max_length=50, description="the collector's own "
                                          "figures (connected, bytes, readings, passes, last_data_at, ...)")


class RecordProblem(BaseModel):
    """A record that was not stored: its index in the batch, the field, the value, why."""

    record: int | None
    field: str | None
    value: object = None
    reason: str


class IngestAnswer(BaseModel):
    """What the server did with a batch. A re-sent batch answers accepted 0 and the rest duplicates."""

    batch_id: uuid.UUID
    accepted: int
    duplicates: int
    rejected: list[RecordProblem]


class HeartbeatAnswer(BaseModel):
    sign: str
    time: AwareDatetime = Field(description="the stored instant: the heartbeat's ``at``, else when the server received it")
    clock_offset_s: float | None = Field(description="the sign's clock minus that instant")
    stored: bool = Field(description="false when a heartbeat at this instant was already stored")
