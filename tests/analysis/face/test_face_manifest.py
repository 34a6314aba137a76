"""Pluggable expression models: the manifest path that user models and the default share."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.face import FaceAnalyzer, create_analyzer
from mindsync.analysis.face.expression import MOUTH_EXPLAINS
from mindsync.analysis.face.manifest import (
    MODELS_DIR_MANIFEST,
    PACKAGED_MANIFEST,
    load_manifest,
    resolve_manifest_path,
)
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[2] / "data" / "face"
# HSEmotion's 8-class order, with contempt: a typical model a user drops in.
HSE_LABELS = ["Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise"]


def _astronaut_b64() -> str:
    return base64.b64encode((DATA / "astronaut.png").read_bytes()).decode("ascii")


def _copy_default(folder: Path) -> Path:
    """A user's copy of the shipped model and manifest in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(PACKAGED_MANIFEST.read_text(encoding="utf-8"))
    shutil.copy(PACKAGED_MANIFEST.parent / manifest["file"], folder / manifest["file"])
    manifest["name"] = "user-copy"
    path = folder / "user.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _toy_model(path: Path, logits: list[float], valence: float, arousal: float) -> None:
    """An NCHW RGB 32×32 model: 8 class logits that follow the mean colour, plus V/A heads."""
    weights = np.zeros((3, 8), dtype=np.float32)
    weights[0, 4] = 2.0  # more red → more "Happiness"
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["mixed"]),
        helper.make_node("Add", ["mixed", "b"], ["logits"]),
        helper.make_node("Identity", ["va_const"], ["va"]),
    ]
    inits = [
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(np.asarray([logits], dtype=np.float32), "b"),
        numpy_helper.from_array(np.asarray([[valence, arousal]], dtype=np.float32), "va_const"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 32, 32])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("va", TensorProto.FLOAT, [1, 2]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def _toy_manifest(folder: Path, **overrides: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _toy_model(folder / "toy.onnx", [0, 5, 0, 0, 3, 0, 0, 0], valence=0.5, arousal=-0.5)
    manifest = {
        "name": "toy-hse-like",
        "file": "toy.onnx",
        "input": {
            "name": "pixels",
            "layout": "NCHW",
            "size": [32, 32],
            "color": "rgb",
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
        },
        "labels": HSE_LABELS,
        "outputs": {
            "scores": {"name": "logits", "activation": "softmax"},
            "valence": {"name": "va", "index": 0, "range": [-1, 1]},
            "arousal": {"name": "va", "index": 1, "range": [-1, 1]},
        },
    }
    manifest.update(overrides)
    path = folder / "toy.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _loaded(settings: Settings) -> FaceAnalyzer:
    analyzer = create_analyzer(settings)
    analyzer.load()
    analyzer.warmup()
    return analyzer


def _single_output_model(path: Path, values: list[float]) -> None:
    """A model with one output [1, 10]: 8 class logits, then valence, then arousal."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["pixels"], ["m"], keepdims=0),
            helper.make_node("Mul", ["m", "zero"], ["z"]),
            helper.make_node("Add", ["out_const", "z"], ["out"]),
        ],
        "toy10",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])],
        [
            numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero"),
            numpy_helper.from_array(np.asarray([values], dtype=np.float32), "out_const"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def test_default_manifest_is_the_packaged_one() -> None:
    assert resolve_manifest_path(Settings()) == PACKAGED_MANIFEST
    manifest = load_manifest(PACKAGED_MANIFEST)
    assert manifest.name == "fer-mini-xception-fer2013"
    assert manifest.licence == "MIT"


def test_user_copy_of_default_gives_identical_results(tmp_path: Path) -> None:
    path = _copy_default(tmp_path / "ml_models")
    default = _loaded(Settings())
    user = _loaded(Settings(face_model_manifest=path))
    a = default.analyze(default.decode(_astronaut_b64()))
    b = user.analyze(user.decode(_astronaut_b64()))
    assert b.model == "user-copy"
    assert a.emotions == b.emotions


def test_models_dir_is_searched(tmp_path: Path) -> None:
    folder = tmp_path / "ml_models"
    _copy_default(folder).rename(folder / MODELS_DIR_MANIFEST)
    settings = Settings(models_dir=folder)
    assert resolve_manifest_path(settings) == folder / MODELS_DIR_MANIFEST
    assert _loaded(settings).model_name == "user-copy"


def test_relative_manifest_is_resolved_in_models_dir(tmp_path: Path) -> None:
    folder = tmp_path / "ml_models"
    _copy_default(folder)
    settings = Settings(models_dir=folder, face_model_manifest=Path("user.manifest.json"))
    assert _loaded(settings).model_name == "user-copy"


def test_user_model_labels_layout_and_valence_arousal(tmp_path: Path) -> None:
    path = _toy_manifest(tmp_path)
    analyzer = _loaded(Settings(face_model_manifest=path))
    result = analyzer.analyze(analyzer.decode(_astronaut_b64()))
    assert result.status == "ok" and result.model == "toy-hse-like"
    assert result.emotions is not None
    assert set(result.emotions) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert sum(result.emotions.values()) == pytest.approx(1.0)
    # "Contempt" had the largest logit but is not one of the seven: dropped, renormalised.
    assert result.dominant_emotion == "happy"
    assert result.valence_arousal_source == "model"
    assert result.valence == pytest.approx(0.5)
    assert result.arousal == pytest.approx(0.25)  # -0.5 in [-1, 1] → 0.25 in [0, 1]


def test_one_output_with_scores_then_valence_arousal(tmp_path: Path) -> None:
    # Like HSEmotion's *_va_mtl models: logits, then valence and arousal, in one tensor.
    _single_output_model(tmp_path / "va.onnx", [0, 0, 0, 4, 0, 0, 0, 0, -0.7, 0.9])
    manifest = {
        "name": "toy-va-mtl",
        "file": "va.onnx",
        "input": {"name": "pixels", "layout": "NCHW", "size": [32, 32], "color": "rgb"},
        "labels": HSE_LABELS,
        "outputs": {
            "scores": {"name": "out", "activation": "softmax", "start": 0},
            "valence": {"name": "out", "index": 8},
            "arousal": {"name": "out", "index": 9},
        },
    }
    path = tmp_path / "va.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    analyzer = _loaded(Settings(face_model_manifest=path))
    result = analyzer.analyze(analyzer.decode(_astronaut_b64()))
    assert result.dominant_emotion == "fear"
    assert result.emotions is not None
    # Softmax over the 8 logits only, contempt dropped: e^4 / (e^4 + 6); then the smiling
    # astronaut's parted lips discount the open-mouth classes (fear among them).
    assert result.mouth_open is not None and result.mouth_open > 0
    # (angry and surprise too: 2 of the other 6).
    factor = 1 - MOUTH_EXPLAINS * result.mouth_open
    kept = np.exp(4) * factor
    assert result.emotions["fear"] == pytest.approx(kept / (kept + 2 * factor + 4), rel=2e-3)
    assert result.valence == pytest.approx(-0.7, abs=1e-6)
    assert result.arousal == pytest.approx(0.95, abs=1e-6)


def test_more_labels_than_scores_fails_at_start(tmp_path: Path) -> None:
    _single_output_model(tmp_path / "va.onnx", [0.0] * 10)
    manifest = {
        "name": "toy-short",
        "file": "va.onnx",
        "input": {"name": "pixels", "layout": "NCHW", "size": [32, 32], "color": "rgb"},
        "labels": HSE_LABELS,
        "outputs": {"scores": {"name": "out", "start": 4}},
    }
    path = tmp_path / "short.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="class scores"):
        _loaded(Settings(face_model_manifest=path))


def test_user_model_follows_its_input(tmp_path: Path) -> None:
    path = _toy_manifest(tmp_path)
    analyzer = _loaded(Settings(face_model_manifest=path))
    image = Image.open(DATA / "astronaut.png").convert("RGB")
    reddish = Image.merge(
        "RGB",
        (
            image.getchannel("R").point(lambda v: min(255, v + 80)),
            image.getchannel("G"),
            image.getchannel("B"),
        ),
    )

    def happy(im: Image.Image) -> float:
        import io

        buf = io.BytesIO()
        im.save(buf, "PNG")
        result = analyzer.analyze(analyzer.decode(base64.b64encode(buf.getvalue()).decode()))
        assert result.emotions is not None
        return result.emotions["happy"]

    assert happy(reddish) > happy(image)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"labels": ["angry", "happy", "sad"]}, "labels lack"),
        ({"file": "missing.onnx"}, "missing"),
        ({"sha256": "0" * 64}, "sha256"),
        ({"input": {"name": "pixels", "layout": "NCHW", "size": [48, 48]}}, "input shape"),
        ({"input": {"name": "nope", "layout": "NCHW", "size": [32, 32]}}, "no input"),
        ({"outputs": {"scores": {"name": "nope"}}}, "no output"),
        ({"input": {"size": [32, 32], "colour": "rgb"}}, "invalid"),
        ({"name": ""}, "invalid"),
    ],
)
def test_bad_manifest_fails_loudly(
    tmp_path: Path, override: dict[str, object], message: str
) -> None:
    path = _toy_manifest(tmp_path, **override)
    with pytest.raises(ModelLoadError) as info:
        _loaded(Settings(face_model_manifest=path))
    assert message in str(info.value)


def test_missing_or_broken_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        _loaded(Settings(face_model_manifest=tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not readable JSON"):
        _loaded(Settings(face_model_manifest=broken))


def test_corrupt_onnx_file_fails_loudly(tmp_path: Path) -> None:
    path = _toy_manifest(tmp_path)
    (tmp_path / "toy.onnx").write_bytes(b"this is not an onnx model")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        _loaded(Settings(face_model_manifest=path))
