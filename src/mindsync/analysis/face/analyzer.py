"""The face analyser: detection → face mesh → pose, eyes, quality → expression."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from mindsync.analysis.base import Analyzer, Modality
from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.face import quality as q
from mindsync.analysis.face.detector import Detection, FaceDetector
from mindsync.analysis.face.expression import ExpressionModel
from mindsync.analysis.face.geometry import (
    LandmarkModel,
    Mesh,
    SquareRoi,
    eye_aspect_ratio,
    eye_openness,
    head_pose,
    roi_from_detection,
    roi_from_landmarks,
)
from mindsync.analysis.face.image import FaceImage, decode_face_image
from mindsync.analysis.face.manifest import (
    ExpressionManifest,
    load_geometry_manifest,
    load_manifest,
    resolve_manifest_path,
)
from mindsync.analysis.face.result import FaceQuality, FaceResult, HeadPose
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)

REFINE_BELOW_PRESENCE = 0.9  # face-mesh presence under which a second mesh pass is run
MAX_CANDIDATES = 3  # detections checked with the face mesh, largest first


class FaceAnalyzer(Analyzer[FaceImage, FaceResult]):
    """Analyses the largest face of an image. Construct cheaply, then ``load()`` once.

    ``analyze`` is thread-safe: it keeps no per-call state, and onnxruntime sessions may be
    run from several threads at once.
    """

    modality: ClassVar[Modality] = "face"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._manifest: ExpressionManifest | None = None
        self._detector: FaceDetector | None = None
        self._landmarks: LandmarkModel | None = None
        self._expression: ExpressionModel | None = None

    # ----------------------------------------------------------------- life cycle
    def load(self) -> None:
        """Load the detector, the face mesh and the manifest's expression model.

        Raises :class:`ModelLoadError` when a file is missing, corrupt or inconsistent.
        """
        geometry = load_geometry_manifest()
        manifest = load_manifest(resolve_manifest_path(self._settings))
        self._detector = FaceDetector(geometry["detector"])
        self._landmarks = LandmarkModel(geometry["landmarks"])
        self._expression = ExpressionModel(manifest)
        self._manifest = manifest
        logger.info("face analyser loaded expression model %s", manifest.name)

    def warmup(self) -> None:
        """Run every model once on a blank frame."""
        detector, landmarks, expression = self._models()
        blank = Image.new("RGB", (640, 480), (128, 128, 128))
        detector.detect(blank)
        roi = SquareRoi(320.0, 240.0, 200.0, 0.0)
        landmarks.run(blank, roi)
        expression.predict(expression.crop(blank, roi))

    def describe(self) -> dict[str, Any]:
        """Model names, versions and licences (no file paths)."""
        info: dict[str, Any] = {"analyzer": type(self).__name__}
        if self._manifest is not None:
            info.update(
                model=self._manifest.name,
                model_version=self._manifest.version,
                model_licence=self._manifest.licence,
                detector="mediapipe-blazeface-short-range (0.10.21)",
                landmarks="mediapipe-face-mesh-468 (0.10.21)",
            )
        return info

    def _models(self) -> tuple[FaceDetector, LandmarkModel, ExpressionModel]:
        if self._detector is None or self._landmarks is None or self._expression is None:
            raise ModelLoadError("the face analyser is not loaded; call load() first")
        return self._detector, self._landmarks, self._expression

    @property
    def model_name(self) -> str:
        """Name of the expression model in use (from its manifest)."""
        return self._manifest.name if self._manifest is not None else "unloaded"

    # ----------------------------------------------------------------- requests
    def decode(self, raw: Any) -> FaceImage:
        """Validate and decode ``face_image`` (base64 or ``data:`` URL of JPEG/PNG/WebP).

        Raises ``PayloadTooLarge`` (413), ``UnsupportedMediaType`` (415) or ``InputError``
        (422), each naming ``face_image`` and, for limits, the limit.
        """
        return decode_face_image(
            raw,
            max_bytes=self._settings.face_max_bytes,
            max_pixels=self._settings.face_max_pixels,
        )

    def analyze(self, data: FaceImage) -> FaceResult:
        """Analyse the largest face; "no_signal" (never an exception) when none is usable."""
        detector, landmarks, expression = self._models()
        image = data.image
        faces = detector.detect(image)
        face, mesh, count = self._confirm(landmarks, image, faces)
        if face is None and detector.can_tile(image):
            tiled = detector.detect_tiles(image)
            face, mesh, count = self._confirm(landmarks, image, tiled)
            faces = faces or tiled
        if face is None or mesh is None:
            if not faces:
                return self._no_signal("no face was found in the image", faces=0, quality=0.0)
            return self._no_signal(
                "a face-like region was found but the face mesh did not confirm a face",
                faces=0,
                quality=0.05,
            )
        pose = head_pose(mesh.points)
        face_roi = roi_from_landmarks(mesh.points, 1.0)
        gray = face_roi.crop(image, q.SHARPNESS_SIZE).convert("L")
        factors = {
            "face_size": q.ramp(face_roi.size, q.MIN_FACE_PX, q.GOOD_FACE_PX),
            "sharpness": q.sharpness_quality(q.blur(gray)),
            "exposure": q.exposure(gray),
            "pose": q.pose_quality(pose.yaw, pose.pitch),
            "detection": q.detection_quality(face.score, mesh.presence),
        }
        quality = q.combine(factors)
        details = FaceQuality(face_width_px=round(face_roi.size, 1), **factors)
        if face_roi.size < q.MIN_FACE_PX:
            return self._no_signal(
                f"the face is {face_roi.size:.0f} px wide; at least {q.MIN_FACE_PX:.0f} px "
                "are needed",
                faces=count,
                quality=min(quality, 0.2),
                details=details,
            )
        if factors["sharpness"] <= 0.0:
            return self._no_signal(
                "the face is too blurred to read an expression",
                faces=count,
                quality=min(quality, 0.2),
                details=details,
            )
        right_ear, left_ear = eye_aspect_ratio(mesh.points)
        geometry_fields: dict[str, Any] = {
            "faces_detected": count,
            "head_pose": HeadPose(
                yaw=round(pose.yaw, 1), pitch=round(pose.pitch, 1), roll=round(pose.roll, 1)
            ),
            "eyes_open": round((eye_openness(right_ear) + eye_openness(left_ear)) / 2, 3),
            "facing_screen": abs(pose.yaw) <= q.FACING_YAW and abs(pose.pitch) <= q.FACING_PITCH,
            "quality_factors": details,
            "model": self.model_name,
        }
        if abs(pose.yaw) > q.MAX_EXPRESSION_YAW or abs(pose.pitch) > q.MAX_EXPRESSION_PITCH:
            # Pose and eyes are real signal (attention); an emotion read off a profile is not.
            return FaceResult(
                status="ok",
                reason=(
                    f"the face is turned {abs(pose.yaw):.0f}° sideways and "
                    f"{abs(pose.pitch):.0f}° up/down; expressions are read up to "
                    f"{q.MAX_EXPRESSION_YAW:.0f}° and {q.MAX_EXPRESSION_PITCH:.0f}°"
                ),
                quality=round(quality, 4),
                confidence=None,
                **geometry_fields,
            )
        crop_roi = roi_from_landmarks(mesh.points, expression.manifest.input.crop_scale)
        result = expression.predict(expression.crop(image, crop_roi))
        probabilities = result.probabilities
        dominant = max(probabilities, key=probabilities.__getitem__)
        # Confidence: the model's probability of its answer, discounted by input quality
        # (halved at quality 0), so a sure answer on a poor face is not reported as sure.
        confidence = probabilities[dominant] * (0.5 + 0.5 * quality)
        return FaceResult(
            status="ok",
            quality=round(quality, 4),
            confidence=float(np.clip(confidence, 0.0, 1.0)),
            dominant_emotion=dominant,  # type: ignore[arg-type]
            emotions=probabilities,  # type: ignore[arg-type]
            valence=round(result.valence, 4),
            arousal=round(result.arousal, 4),
            valence_arousal_source=result.va_source,  # type: ignore[arg-type]
            **geometry_fields,
        )

    def _confirm(
        self, landmarks: LandmarkModel, image: Image.Image, faces: list[Detection]
    ) -> tuple[Detection | None, Mesh | None, int]:
        """The largest detection that the face mesh confirms, its mesh, and how many faces
        count as found (detections minus those the mesh rejected on the way)."""
        for tried, face in enumerate(faces[:MAX_CANDIDATES]):
            mesh = self._mesh(landmarks, image, face)
            if mesh.presence >= q.MIN_PRESENCE and bool(np.isfinite(mesh.points).all()):
                return face, mesh, len(faces) - tried
        return None, None, 0

    @staticmethod
    def _mesh(landmarks: LandmarkModel, image: Image.Image, face: Detection) -> Mesh:
        """Face mesh in two passes: from the detector's box, then re-centred on the mesh.

        For turned faces the detector's eye keypoints can tilt the region enough for the mesh
        model to reject it, so a level and a tighter region are tried before giving up.
        """
        base = roi_from_detection(face.box, face.keypoints[0], face.keypoints[1])
        candidates = (
            base,
            SquareRoi(base.cx, base.cy, base.size, 0.0),
            SquareRoi(base.cx, base.cy, base.size * 0.85, 0.0),
        )
        first = landmarks.run(image, candidates[0])
        for roi in candidates[1:]:
            if first.presence >= q.MIN_PRESENCE:
                break
            other = landmarks.run(image, roi)
            if other.presence > first.presence:
                first = other
        if first.presence < q.MIN_PRESENCE:
            return first
        # MediaPipe tracks with a ROI from the previous mesh (1.5× its extent). On a frontal
        # face a second pass changes pose by ~2° and eye ratios by ~0.02 (docs/models/face.md),
        # so it is only paid for turned or uncertain faces, where it moved yaw by up to 9°.
        if first.presence >= REFINE_BELOW_PRESENCE and abs(head_pose(first.points).yaw) <= 20:
            return first
        second = landmarks.run(image, roi_from_landmarks(first.points, 1.5))
        return second if second.presence >= first.presence * 0.9 else first

    def _no_signal(
        self,
        reason: str,
        *,
        faces: int,
        quality: float,
        details: FaceQuality | None = None,
    ) -> FaceResult:
        return FaceResult(
            status="no_signal",
            reason=reason,
            quality=round(quality, 4),
            confidence=None,
            faces_detected=faces,
            quality_factors=details,
            model=self.model_name,
        )
