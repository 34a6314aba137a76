"""``face_focus``: the client points at the face to analyse in an image with several."""

from __future__ import annotations

import base64
from pathlib import Path

from PIL import Image

from tests.conftest import make_client

FACES = Path(__file__).resolve().parents[1] / "data" / "face"
GROUP = base64.b64encode((FACES / "group_five.jpg").read_bytes()).decode()


def test_focus_selects_which_face_is_analysed(settings, clock, real_registry) -> None:
    with make_client(settings, real_registry, clock) as c:
        default = c.post("/analyze", json={"face_image": GROUP}).json()
        faces = default["modalities"]["face"]["faces"]
        assert len(faces) == 5 and faces[0]["primary"]
        x, y, w, h = faces[-1]["box"]
        with Image.open(FACES / "group_five.jpg") as image:
            width, height = image.size
        focus = {"x": (x + w / 2) / width, "y": (y + h / 2) / height}
        pointed = c.post("/analyze", json={"face_image": GROUP, "face_focus": focus}).json()
    chosen = [f for f in pointed["modalities"]["face"]["faces"] if f["primary"]]
    assert len(chosen) == 1 and chosen[0]["box"] == faces[-1]["box"]


def test_bad_focus_is_a_422_naming_the_field(settings, clock, real_registry) -> None:
    with make_client(settings, real_registry, clock) as c:
        for focus in ({"x": 1.5, "y": 0.2}, {"x": "0.5", "y": 0.2}, {"x": 0.5}, [0.5, 0.5]):
            response = c.post("/analyze", json={"face_image": GROUP, "face_focus": focus})
            assert response.status_code == 422, response.text
            assert "face_focus" in response.text
