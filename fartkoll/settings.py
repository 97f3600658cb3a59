"""The one settings object: environment (prefix ``FARTKOLL_``) over an optional TOML file.

Built once at the entry point (``Settings.load()``), never at import time. Nested sections use
``__`` in the environment, e.g. ``FARTKOLL_LOCALDB__PORT=5440``. ``DATABASE_URL`` (no prefix) is
honoured as well, as most hosting platforms set it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as SourceError

from collector.config import CollectorSettings
from core.errors import InvalidInput
from planner.jobs.settings import JobsSettings
from planner.promise import PromiseSettings
from planner.settings import PlannerSettings, known_time_zone

from .setting_names import OUTSIDE_SETTINGS, environment_problems, unknown_keys

__all__ = ["OUTSIDE_SETTINGS", "ApiSettings", "IngestSettings", "PasswordSettings", "SessionSettings", "LocalDbSettings", "Settings", "SettingsError"]


class SettingsError(InvalidInput):
    """The settings are invalid; the message names each field, its value and the problem."""


class LocalDbSettings(BaseModel):
    """The embedded TimescaleDB that ``fartkoll db up`` runs when no DATABASE_URL is set."""

    root: Path = Path("/var/cache/fartkoll/timescaledb-root")
    port: int = Field(5433, ge=1024, le=65535)
    database: str = "fartkoll"
    suite: str = "trixie"


class IngestSettings(BaseModel):
    """Limits of sign uploads (``/api/v1/ingest/...``) and of the group commit behind them."""

    # a body over this answers 413 (from Content-Length before anything is read, else while reading)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # records (passes, bins, CSV rows) in one upload; more answer 413
    max_records: int = Field(10_000, ge=1, le=1_000_000)
    # uploads admitted at once per server process (each holds a pooled connection while it waits)
    uploads_at_once: int = Field(36, ge=1, le=1000)
    # seconds an upload waits for its group to commit before it answers 503 (the sign sends it again)
    answer_timeout_s: float = Field(60.0, gt=0, le=3600)
    # writer threads of the group commit per server process, each with its own database connection.
    # One: with `fartkoll serve`'s process per core, one writer each gathers the largest groups
    # (`bench api`, 2 processes: 33,419-34,319 passes/s with 1, 22,038-25,623 with 2, 18,641-23,124
    # with 3); a single process (`--workers 1`) did ~8 % better with 3 (24,638 against 22,717)
    group_writers: int = Field(1, ge=1, le=64)
    # passes one group-commit transaction takes at most
    group_max_passes: int = Field(20_000, ge=1, le=1_000_000)


class PasswordSettings(BaseModel):
    """The argon2id cost of every password hash and check (defaults: the argon2 library's
    recommended parameters, RFC 9106 low-memory profile). Only a test run lowers them."""

    time_cost: int = Field(RFC_9106_LOW_MEMORY.time_cost, ge=1, le=64)
    memory_kib: int = Field(RFC_9106_LOW_MEMORY.memory_cost, ge=64, le=4 * 1024 * 1024)
    parallelism: int = Field(RFC_9106_LOW_MEMORY.parallelism, ge=1, le=16)


class SessionSettings(BaseModel):
    """How long a login lasts and how many failed logins are let through."""

    # a session ends this long after login at the latest
    lifetime_h: float = Field(7 * 24, gt=0, le=366 * 24)
    # or when unused this long
    idle_h: float = Field(12, gt=0, le=366 * 24)
    # failed logins are counted over this window
    login_window_s: float = Field(900, gt=0, le=86_400)
    # failed logins per account within the window before even the right password is refused
    login_failures_per_account: int = Field(5, ge=1, le=10_000)
    # failed logins per client address within the window
    login_failures_per_address: int = Field(20, ge=1, le=100_000)


class ApiSettings(BaseModel):
    """The HTTP server: where it listens, how it logs, how long it lets requests finish."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # the site is served over HTTPS (e.g. behind a proxy): session and CSRF cookies get Secure
    https: bool = False
    # /metrics for anyone (a scraper on the same network) or for admins only
    metrics_public: bool = True
    # "json": one JSON object a line (time, level, logger, message, request fields)
    log_format: Literal["text", "json"] = "text"
    # on SIGTERM/SIGINT, seconds to let in-flight requests finish before closing them
    shutdown_grace_s: float = Field(30.0, ge=0, le=3600)
    ingest: IngestSettings = IngestSettings()
    sessions: SessionSettings = SessionSettings()
    passwords: PasswordSettings = PasswordSettings()


