"""Everyday situations built from real recordings, and what a person would agree they show.

Every input is a real recording shipped in ``tests/data`` (photos, speech, IMU), except where
no real recording of that situation ships; those are **controlled variations**, generated
here and labelled ``generated`` in :attr:`Scene.sources` (and in docs/scoring.md):

- a phone lying on a desk: gravity plus white sensor noise (no phone-on-a-table recording
  ships in any package we know);
- a phone in the pocket of a seated person, until UCI HAPT excerpts ship in
  ``tests/data/motion/hapt_excerpts.npz`` (the motion model's issue adds them): gravity,
  breathing and postural sway;
- climbing stairs, until the same HAPT excerpts ship: the real BasicMotions walking
  recording stands in (stairs are walking to the fusion).

When ``hapt_excerpts.npz`` is there, the real HAPT excerpts (waist-worn phone, 50 Hz, acc in
g with gravity, gyro in rad/s, UCI test volunteers) replace the last two.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.motion import MotionRecording
from tests.analysis.motion.conftest import _parse_ts

DATA = Path(__file__).resolve().parents[1] / "data"
HAPT_EXCERPTS = DATA / "motion" / "hapt_excerpts.npz"
STANDARD_GRAVITY = 9.80665
RATE_HZ = 50


# ----------------------------------------------------------------------------------- motion
@cache
def _basic_motions() -> tuple[Any, ...]:
    return tuple(_parse_ts(DATA / "motion" / "BasicMotions_TEST.ts"))


def basic_motions(label: str, index: int = 0) -> MotionRecording:
    """A real BasicMotions smart-watch recording (10 s, 10 Hz, gravity removed) at 50 Hz."""
    recording = [r for r in _basic_motions() if r.label == label][index]
    return recording.at(RATE_HZ)


def most_restless_standing() -> MotionRecording:
    """The BasicMotions "standing" recording whose wrist keeps turning the most: a person in
    one place who keeps moving their hands. Picked by the median over one-second windows of
    the rotation rate (sustained movement; one burst does not count), not by any model."""
    standing = [r for r in _basic_motions() if r.label == "still"]

    def sustained(r: Any) -> float:
        rate = np.linalg.norm(r.gyro, axis=1)
        seconds = rate[: rate.size // 10 * 10].reshape(-1, 10)
        return float(np.median(np.sqrt(np.mean(seconds**2, axis=1))))

    return max(standing, key=sustained).at(RATE_HZ)


def hapt_available() -> bool:
    """Whether the real HAPT excerpts ship with this checkout."""
    return HAPT_EXCERPTS.exists()


def hapt(activity: str) -> MotionRecording | None:
    """The first HAPT excerpt of ``activity`` (sitting, upstairs, walking …) in m/s², or None."""
    if not hapt_available():
        return None
    with np.load(HAPT_EXCERPTS) as data:
        keys = sorted(k for k in data.files if k.startswith(f"{activity}_") and k.endswith("_acc"))
        if not keys:
            return None
        acc = data[keys[0]].astype(np.float64) * STANDARD_GRAVITY
        gyro_key = keys[0].removesuffix("_acc") + "_gyro"
        gyro = data[gyro_key].astype(np.float64) if gyro_key in data.files else None
    t = np.arange(acc.shape[0]) / RATE_HZ
    return MotionRecording(timestamps=t, acceleration=acc, gyroscope=gyro)


def phone_on_desk(seconds: float = 60.0, seed: int = 1) -> MotionRecording:
    """Generated: a phone lying flat and still, 50 Hz: gravity on z plus white noise of
    0.01 m/s² and 0.002 rad/s per axis (typical phone IMU noise; no real table recording
    ships)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    acc = rng.normal(0.0, 0.01, (n, 3))
    acc[:, 2] += STANDARD_GRAVITY
    gyro = rng.normal(0.0, 0.002, (n, 3))
    return MotionRecording(np.arange(n) / RATE_HZ, acc, gyro)


