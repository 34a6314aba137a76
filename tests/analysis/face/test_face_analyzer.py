"""The face analyser on real photographs that packages ship (see tests/data/face/PROVENANCE.md)."""

from __future__ import annotations

import base64
import io
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps
from tests.analysis.face.conftest import photo

from mindsync.analysis.errors import InputError
from mindsync.analysis.face import FaceAnalyzer, FaceResult, create_analyzer
from mindsync.analysis.registry import load_analyzers
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[2] / "data" / "face"
EMOTIONS = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}


def _photo(name: str) -> Image.Image:
    return photo(name)


def _b64(image: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _run(analyzer: FaceAnalyzer, image: Image.Image, fmt: str = "PNG") -> FaceResult:
    return analyzer.analyze(analyzer.decode(_b64(image, fmt)))


def _assert_estimate_ok(result: FaceResult) -> None:
    assert result.status == "ok" and result.reason is None
    assert result.emotions is not None and set(result.emotions) == EMOTIONS
    assert sum(result.emotions.values()) == pytest.approx(1.0, abs=1e-6)
    assert result.dominant_emotion == max(result.emotions, key=result.emotions.__getitem__)
    assert result.confidence is not None
    assert 0 < result.confidence <= result.emotions[result.dominant_emotion]
    assert result.valence is not None and -1 <= result.valence <= 1
    assert result.arousal is not None and 0 <= result.arousal <= 1
    assert result.head_pose is not None and result.eyes_open is not None
    assert result.quality_factors is not None


def test_smiling_astronaut_is_happy(analyzer: FaceAnalyzer) -> None:
    result = _run(analyzer, _photo("astronaut.png"))
    _assert_estimate_ok(result)
    assert result.dominant_emotion == "happy"
    assert result.emotions is not None and result.emotions["happy"] > 0.8
    assert result.valence is not None and result.valence > 0.5
    assert result.faces_detected == 1
    assert result.facing_screen is True
    assert result.head_pose is not None and abs(result.head_pose.yaw) < 15
    assert result.eyes_open is not None and result.eyes_open > 0.6
    assert result.quality > 0.8
    assert result.model == "fer-mini-xception-fer2013"
    assert result.valence_arousal_source == "circumplex"


def test_grace_hopper_is_neutral(analyzer: FaceAnalyzer) -> None:
    result = _run(analyzer, _photo("grace_hopper.jpg"), fmt="JPEG")
    _assert_estimate_ok(result)
    assert result.dominant_emotion == "neutral"
    assert result.valence is not None and abs(result.valence) < 0.3
    assert result.facing_screen is True


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_mirror_keeps_emotion_and_flips_roll(analyzer: FaceAnalyzer, name: str) -> None:
    image = _photo(name)
    plain, mirrored = _run(analyzer, image), _run(analyzer, ImageOps.mirror(image))
    assert mirrored.dominant_emotion == plain.dominant_emotion
    assert plain.head_pose is not None and mirrored.head_pose is not None
    assert plain.head_pose.roll * mirrored.head_pose.roll < 0  # both tilted a little, opposite
    assert mirrored.head_pose.roll == pytest.approx(-plain.head_pose.roll, abs=3)


@pytest.mark.parametrize("angle", [-30, 25])
def test_in_plane_rotation_is_measured_and_aligned_away(
    analyzer: FaceAnalyzer, angle: float
) -> None:
    image = _photo("astronaut.png")
    upright = _run(analyzer, image)
    turned = _run(
        analyzer, image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(128,) * 3)
    )
    assert turned.dominant_emotion == "happy"  # the crop is levelled before classification
    assert upright.head_pose is not None and turned.head_pose is not None
    # PIL rotates anticlockwise; our roll is positive clockwise.
    assert turned.head_pose.roll - upright.head_pose.roll == pytest.approx(-angle, abs=6)


def test_turned_face_gives_large_yaw(analyzer: FaceAnalyzer) -> None:
    # skimage's "camera": a real photo of a man looking into a camcorder, face turned to
    # the image's right by roughly 60°.
    result = _run(analyzer, _photo("camera.png"))
    assert result.status == "ok"
    assert result.faces_detected >= 1
    assert result.head_pose is not None and result.head_pose.yaw > 35
    assert result.facing_screen is False
    assert result.quality_factors is not None and result.quality_factors.pose < 0.6
    # Too far turned for a frontal expression model: no emotion, and it says why.
    assert result.dominant_emotion is None and result.emotions is None
    assert result.confidence is None
    assert result.reason is not None and "turned" in result.reason


