"""Collector configuration: serial sources and the spool/forward/heartbeat knobs.

Plain pydantic models, not ``BaseSettings``: the application composes them into its one
settings object at the entry point (style.md §6). Every validation error names the field and
the offending value.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_validator, model_validator

from .plausible import DEFAULT_EARLIEST, DEFAULT_FUTURE_MARGIN, TimeRule

DEFAULT_SPOOL_PATH = Path("/var/lib/fartkoll/spool.sqlite3")


class SerialSource(BaseModel):
    """One radar sign or sensor on a serial port.

    ``port`` should be a stable ``/dev/serial/by-id/...`` path: USB adapters come back under
    another ``ttyUSB*``/``ttyACM*`` name after an unplug, the by-id link does not change.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = Field(min_length=1, description="Device path, preferably /dev/serial/by-id/...")
    baudrate: int = Field(9600, gt=0, le=4_000_000)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 1.5, 2] = 1
    protocol: str = Field(min_length=1, description="Name for collector.protocols.make_parser")
    unit: str | None = Field(
        None, description="Speed unit the device is set to; passed to the parser as unit=..."
    )
    parser_options: dict[str, Any] = Field(default_factory=dict)
    sign_serial: str = Field(min_length=1, description="The sign's serial number, as registered")
    sign_id: int | None = Field(
        None, ge=1, description="Database id of the sign, needed only when writing to the database"
    )
    mounting_angle_deg: float = Field(
        0.0, description="Angle between the beam and the road, degrees; true = measured / cos"
    )
    grouping_gap_s: float = Field(
        0.8, gt=0, le=10, description="Readings further apart than this belong to two vehicles"
    )
    grouping_options: dict[str, Any] = Field(
        default_factory=dict,
        description="More collector.grouping.Grouper options: min_readings, clock, min_speed_kmh, "
        "ends_on_idle (default: true where the protocol's idle line ends a vehicle, e.g. houston-dr500)",
    )

    @field_validator("sign_serial", "protocol")
    @classmethod
    def _strip_nonblank(cls, value: str, info: Any) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError(f"{info.field_name} {value!r} is blank; give a non-empty value")
        return stripped

    @field_validator("parity", mode="before")
    @classmethod
    def _parity_upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("mounting_angle_deg")
    @classmethod
    def _angle_in_range(cls, value: float) -> float:
        if not 0.0 <= value < 80.0:  # also rejects NaN
            raise ValueError(
                f"mounting_angle_deg {value!r} is outside 0..80 degrees; "
                "measure the angle between the radar beam and the direction of travel"
            )
        return value

    @field_validator("unit")
    @classmethod
    def _unit_nonblank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"unit {value!r} is blank; leave it out or name the unit, e.g. 'kmh'")
        return value.strip() if value is not None else None

    @property
    def namespace(self) -> str:
        """Idempotency-key namespace of this source's passes."""
        return f"serial:{self.sign_serial}"


class CollectorSettings(BaseModel):
    """Everything the serial collector needs besides the sink it writes to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SerialSource] = Field(default_factory=list)
    spool_path: Path = DEFAULT_SPOOL_PATH
    batch_size: int = Field(500, ge=1, le=10_000, description="Passes per sink write at most")
    max_batch_age_s: float = Field(
        5.0, ge=0, le=3600, description="Send a part-filled batch once its oldest pass is this old"
    )
    reopen_backoff_min_s: float = Field(0.5, gt=0, le=3600)
    reopen_backoff_max_s: float = Field(60.0, gt=0, le=3600)
    sink_backoff_min_s: float = Field(1.0, gt=0, le=3600)
    sink_backoff_max_s: float = Field(300.0, gt=0, le=3600)
    read_timeout_s: float = Field(0.2, gt=0, le=10, description="Serial read timeout")
    forward_url: HttpUrl | None = Field(None, description="Central server base URL (edge mode)")
    forward_token: SecretStr | None = None
    forward_timeout_s: float = Field(30.0, gt=0, le=600)
    heartbeat_interval_s: float = Field(60.0, gt=0, le=3600)
    earliest_time: datetime = Field(
        DEFAULT_EARLIEST, description="Records timed before this are refused as implausible"
    )
    future_margin_s: float = Field(
        DEFAULT_FUTURE_MARGIN.total_seconds(), ge=0, le=86_400,
        description="Records timed more than this after their receive (or import) time are refused",
    )

    @field_validator("earliest_time")
    @classmethod
    def _aware_earliest(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if not datetime(1990, 1, 1, tzinfo=timezone.utc) <= value <= datetime(2100, 1, 1, tzinfo=timezone.utc):
            raise ValueError(f"earliest_time {value.isoformat()} is outside 1990..2100")
        return value

    def time_rule(self) -> TimeRule:
        """The plausible-time rule these settings describe."""
        return TimeRule(self.earliest_time, timedelta(seconds=self.future_margin_s))

    @model_validator(mode="after")
    def _consistent(self) -> "CollectorSettings":
        for lo, hi in (("reopen_backoff_min_s", "reopen_backoff_max_s"),
                       ("sink_backoff_min_s", "sink_backoff_max_s")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(
                    f"{lo} {getattr(self, lo)!r} is larger than {hi} {getattr(self, hi)!r}; "
                    "the minimum backoff must not exceed the maximum"
                )
        if (self.forward_url is None) != (self.forward_token is None):
            given = "forward_url" if self.forward_url is not None else "forward_token"
            missing = "forward_token" if self.forward_url is not None else "forward_url"
            raise ValueError(f"{given} is set but {missing} is not; set both for edge mode or neither")
        seen_serials: set[str] = set()
        seen_ports: set[str] = set()
        for i, src in enumerate(self.sources):
            if src.sign_serial in seen_serials:
                raise ValueError(
                    f"sources[{i}].sign_serial {src.sign_serial!r} appears twice; "
                    "each sign may be configured once"
                )
            if src.port in seen_ports:
                raise ValueError(
                    f"sources[{i}].port {src.port!r} appears twice; one port carries one sign"
                )
            seen_serials.add(src.sign_serial)
            seen_ports.add(src.port)
        return self
