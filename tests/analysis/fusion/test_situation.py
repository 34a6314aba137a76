"""The situation read from the results, with the motion model's placement and without it."""

from __future__ import annotations

import pytest

from mindsync.analysis.fusion.situation import SITUATIONS, motion_state, read_situation
from tests.analysis.fusion.factories import face_result, motion_result, voice_result

TABLE = {"sway_ms2": 0.005, "restlessness": 0.0, "stillness": 1.0}


@pytest.mark.parametrize(
    ("motion", "expected"),
    [
        (motion_result(activity="walking", restlessness=0.9, stillness=0.0), "walking"),
        (motion_result(activity="running", restlessness=1.0, stillness=0.0), "exercising"),
        (motion_result(activity="vigorous", restlessness=1.0, stillness=0.0), "exercising"),
        (motion_result(activity="walking", placement="moving_with_person"), "walking"),
        # A class the motion analyser may add later (e.g. stairs) counts as moving.
        (motion_result(activity="walking").model_copy(update={"activity": "stairs"}), "walking"),
        (motion_result(placement="on_person_stationary", posture="sitting"), "seated"),
        (motion_result(placement="on_person_stationary", posture="standing"), "standing"),
        (motion_result(placement="on_person_stationary", posture="lying"), "lying"),
        (motion_result(placement="on_person_stationary"), "stationary"),
        (motion_result(), "stationary"),  # no placement: body sway says "on a person"
        (motion_result(placement="not_on_person"), "device_unattended"),
        (motion_result(**TABLE), "device_unattended"),  # no placement, no sway: a table
    ],
)
def test_motion_alone(motion, expected) -> None:
    reading = read_situation({"motion": motion})
    assert reading.situation == expected
    assert reading.situation in SITUATIONS
    assert 0 <= reading.confidence <= 1


def test_someone_at_a_device_lying_on_the_desk() -> None:
    for other in ({"face": face_result()}, {"voice": voice_result()}):
        reading = read_situation({"motion": motion_result(**TABLE), **other})
        assert reading.situation == "at_desk_device_on_table"
        assert "motion" in reading.modalities


def test_without_motion() -> None:
    assert read_situation({"face": face_result()}).situation == "at_screen"
    assert read_situation({"voice": voice_result()}).situation == "unknown"
    assert read_situation({}).situation == "unknown"
    no_motion = motion_result(status="no_signal")
    assert read_situation({"motion": no_motion}).situation == "unknown"


def test_an_unsure_placement_falls_back_on_the_signal() -> None:
    unsure = motion_result(
        activity="walking", placement="on_person_stationary", placement_confidence=0.3
    )
    assert motion_state(unsure)[0] == "moving"


def test_posture_needs_confidence() -> None:
    unsure = motion_result(
        placement="on_person_stationary", posture="sitting", posture_confidence=0.3
    )
    assert read_situation({"motion": unsure}).situation == "stationary"


def test_a_still_result_without_features_is_unknown() -> None:
    bare = motion_result(restlessness=0.0, stillness=1.0).model_copy(update={"features": None})
    assert motion_state(bare)[0] == "unknown"
