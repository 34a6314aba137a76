"""The web app imports the JavaScript client from ``src/mindsync/web/client/``, a copy of
``clients/js/src`` that travels in the wheel; the client's ``schema.d.ts`` is generated from
the OpenAPI document. Both must be current: ``tools/js_client_build.py`` rebuilds them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "js_client_build", ROOT / "tools" / "js_client_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_web_apps_copy_and_the_types_are_current() -> None:
    assert _tool().stale_files() == [], "run: .venv/bin/python tools/js_client_build.py"


def test_the_web_app_no_longer_has_its_own_api_module() -> None:
    web = ROOT / "src" / "mindsync" / "web"
    assert not (web / "api.js").exists()
    for name in ("app.js", "live.js"):
        text = (web / name).read_text()
        assert "./api.js" not in text and "setFloat64" not in text  # framing is the client's


def test_the_types_describe_every_response_field() -> None:
    text = (ROOT / "clients" / "js" / "src" / "schema.d.ts").read_text()
    assert "export interface AnalysisResponse {" in text
    assert "/** Confidence of stress_level, 0 (no evidence) to 1. */" in text