def seated_pocket(seconds: float = 30.0, seed: int = 2) -> MotionRecording:
    """Generated: a phone in the trouser pocket of a seated person, 50 Hz: tilted gravity,
    breathing (0.25 Hz, 0.05 m/s²), postural sway (0.7 Hz, 0.06 m/s²) and sensor noise
    (HAPT's seated training volunteers sway 0.05 m/s² at the median in the same band)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    down = np.array([0.2, 0.95, 0.25])
    acc = np.outer(np.ones(n), STANDARD_GRAVITY * down / np.linalg.norm(down))
    breathing = 0.05 * np.sin(2 * np.pi * 0.25 * t)
    sway = 0.06 * np.sin(2 * np.pi * 0.7 * t + 1.0)
    acc += np.column_stack((sway, breathing, 0.5 * breathing + sway))
    acc += rng.normal(0.0, 0.01, (n, 3))
    gyro = np.column_stack(
        (
            0.01 * np.sin(2 * np.pi * 0.25 * t),
            0.008 * np.sin(2 * np.pi * 0.7 * t),
            0.004 * np.ones(n),
        )
    )
    gyro += rng.normal(0.0, 0.002, (n, 3))
    return MotionRecording(t, acc, gyro)


def seated_motion() -> tuple[MotionRecording, str]:
    """A seated person's phone: the real HAPT sitting excerpt when it ships, else generated."""
    real = hapt("sitting")
    if real is not None:
        return real, "HAPT sitting excerpt (real, waist-worn phone)"
    return seated_pocket(), "generated: phone in the pocket of a seated person"


def stairs_motion() -> tuple[MotionRecording, str]:
    """Climbing stairs: the real HAPT upstairs excerpt when it ships, else real walking."""
    real = hapt("upstairs")
    if real is not None:
        return real, "HAPT upstairs excerpt (real, waist-worn phone)"
    return basic_motions("walking", 1), "BasicMotions walking (real) standing in for stairs"


# ------------------------------------------------------------------------ requests and scenes
def b64(path: Path) -> str:
    """The file's bytes in base64, as a client sends them."""
    return base64.b64encode(path.read_bytes()).decode()


def motion_json(recording: MotionRecording) -> dict[str, Any]:
    """The request's columnar ``motion_data`` for a recording."""
    out: dict[str, Any] = {
        "timestamps": recording.timestamps.tolist(),
        "acceleration": {k: recording.acceleration[:, i].tolist() for i, k in enumerate("xyz")},
    }
    if recording.gyroscope is not None:
        out["gyroscope"] = {k: recording.gyroscope[:, i].tolist() for i, k in enumerate("xyz")}
    return out