def test_turned_face_mirrored_gives_opposite_yaw(analyzer: FaceAnalyzer) -> None:
    result = _run(analyzer, ImageOps.mirror(_photo("camera.png")))
    assert result.head_pose is not None and result.head_pose.yaw < -35
    assert result.facing_screen is False


@pytest.mark.parametrize("name", ["coffee.png", "rocket.jpg"])
def test_photo_without_face_is_no_signal(analyzer: FaceAnalyzer, name: str) -> None:
    result = _run(analyzer, _photo(name))
    assert result.status == "no_signal"
    assert result.reason is not None and "no face" in result.reason
    assert result.faces_detected == 0
    assert result.quality == 0.0 and result.confidence is None
    assert result.dominant_emotion is None and result.emotions is None
    assert result.valence is None and result.arousal is None
    assert result.head_pose is None and result.eyes_open is None and result.facing_screen is None


def test_blurred_face_is_no_signal(analyzer: FaceAnalyzer) -> None:
    # Gaussian blur of σ = 4 % of the face width (the face is about 200 px wide).
    blurred = _photo("grace_hopper.jpg").filter(ImageFilter.GaussianBlur(8))
    result = _run(analyzer, blurred)
    assert result.status == "no_signal"
    assert result.reason is not None and "blur" in result.reason
    assert result.quality <= 0.2
    assert result.emotions is None and result.head_pose is None
    assert result.quality_factors is not None and result.quality_factors.sharpness == 0.0


def test_mild_blur_lowers_quality_but_keeps_answer(analyzer: FaceAnalyzer) -> None:
    sharp = _run(analyzer, _photo("grace_hopper.jpg"))
    soft = _run(analyzer, _photo("grace_hopper.jpg").filter(ImageFilter.GaussianBlur(3)))
    assert soft.status == "ok" and soft.dominant_emotion == sharp.dominant_emotion
    assert soft.quality_factors is not None and sharp.quality_factors is not None
    assert soft.quality_factors.sharpness < sharp.quality_factors.sharpness


def test_too_small_face_is_no_signal(analyzer: FaceAnalyzer) -> None:
    tiny = _photo("grace_hopper.jpg").resize((61, 72), Image.Resampling.LANCZOS)
    result = _run(analyzer, tiny)
    assert result.status == "no_signal"
    assert result.reason is not None and "px" in result.reason
    assert result.quality <= 0.2 and result.emotions is None


