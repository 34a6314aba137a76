"""The motion analyser: activity, device placement, posture, activity level and restlessness."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.base import Analyzer
from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.motion.decode import DecodedMotion, decode_recording
from mindsync.analysis.motion.features import ALL_FEATURES, second_levels, step_period
from mindsync.analysis.motion.json_input import MotionJSON, motion_from_json
from mindsync.analysis.motion.model import DEFAULT_MODEL_PATH, MotionModel, load_model
from mindsync.analysis.motion.pipeline import Extraction, Refusal, extract
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.motion.result import ACTIVITY_CLASSES, MotionQuality, MotionResult
from mindsync.analysis.motion.signal import CanonicalSegment, saturated_fraction
from mindsync.analysis.motion.states import StateEstimate, estimate_states
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)

#: activity_level = 1 - exp(-rms / ACTIVITY_SCALE): ≈0.1 standing, ≈0.4 walking, ≈0.9 running
#: with a wrist-worn device (see docs/models/motion.md).
ACTIVITY_SCALE_MS2 = 6.0
#: A second is still when its dynamic acceleration and rotation stay below these.
STILL_ACC_MS2 = 0.3
STILL_GYRO_RADS = 0.25
#: Restlessness grades each second on a log scale between "quiet" and "walking strength".
QUIET_ACC_MS2, BUSY_ACC_MS2 = 0.2, 3.0
QUIET_GYRO_RADS, BUSY_GYRO_RADS = 0.15, 1.5
#: Quality knots: (value, quality) pairs, linearly interpolated.
_RATE_KNOTS = ((4.0, 10.0, 20.0), (0.3, 0.85, 1.0))
_DURATION_KNOTS = ((3.0, 10.0, 20.0), (0.4, 0.9, 1.0))


def _graded(level: np.ndarray, quiet: float, busy: float) -> np.ndarray:
    graded: np.ndarray = np.clip(
        np.log(np.maximum(level, 1e-9) / quiet) / np.log(busy / quiet), 0.0, 1.0
    )
    return graded


class MotionAnalyzer(Analyzer[DecodedMotion, MotionResult]):
    """Classifies activity and measures movement from accelerometer (+ gyroscope) samples.

    Thread-safe: after :meth:`load` the instance holds only read-only arrays.
    """

    modality = "motion"

    def __init__(self, settings: Settings, *, model_path: Path | None = None) -> None:
        self._max_samples = settings.motion_max_samples
        self._max_seconds = settings.motion_max_seconds
        self._model_path = model_path or DEFAULT_MODEL_PATH
        self._model: MotionModel | None = None

    def load(self) -> None:
        """Read the activity model (a small JSON file shipped in the package)."""
        self._model = load_model(self._model_path)
        logger.info("motion model loaded (sha256 %s)", self._model.sha256[:12])

    def warmup(self) -> None:
        """Analyse 10 s of synthetic 50 Hz samples once (fills the filter-design caches)."""
        t = np.arange(500) / 50.0
        wobble = 0.5 * np.sin(2 * np.pi * 1.8 * t)
        acc = np.column_stack((wobble, 0.3 * wobble, 9.81 + wobble))
        gyro = np.column_stack((0.2 * wobble, wobble, 0.1 * wobble))
        for rotation in (gyro, None):
            self.analyze(self.decode(MotionRecording(t, acc, rotation)))

    def decode(self, raw: Any) -> DecodedMotion:
        """Validate, sort and merge the samples (see :mod:`mindsync.analysis.motion.decode`).

        ``raw`` may still be JSON text (:class:`MotionJSON`): it is parsed here first, or
        :class:`MotionNeedsValidation` is raised when it is not plainly well formed.
        """
        if isinstance(raw, MotionJSON):
            raw = motion_from_json(raw)
        return decode_recording(raw, max_samples=self._max_samples, max_seconds=self._max_seconds)

    def describe(self) -> dict[str, Any]:
        """Model facts for ``/health``."""
        facts: dict[str, Any] = {"analyzer": type(self).__name__, "classes": list(ACTIVITY_CLASSES)}
        if self._model is not None:
            facts["model_sha256"] = self._model.sha256
            facts["model_trained_on"] = self._model.info.get("data")
        return facts

    def analyze(self, data: DecodedMotion) -> MotionResult:
        """Estimate activity, placement, posture, activity level and restlessness.

        Returns ``status="no_signal"`` with a ``reason_code`` (too_few_samples,
        rate_too_low, too_short, gaps) when nothing can be analysed; a device lying on a
        surface is ``status="ok"`` with ``placement="not_on_person"`` and reason_code
        ``not_on_person``: its stillness says nothing about a person.
        """
        model = self._model
        if model is None:
            raise ModelLoadError("the motion model is not loaded")
        common: dict[str, Any] = {
            "samples": data.samples_received,
            "has_gyroscope": data.gyro is not None,
            "timestamp_unit": data.time_unit,
        }
        found = extract(data)
        if isinstance(found, Refusal):
            if found.sampling is not None:
                common["sampling_rate_hz"] = round(found.sampling.rate_hz, 2)
                common["duration_seconds"] = round(found.sampling.duration_s, 3)
            return MotionResult(
                status="no_signal",
                reason=found.reason,
                reason_code=found.code,
                quality=found.quality,
                **common,
            )
        sampling, segments = found.sampling, found.segments
        common["has_gyroscope"] = found.has_gyroscope
        common["sampling_rate_hz"] = round(sampling.rate_hz, 2)
        common["duration_seconds"] = round(sampling.duration_s, 3)
        usable_seconds = float(sum(data.t[b - 1] - data.t[a] for a, b in found.usable))
        saturated = saturated_fraction(found.acc)
        quality = MotionQuality(
            rate=round(float(np.interp(sampling.rate_hz, *_RATE_KNOTS)), 4),
            duration=round(float(np.interp(usable_seconds, *_DURATION_KNOTS)), 4),
            gaps=round(max(0.0, 1.0 - sampling.gap_seconds / max(sampling.duration_s, 1e-9)), 4),
            saturation=round(max(0.0, 1.0 - 5.0 * saturated), 4),
            gap_seconds=round(sampling.gap_seconds, 3),
            gap_count=sampling.gap_count,
            saturated_fraction=round(saturated, 4),
        )
        overall = quality.rate * quality.duration * quality.gaps * quality.saturation

        heads = model.with_gyro if found.has_gyroscope else model.acc_only
        estimate = estimate_states(heads, found.windows, model.posture_min_confidence)
        level, restlessness, stillness = self._movement(segments)
        features = self._features(found, found.has_gyroscope, estimate)
        reason = reason_code = None
        if estimate.placement == "not_on_person":
            reason_code = "not_on_person"
            reason = (
                "the device lies still on a surface: no tremor or sway of a person, so its "
                "stillness says nothing about the person"
            )
        return MotionResult(
            status="ok",
            reason=reason,
            reason_code=reason_code,
            quality=round(float(np.clip(overall, 0.0, 1.0)), 4),
            confidence=round(estimate.confidence, 4),
            activity=estimate.activity,
            activity_probabilities={k: round(v, 4) for k, v in estimate.probabilities.items()},
            gravity_included=found.gravity_included,
            placement=estimate.placement,
            placement_confidence=round(estimate.placement_confidence, 4),
            posture=estimate.posture,
            posture_confidence=(
                None if estimate.posture is None else round(estimate.posture_confidence, 4)
            ),
            acceleration_unit=found.unit.unit,
            acceleration_unit_note=found.unit.note,
            features=features,
            quality_breakdown=quality,
            activity_level=level,
            restlessness=restlessness,
            stillness_ratio=stillness,
            **common,
        )

    @staticmethod
    def _movement(segments: list[CanonicalSegment]) -> tuple[float, float, float]:
        """(activity_level, restlessness, stillness_ratio) of the canonical stretches."""
        dynamic = np.concatenate([s.dynamic for s in segments])
        rms = float(np.sqrt(np.mean(np.sum(dynamic**2, axis=1))))
        acc_levels, gyro_levels = [], []
        for segment in segments:
            acc_level, gyro_level = second_levels(segment)
            acc_levels.append(acc_level)
            if gyro_level is not None:
                gyro_levels.append(gyro_level)
        acc_level = np.concatenate(acc_levels)
        graded = _graded(acc_level, QUIET_ACC_MS2, BUSY_ACC_MS2)
        still = acc_level < STILL_ACC_MS2
        if gyro_levels:
            gyro_level = np.concatenate(gyro_levels)
            graded = np.maximum(graded, _graded(gyro_level, QUIET_GYRO_RADS, BUSY_GYRO_RADS))
            still &= gyro_level < STILL_GYRO_RADS
        return (
            round(float(1.0 - np.exp(-rms / ACTIVITY_SCALE_MS2)), 4),
            round(float(np.mean(graded)), 4),
            round(float(np.mean(still)), 4),
        )

    @staticmethod
    def _features(found: Extraction, use_gyro: bool, estimate: StateEstimate) -> dict[str, float]:
        """Readable, derived statistics averaged over the analysis windows."""
        mean = dict(zip(ALL_FEATURES, found.windows.mean(axis=0), strict=True))
        out = {
            "dynamic_acc_rms_ms2": float(np.exp(mean["log_acc_rms"]) - 0.01),
            "dynamic_acc_p90_ms2": float(np.exp(mean["log_acc_p90"]) - 0.01),
            "jerk_rms_ms3": float(np.exp(mean["log_jerk_rms"]) - 0.01),
            "dominant_frequency_hz": float(mean["dominant_hz"]),
            "spectral_entropy": float(mean["spectral_entropy"]),
            "periodicity": float(mean["periodicity"]),
            "windows": float(found.windows.shape[0]),
            "stairs_probability": estimate.stairs_probability,
        }
        if found.gravity_included:
            out["tilt_drift_deg"] = float(np.exp(mean["log_tilt_deg"]) - 0.01)
        if use_gyro:
            out["rotation_rms_rads"] = float(np.exp(mean["log_gyro_rms"]) - 0.005)
            out["rotation_p90_rads"] = float(np.exp(mean["log_gyro_p90"]) - 0.005)
        if estimate.activity in ("walking", "running"):
            period = step_period(found.segments, running=estimate.activity == "running")
            if period is not None:
                out["cadence_steps_per_min"] = 60.0 / period
        gravity = np.concatenate([s.gravity for s in found.segments])
        out["gravity_magnitude_ms2"] = float(np.median(np.linalg.norm(gravity, axis=1)))
        return {
            key: round(max(value, 0.0) if key != "periodicity" else value, 4)
            for key, value in out.items()
        }
