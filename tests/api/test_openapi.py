"""The OpenAPI document as a contract: valid, secured, described, typed, with examples that
validate against their schemas and work as-is for a normal user."""

from __future__ import annotations

import base64
from typing import Any

import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from tests.conftest import CONSENT_ALL, DATA_DIR, make_client

PUBLIC_PATHS = {"/", "/livez", "/health", "/metrics", "/openapi.json"}


@pytest.fixture
def client(settings, clock, real_registry):
    with make_client(settings, real_registry, clock) as c:
        yield c


@pytest.fixture
def document(client) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def _validator(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    """A validator for component ``name`` that resolves the document's ``$ref``s."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def test_the_document_is_valid_openapi_3_1(document) -> None:
    assert document["openapi"].startswith("3.1")
    errors = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert errors == []


def test_every_route_that_needs_a_token_declares_bearer_security(document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            secured = operation.get("security") == [{"bearer": []}]
            assert secured is (path not in PUBLIC_PATHS), (method, path)


def test_every_field_of_every_request_and_response_is_described(document) -> None:
    # Unit, range and what null means: a new field without a description fails here.
    undescribed = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_the_request_body_is_one_object_with_the_two_motion_forms_as_a_named_one_of(
    document,
) -> None:
    request = document["components"]["schemas"]["AnalysisRequest"]
    assert "anyOf" not in request and "oneOf" not in request  # one object, not three
    motion = request["properties"]["motion_data"]["anyOf"]
    forms = next(item["oneOf"] for item in motion if "oneOf" in item)
    assert forms[0]["title"] == "MotionSamples" and forms[0]["type"] == "array"
    assert forms[1] == {"$ref": "#/components/schemas/MotionColumns"}


def test_modalities_are_typed_per_modality_and_scores_carry_their_confidence(document) -> None:
    response = document["components"]["schemas"]["AnalysisResponse"]
    modalities = response["properties"]["modalities"]
    assert modalities["additionalProperties"] is False
    assert {m: s["$ref"].rsplit("/", 1)[1] for m, s in modalities["properties"].items()} == {
        "face": "FaceResult",
        "voice": "VoiceResult",
        "motion": "MotionResult",
    }
    for score in ("stress", "attention", "overall"):
        assert f"{score}_confidence" in response["properties"]
    assert "SessionRead" in document["components"]["schemas"]


def _examples(document: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(where, schema name, example) for every example in the document."""
    found = []
    for name, schema in document["components"]["schemas"].items():
        found += [(f"schema {name}", name, e) for e in schema.get("examples", [])]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media["schema"].get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                for key, example in media.get("examples", {}).items():
                    found.append((f"{method} {path} {key}", name, example["value"]))
    return found


def test_every_example_validates_against_its_schema(document) -> None:
    examples = _examples(document)
    assert len(examples) >= 4
    for where, name, example in examples:
        errors = [str(e) for e in _validator(document, name).iter_errors(example)]
        assert errors == [], where


def _user_headers(client, consent: list[str]) -> dict[str, str]:
    created = client.post("/users", json={"name": "Docs reader", "consent": consent})
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


def test_the_documented_examples_work_as_is_for_a_normal_user(client, document) -> None:
    headers = _user_headers(client, CONSENT_ALL)
    analyze = document["paths"]["/analyze"]["post"]["requestBody"]["content"]
    for key, example in analyze["application/json"]["examples"].items():
        response = client.post("/analyze", json=example["value"], headers=headers)
        assert response.status_code == 200, (key, response.text)
        assert response.json()["modalities"]["motion"]["status"] == "ok", key
        errors = list(_validator(document, "AnalysisResponse").iter_errors(response.json()))
        assert errors == [], key
    preferences = document["components"]["schemas"]["PreferencesUpdate"]["examples"][0]
    assert client.post("/preferences", json=preferences, headers=headers).status_code == 200


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


def test_a_real_analysis_validates_and_rounds_every_number_to_4_decimals(client, document) -> None:
    headers = _user_headers(client, CONSENT_ALL)
    photo = base64.b64encode((DATA_DIR / "face" / "astronaut.png").read_bytes()).decode()
    speech = base64.b64encode((DATA_DIR / "voice" / "arctic_a0007.wav").read_bytes()).decode()
    response = client.post(
        "/analyze", json={"face_image": photo, "audio_data": speech}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(_validator(document, "AnalysisResponse").iter_errors(body)) == []
    assert body["stress_confidence"] == body["assessment"]["stress"]["confidence"] > 0
    assert body["attention_confidence"] == body["assessment"]["attention"]["confidence"]
    numbers = _floats({k: v for k, v in body.items() if k != "processing_time_ms"})
    assert numbers and all(round(x, 4) == x for x in numbers)
    stored = client.get(f"/session/{body['session_id']}", headers=headers).json()
    assert stored["overall_confidence"] == body["overall_confidence"]