def test_dark_photo_lowers_exposure_quality(analyzer: FaceAnalyzer) -> None:
    image = _photo("astronaut.png")
    dark = Image.eval(image, lambda v: v // 6)
    normal, dim = _run(analyzer, image), _run(analyzer, dark)
    assert normal.quality_factors is not None and dim.quality_factors is not None
    assert dim.quality_factors.exposure < 0.2 < normal.quality_factors.exposure
    assert dim.quality < 0.6 < normal.quality


def test_two_faces_reports_both_and_analyses_largest(analyzer: FaceAnalyzer) -> None:
    astronaut = _photo("astronaut.png").crop((130, 30, 320, 230))
    hopper = _photo("grace_hopper.jpg").crop((120, 90, 410, 400))
    canvas = Image.new("RGB", (480, 310), (90, 90, 90))
    canvas.paste(astronaut, (0, 50))
    canvas.paste(hopper, (190, 0))  # Grace Hopper's face is about twice as wide
    result = _run(analyzer, canvas)
    assert result.faces_detected == 2
    assert result.dominant_emotion == "neutral"
    canvas = Image.new("RGB", (480, 310), (90, 90, 90))
    canvas.paste(astronaut.resize((380, 400)), (0, 0))
    canvas.paste(hopper.resize((145, 155)), (330, 0))  # now the astronaut's is larger
    result = _run(analyzer, canvas)
    assert result.faces_detected == 2
    assert result.dominant_emotion == "happy"


@pytest.mark.parametrize("position", [(0.1, 0.1), (0.45, 0.3), (0.7, 0.6)])
def test_small_face_in_large_photo_is_found_by_tiles(
    analyzer: FaceAnalyzer, position: tuple[float, float]
) -> None:
    # The astronaut photo (face 107 px wide) inside a 1280×960 scene: the face spans 8 % of
    # the width, below what the short-range detector finds in the whole frame.
    scene = _photo("coffee.png").resize((1280, 960), Image.Resampling.BILINEAR)
    ox, oy = int(1280 * position[0]), int(960 * position[1])
    scene.paste(_photo("astronaut.png"), (ox, oy))
    # The whole-frame pass alone does not find it (the face is at x 177–272, y 81–175).
    whole_frame = analyzer._models()[0].detect(scene)
    assert not any(
        abs(d.box[0] - (177 + ox)) < 30 and abs(d.box[1] - (81 + oy)) < 30 for d in whole_frame
    )
    result = _run(analyzer, scene, fmt="JPEG")
    assert result.status == "ok" and result.dominant_emotion == "happy"
    assert result.faces_detected == 1


def test_exif_rotated_jpeg_is_analysed_upright(analyzer: FaceAnalyzer) -> None:
    stored = _photo("astronaut.png").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=exif, quality=92)
    result = analyzer.analyze(analyzer.decode(base64.b64encode(buf.getvalue()).decode()))
    assert result.dominant_emotion == "happy"
    assert result.head_pose is not None and abs(result.head_pose.roll) < 10


@pytest.mark.parametrize("mode", ["L", "I;16", "CMYK", "P", "RGBA", "LA"])
def test_other_pixel_modes_are_analysed(analyzer: FaceAnalyzer, mode: str) -> None:
    image = _photo("astronaut.png")
    if mode == "I;16":
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
        converted = Image.fromarray(grey)
        assert converted.mode == "I;16"
    else:
        converted = image.convert(mode)
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    result = _run(analyzer, converted, fmt=fmt)
    assert result.dominant_emotion == "happy"


def test_damaged_files_never_raise_anything_but_input_errors(analyzer: FaceAnalyzer) -> None:
    # Real photos with random bytes overwritten and/or cut short: each must either analyse
    # (ok / no_signal) or be refused with an InputError, never raise anything else.
    rng = random.Random(1234)
    photo = _photo("astronaut.png")
    encoded = {}
    for fmt in ("JPEG", "PNG", "WEBP"):
        buf = io.BytesIO()
        photo.save(buf, fmt)
        encoded[fmt] = buf.getvalue()
    outcomes = set()
    for _ in range(60):
        data = bytearray(encoded[rng.choice(sorted(encoded))])
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        try:
            result = analyzer.analyze(analyzer.decode(base64.b64encode(bytes(data)).decode()))
            outcomes.add(result.status)
        except InputError:
            outcomes.add("refused")
    assert "refused" in outcomes and "ok" in outcomes


def test_result_holds_no_image_data(analyzer: FaceAnalyzer) -> None:
    result = _run(analyzer, _photo("astronaut.png"))
    text = result.model_dump_json()
    assert len(text) < 1500
    assert "base64" not in text and "data:" not in text


def test_analyze_is_thread_safe(analyzer: FaceAnalyzer) -> None:
    inputs = [analyzer.decode(_b64(_photo(n))) for n in ("astronaut.png", "grace_hopper.jpg")]
    expected = [analyzer.analyze(d).model_dump() for d in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: analyzer.analyze(inputs[i % 2]).model_dump(), range(24)))
    for i, got in enumerate(results):
        assert got == expected[i % 2]


def test_registry_loads_the_face_analyzer() -> None:
    registry = load_analyzers(Settings(), modalities=("face",))
    assert "face" in registry.analyzers, registry.unavailable
    info = registry.describe()["face"]
    assert info["loaded"] is True and info["model"] == "fer-mini-xception-fer2013"


def test_analyze_before_load_raises_model_error() -> None:
    from mindsync.analysis.errors import ModelLoadError

    fresh = create_analyzer(Settings())
    with pytest.raises(ModelLoadError):
        fresh.analyze(fresh.decode(_b64(_photo("astronaut.png"))))
