"""The scenario table through the whole API: POST /analyze with the real recordings, then
the stored session read back, on the test database (SQLite, or PostgreSQL when
MINDSYNC_TEST_DATABASE_URL names one)."""

from __future__ import annotations

import pytest

from mindsync.analysis.fusion import FusedScore, Recommendation
from tests.conftest import give_consent, make_client
from tests.scenarios.scenes import SCENES, Scene
from tests.scenarios.test_scenarios import check


@pytest.fixture
def client(settings, clock, real_registry):
    with make_client(settings, real_registry, clock) as c:
        yield c


def _check_body(body: dict, scene: Scene) -> None:
    assessment = body["assessment"]
    check(
        situation=assessment["situation"],
        scores={
            n: FusedScore.model_validate(assessment[n]) for n in ("stress", "attention", "overall")
        },
        fired=[Recommendation.model_validate(r) for r in body["recommendation_details"]],
        analysed=set(body["modalities"]),
        scene=scene,
    )
    # The top-level scores are the bounded values, null where the assessment is null.
    for top, name in (("stress_level", "stress"), ("attention_score", "attention"),
                      ("overall_score", "overall")):  # fmt: skip
        assert body[top] == assessment[name]["value"]


@pytest.mark.parametrize("scene", SCENES, ids=[s.id for s in SCENES])
def test_scenario_through_the_api(scene: Scene, client) -> None:
    fields, _ = scene.inputs()
    give_consent(client, f"scene-{scene.id}")  # consent is explicit (issue 16)
    response = client.post("/analyze", json={"user_id": f"scene-{scene.id}", **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    _check_body(body, scene)
    assert body["stored"] is True
    stored = client.get(f"/session/{body['session_id']}")
    assert stored.status_code == 200, stored.text
    again = stored.json()
    assert again["assessment"] == body["assessment"]
    assert again["recommendation_details"] == body["recommendation_details"]
    _check_body(again, scene)