@dataclass(frozen=True)
class Expect:
    """What a person would agree the situation shows (qualitative, no exact numbers)."""

    situations: frozenset[str]
    counts: dict[str, set[str]]
    """Per fused score ("stress", "attention", "overall"): the modalities that count."""
    null: dict[str, str] = field(default_factory=dict)
    """Per fused score that must be null: its reason_code."""
    excluded: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per fused score: modality -> reason_code of the ones left out."""
    fire: frozenset[str] = frozenset()
    never: frozenset[str] = frozenset()


#: Person-directed advice that only makes sense when a person was measured.
PERSON_ADVICE = frozenset(
    {
        "stress-breathing",
        "attention-screen-break",
        "attention-below-your-usual",
        "restless-settle",
        "low-mood-check-in",
        "sedentary-stand-stretch",
        "walking-look-up",
        "eyes-rest",
        "balanced-keep-going",
    }
)
MOVING_NEVER = frozenset(
    {
        "attention-screen-break",
        "attention-below-your-usual",
        "sedentary-stand-stretch",
        "restless-settle",
    }
)


@dataclass(frozen=True)
class Scene:
    """One everyday situation: real (or labelled generated) inputs and the expected outcome."""

    id: str
    title: str
    face: str | None
    voice: str | None
    motion: Callable[[], tuple[MotionRecording, str]] | None
    expect: Expect

    def inputs(self) -> tuple[dict[str, Any], list[str]]:
        """(request fields, sources) for ``POST /analyze``."""
        fields: dict[str, Any] = {}
        sources: list[str] = []
        if self.face is not None:
            fields["face_image"] = b64(DATA / "face" / self.face)
            sources.append(f"face: {self.face} (real photo)")
        if self.voice is not None:
            fields["audio_data"] = b64(DATA / "voice" / self.voice)
            sources.append(f"voice: {self.voice} (real recording)")
        if self.motion is not None:
            recording, source = self.motion()
            fields["motion_data"] = motion_json(recording)
            sources.append(f"motion: {source}")
        return fields, sources


def _real(label: str, index: int = 0) -> Callable[[], tuple[MotionRecording, str]]:
    return lambda: (basic_motions(label, index), f"BasicMotions {label} (real smart watch)")


SCENES: tuple[Scene, ...] = (
    Scene(
        id="desk-work",
        title="Working at a desk: frontal face, no speech, phone lying on the desk",
        face="grace_hopper.jpg",
        voice="ami_room_noise.wav",
        motion=lambda: (phone_on_desk(), "generated: phone lying on the desk"),
        expect=Expect(
            situations=frozenset({"at_desk_device_on_table"}),
            counts={"stress": {"face"}, "attention": {"face"}, "overall": {"face"}},
            excluded={
                "stress": {"voice": "no_speech"},
                "attention": {"motion": "not_on_person"},
            },
            fire=frozenset({"audio-no-speech"}),
            never=frozenset(
                {
                    "improve-audio-capture",
                    "sedentary-stand-stretch",
                    "restless-settle",
                    "attention-screen-break",
                    "stress-breathing",
                }
            ),
        ),
    ),
    Scene(
        id="call-walking",
        title="A phone call while walking: speech, walking, no face",
        face=None,
        voice="arctic_a0007.wav",
        motion=_real("walking"),
        expect=Expect(
            situations=frozenset({"walking"}),
            counts={"stress": {"voice"}, "overall": {"voice"}},
            null={"attention": "not_applicable_moving"},
            excluded={"attention": {"motion": "not_applicable_moving"}},
            never=MOVING_NEVER | {"walking-look-up", "low-mood-check-in", "eyes-rest"},
        ),
    ),
    Scene(
        id="speaking-seated",
        title="Speaking to the camera while seated",
        face="obama_speaking.jpg",
        voice="arctic_a0007.wav",
        motion=seated_motion,
        expect=Expect(
            situations=frozenset({"seated", "stationary"}),
            counts={
                "stress": {"face", "voice"},
                "attention": {"face", "motion"},
                "overall": {"face", "voice", "motion"},
            },
            # A speaking mouth reads as anger/fear to an expression model; the face analyser
            # lowers its confidence, and a low-confidence face must not start a mood talk.
            never=frozenset(
                {
                    "low-mood-check-in",
                    "attention-screen-break",
                    "restless-settle",
                    "audio-no-speech",
                    "walking-look-up",
                }
            ),
        ),
    ),
    Scene(
        id="stairs",
        title="Climbing stairs, phone in the pocket",
        face=None,
        voice=None,
        motion=stairs_motion,
        expect=Expect(
            situations=frozenset({"walking"}),
            counts={},
            null={
                "attention": "not_applicable_moving",
                "stress": "not_measured",
                "overall": "no_usable_signal",
            },
            never=PERSON_ADVICE,
        ),
    ),
    Scene(
        id="stairs-looking-at-phone",
        title="Climbing stairs while looking at the phone",
        face="carphone_000.png",
        voice=None,
        motion=stairs_motion,
        expect=Expect(
            situations=frozenset({"walking"}),
            counts={"stress": {"face"}, "overall": {"face"}},
            null={"attention": "not_applicable_moving"},
            excluded={
                "attention": {"face": "not_applicable_moving", "motion": "not_applicable_moving"}
            },
            fire=frozenset({"walking-look-up"}),
            never=MOVING_NEVER,
        ),
    ),
    Scene(
        id="restless-in-place",
        title="Restless while staying in one place (fidgeting, not walking)",
        face="astronaut.png",
        voice=None,
        motion=lambda: (
            most_restless_standing(),
            "BasicMotions standing (real smart watch), the one with most hand movement",
        ),
        expect=Expect(
            situations=frozenset({"seated", "standing", "stationary"}),
            counts={"attention": {"face", "motion"}},
            fire=frozenset({"restless-settle"}),
            never=frozenset(
                {"sedentary-stand-stretch", "walking-look-up", "attention-below-your-usual"}
            ),
        ),
    ),
    Scene(
        id="running-tense-voice",
        title="Talking while running: a raised voice, running",
        face=None,
        voice="emodb_03a01Wa.wav",
        motion=_real("running"),
        expect=Expect(
            situations=frozenset({"exercising"}),
            counts={"stress": {"voice"}, "overall": {"voice"}},
            null={"attention": "not_applicable_moving"},
            # A raised voice while running is effort, not a reason for a breathing exercise.
            never=MOVING_NEVER | {"stress-breathing", "stress-above-your-usual"},
        ),
    ),
    Scene(
        id="device-unattended",
        title="A device left on a table with nobody there",
        face="coffee.png",
        voice="ami_room_noise.wav",
        motion=lambda: (phone_on_desk(seconds=120.0, seed=3), "generated: phone on a table"),
        expect=Expect(
            situations=frozenset({"device_unattended"}),
            counts={},
            null={
                "stress": "no_usable_signal",
                "attention": "no_usable_signal",
                "overall": "no_usable_signal",
            },
            excluded={
                "stress": {"face": "no_face", "voice": "no_speech"},
                "attention": {"face": "no_face", "motion": "not_on_person"},
            },
            never=PERSON_ADVICE | {"improve-audio-capture"},
        ),
    ),
)
