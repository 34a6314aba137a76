"""The one validated settings object of the service.

Every value comes from the environment (or a ``.env`` file): ``DATABASE_URL`` and
``LOG_LEVEL`` by their plain names, everything else as ``MINDSYNC_<NAME>``.
An invalid value stops the service at start with a message that names the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "mindsync.db"

MB = 1024 * 1024


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid setting; the message names the variable."""


class Settings(BaseSettings):
    """All of MindSync's configuration; tests build it as ``Settings(database_url=...)``."""

    model_config = SettingsConfigDict(
        env_prefix="MINDSYNC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    # --- storage -------------------------------------------------------------
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}",
        validation_alias=AliasChoices("DATABASE_URL", "MINDSYNC_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL. sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    db_pool_size: int = Field(default=5, ge=1, le=100)
    auto_migrate: bool = Field(
        default=True, description="Apply Alembic migrations when the server starts."
    )

    # --- logging -------------------------------------------------------------
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = Field(
        default="INFO",
        validation_alias=AliasChoices("LOG_LEVEL", "MINDSYNC_LOG_LEVEL", "log_level"),
    )
    log_json: bool = Field(default=False, description="Emit one JSON object per log line.")

    # --- privacy and retention -------------------------------------------------
    default_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Retention for users without preferences."
    )
    consent_required: bool = Field(
        default=True,
        description=(
            "Analyse a modality only after the user consented to it (POST /preferences, "
            "POST /users with consent, `mindsync users create --consent`). Set to false only "
            "where consent is recorded outside MindSync: the deployment is then responsible "
            "for it, and users without stored preferences are analysed on every modality."
        ),
    )
    metrics_retention_days: int = Field(default=30, ge=1, le=3650)
    retention_interval_seconds: float = Field(
        default=3600.0, ge=1.0, le=7 * 86400, description="How often retention runs in-server."
    )

    baseline_min_sessions: int = Field(
        default=5, ge=1, le=1000, description="Sessions before personal comparisons start."
    )

    # --- request limits --------------------------------------------------------
    max_request_bytes: int = Field(
        default=32 * MB, ge=1024, description="Body limit of POST /analyze (bytes)."
    )
    max_small_request_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Body limit of every other route (bytes)."
    )
    face_max_bytes: int = Field(default=8 * MB, ge=1024, description="Decoded image bytes.")
    face_max_pixels: int = Field(default=25_000_000, ge=10_000)
    audio_max_bytes: int = Field(default=10 * MB, ge=1024, description="Decoded audio bytes.")
    audio_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    motion_max_samples: int = Field(default=60_000, ge=10)
    motion_max_seconds: float = Field(default=600.0, gt=0, le=86400)

    # --- models ------------------------------------------------------------------
    models_dir: Path | None = Field(
        default=None,
        description="Folder of user-supplied model manifests (the seed's ml_models/).",
    )
    face_model_manifest: Path | None = Field(
        default=None,
        description="Manifest of the expression model to use instead of the shipped one.",
    )
    analysis_threads: int = Field(
        default=4, ge=1, le=64, description="Worker threads that run analysis off the event loop."
    )
    analysis_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "Analysis processes shared by all connections of one server process; 0 analyses "
            "in threads of the server process. `mindsync serve` and gunicorn.conf.py default "
            "to one per core."
        ),
    )
    analysis_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "With analysis processes: a hand-over (one modality, or several analysed one "
            "after another when there are fewer processes than modalities) still running "
            "after this long has its process stopped and the request gets a 503 (threads "
            "cannot be stopped)."
        ),
    )

    # --- security ----------------------------------------------------------------
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the administrator, who may act for any user (>= 32 chars).",
    )
    allow_anonymous: bool = Field(
        default=False,
        description="Allow /analyze without a token; anonymous results are never stored.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list or comma-separated)."
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per token (or per address); 0 = off."
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "MINDSYNC_REDIS_URL", "redis_url"),
        description="Share rate limits between processes through Redis.",
    )
    max_json_depth: int = Field(default=32, ge=4, le=1000)
    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description="Failed authentications per client address and minute before 429; 0 = off.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed (JSON list or comma-separated); none by default.",
    )
    token_ttl_days: float = Field(
        default=90.0, ge=0, le=3650, description="Days a new API token works; 0 = no expiry."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit log's HMAC pseudonyms of erased users (>= 32 chars); "
        "generated and kept in the database when unset.",
    )

    # --- server ----------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="Time to send a request's headers (then 408)."
    )
    body_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Time to send a request's body after its headers (then 408); a 32 MB "
        "body needs about 0.55 MB/s.",
    )
    keepalive_timeout_seconds: float = Field(
        default=5.0, gt=0, le=600, description="Idle time before a kept-alive connection closes."
    )
    max_connections_per_address: int = Field(
        default=64, ge=1, le=100_000, description="Open connections per client address."
    )
    db_start_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long the server waits for the database at start before it exits.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        """Accept common spellings and return a URL that SQLAlchemy 2 with psycopg 3 understands."""
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith(("sqlite", "postgresql+psycopg")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value

    @field_validator("admin_token")
    @classmethod
    def _strong_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        """An administrator token must be long enough not to be guessed."""
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        """Every trusted proxy must be an IP address or network."""
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("pseudonym_key")
    @classmethod
    def _strong_pseudonym_key(cls, value: SecretStr | None) -> SecretStr | None:
        """A pseudonym key must be long enough not to be guessed."""
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        """True when the configured database is SQLite."""
        return self.database_url.startswith("sqlite")


def _env_name(loc: tuple[object, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        return str(info.validation_alias.choices[0])
    return f"MINDSYNC_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; raises :class:`SettingsError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"Invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings read from the environment (cached)."""
    return load_settings()
