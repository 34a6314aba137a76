"""Settings: defaults, aliases, normalisation, and errors that name the variable."""

from __future__ import annotations

import pytest

from mindsync.core.config import Settings, SettingsError, load_settings


def test_defaults_serve_sqlite_under_data() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///data/mindsync.db"
    assert settings.is_sqlite
    assert settings.face_max_bytes == 8 * 1024 * 1024
    assert settings.face_max_pixels == 25_000_000
    assert settings.audio_max_seconds == 60
    assert settings.motion_max_samples == 60_000


def test_plain_and_prefixed_environment_names(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@db/mindsync")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MINDSYNC_DEFAULT_RETENTION_DAYS", "14")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://postgres@db/mindsync"
    assert settings.log_level == "DEBUG"
    assert settings.default_retention_days == 14


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MINDSYNC_PORT", "eighty"),
        ("MINDSYNC_DEFAULT_RETENTION_DAYS", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