class WebSettings(BaseModel):
    """The pages: where the map's background tiles come from (None: a plain background)."""

    # e.g. "https://tiles.example.org/{z}/{x}/{y}.png"; its origin joins the Content-Security-Policy
    tiles_url: str | None = None
    # the credit line the tile provider asks for, shown on the map
    tiles_attribution: str = ""
    # public pages show a past control (and its measured effect) only this long after it ended
    public_control_delay_days: int = Field(14, ge=1, le=365)

    @field_validator("tiles_url")
    @classmethod
    def _tiles_url(cls, v: str | None) -> str | None:
        if v and (not v.startswith(("https://", "http://")) or "{z}" not in v):
            raise ValueError(f"tiles_url {v!r} must be an http(s) URL with {{z}}, {{x}} and {{y}}")
        return v or None


class Settings(BaseSettings):
    """Everything Fartkoll can be told, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="FARTKOLL_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    database_url: str | None = Field(
        None, validation_alias=AliasChoices("FARTKOLL_DATABASE_URL", "DATABASE_URL")
    )
    localdb: LocalDbSettings = LocalDbSettings()
    api: ApiSettings = ApiSettings()
    web: WebSettings = WebSettings()
    collector: CollectorSettings = CollectorSettings()
    # Reporting threshold: a vehicle is reportable at v >= limit + threshold_over_kmh.
    threshold_over_kmh: float = Field(6.0, ge=0, le=50)
    default_time_zone: str = "Europe/Stockholm"
    planner: PlannerSettings = PlannerSettings()
    jobs: JobsSettings = JobsSettings()
    promise: PromiseSettings = PromiseSettings()

    @field_validator("database_url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user@host:5432/db)")
        return v

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_time_zone(v)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @classmethod
    def load(cls, toml_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Read the TOML file (``FARTKOLL_CONFIG`` if no path is given), then the environment."""
        path = toml_path or os.environ.get("FARTKOLL_CONFIG")
        file_values = _read_toml(Path(path)) if path else {}
        problems = [f"  {p}" for p in unknown_keys(cls, file_values, ())]
        problems += [f"  {p}" for p in environment_problems(cls, os.environ)]
        if problems:
            where = f"file {path} and environment" if path else "environment"
            raise SettingsError(f"invalid settings ({where}):\n" + "\n".join(problems))
        try:
            env_only = cls(**overrides)  # environment and overrides
            merged = _deep_merge(file_values, env_only.model_dump(exclude_unset=True))
            return cls.model_validate(merged) if merged else env_only
        except ValidationError as e:
            raise SettingsError(_describe(e, path)) from None
        except SourceError as e:  # a variable's value the checks above did not foresee
            raise SettingsError(f"invalid settings (environment): {e}") from None

    def database_dsn(self) -> str:
        """The DATABASE_URL if set, else the local TimescaleDB's address with its password.

        The password comes from the file ``fartkoll db up`` writes (``localdb.password_file``);
        the result is a secret: show it only through ``fartkoll.db.redact``.
        """
        if self.database_url:
            return self.database_url
        from urllib.parse import quote

        from .localdb import read_password

        db = self.localdb
        password = read_password(db)
        auth = "postgres" + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{db.port}/{db.database}"


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's values; every way the file can be unusable is a SettingsError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist; unset FARTKOLL_CONFIG or create it") from None
    except IsADirectoryError:
        raise SettingsError(f"settings file {path} is a folder; give the path of a TOML file in it") from None
    except PermissionError:
        raise SettingsError(f"settings file {path} cannot be read by this user (permission denied); "
                            "check its owner and mode") from None
    except OSError as e:
        raise SettingsError(f"settings file {path} cannot be read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SettingsError(
            f"settings file {path} is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start} "
            f"(line {line}); a settings file is TOML saved as UTF-8") from None
    if "\x00" in text:
        raise SettingsError(f"settings file {path} contains NUL bytes (offset {text.index(chr(0))}): "
                            "it is a binary file, not TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"settings file {path} is not valid TOML: {e}") from None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _describe(e: ValidationError, path: str | os.PathLike[str] | None) -> str:
    lines = [f"invalid settings{f' (file {path} and environment)' if path else ' (environment)'}:"]
    for err in e.errors():
        parts = [str(p) for p in err["loc"]]
        if parts and parts[0] in ("DATABASE_URL", "FARTKOLL_DATABASE_URL"):
            parts[0] = "database_url"  # reported under its alias
        loc = ".".join(parts)
        env = "FARTKOLL_" + "__".join(parts).upper()
        lines.append(f"  {loc} = {err.get('input')!r}: {err['msg']} (set {env} or '{loc}' in the TOML file)")
    return "\n".join(lines)
