"""The face analyser: detection → face mesh → pose, eyes, mouth, quality → expression."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from mindsync.analysis.base import Analyzer, Modality
from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.face import quality as q
from mindsync.analysis.face.detector import Detection, FaceDetector, merge_detections
from mindsync.analysis.face.expression import MOUTH_CLASSES, ExpressionModel, speaking_aware
from mindsync.analysis.face.geometry import (
    LandmarkModel,
    Mesh,
    SquareRoi,
    eye_aspect_ratio,
    eye_openness,
    face_width,
    head_pose,
    mouth_aspect_ratio,
    mouth_openness,
    roi_from_detection,
    roi_from_landmarks,
)
from mindsync.analysis.face.image import FaceImage, decode_face_input
from mindsync.analysis.face.manifest import (
    ExpressionManifest,
    load_geometry_manifest,
    load_manifest,
    resolve_manifest_path,
)
from mindsync.analysis.face.result import DetectedFace, FaceQuality, FaceResult, HeadPose
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)

REFINE_BELOW_PRESENCE = 0.9  # face-mesh presence under which a second mesh pass is run
# The short-range model sees faces wider than about 15 % of the frame (people within ~2 m of
# a phone or laptop camera). When its largest face is at least this share of the frame's
# width the person sits at selfie distance (about 60 cm from a 60-65° webcam) and the frame
# is not searched further; below it, or when it found nothing, the full-range model searches
# for the faces it cannot see (people sitting back, groups).
SELFIE_SHARE = 0.20
# Below this score a short-range detection needs the full-range model's agreement (its own
# threshold is 0.5): on real faces the two agree, on cartoon faces and textures they do not.
SURE_SCORE = 0.75
MAX_FACES = 16  # faces checked with the face mesh (largest first); more are not reported


@dataclass(frozen=True, slots=True)
class _Face:
    """A detection the face mesh confirmed, with its mesh and width (working pixels)."""

    detection: Detection
    mesh: Mesh
    width: float


class FaceAnalyzer(Analyzer[FaceImage, FaceResult]):
    """Finds every face of an image and analyses the primary one. Construct cheaply, then
    ``load()`` once.

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
        """Load the detectors, the face mesh and the manifest's expression model.

        Raises :class:`ModelLoadError` when a file is missing, corrupt or inconsistent.
        """
        geometry = load_geometry_manifest()
        manifest = load_manifest(resolve_manifest_path(self._settings))
        self._detector = FaceDetector(geometry["detector"], geometry["full_range_detector"])
        self._landmarks = LandmarkModel(geometry["landmarks"])
        self._expression = ExpressionModel(manifest)
        self._manifest = manifest
        logger.info("face analyser loaded expression model %s", manifest.name)

    def warmup(self) -> None:
        """Run every model once on a blank frame."""
        detector, landmarks, expression = self._models()
        blank = Image.new("RGB", (640, 480), (128, 128, 128))
        detector.detect(blank)
        detector.detect_far(blank, tiles=False)
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
                detector="mediapipe-blazeface short-range (0.10.21) + full-range (dense)",
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
        """Validate and decode ``face_image`` (base64 or ``data:`` URL of JPEG/PNG/WebP),
        optionally given with a focus point as ``{"image": ..., "focus": {"x": .., "y": ..}}``.

        Raises ``PayloadTooLarge`` (413), ``UnsupportedMediaType`` (415) or ``InputError``
        (422), each naming ``face_image`` (or ``face_focus``) and, for limits, the limit.
        """
        return decode_face_input(
            raw,
            max_bytes=self._settings.face_max_bytes,
            max_pixels=self._settings.face_max_pixels,
        )

    def analyze(self, data: FaceImage) -> FaceResult:
        """Find every face and analyse the primary one; "no_signal" (never an exception) with
        a ``reason_code`` when none is usable."""
        detector, landmarks, expression = self._models()
        image = data.image
        to_original = 1.0 / data.scale
        faces, candidates = self._find_faces(detector, landmarks, image)
        if not faces:
            return self._no_face(candidates, to_original, image)
        primary = _pick_primary(faces, data.focus, image.size)
        listed = [_listed(f, f is primary, to_original) for f in faces]
        common: dict[str, Any] = {"faces_detected": len(faces), "faces": listed}

        mesh = self._refine(landmarks, image, primary)
        width = face_width(mesh.points)
        width_orig = width * to_original
        pose = head_pose(mesh.points)
        gray = roi_from_landmarks(mesh.points, 1.0).crop(image, q.SHARPNESS_SIZE).convert("L")
        mean_grey = float(np.asarray(gray, dtype=np.float32).mean())
        factors = {
            "face_size": q.ramp(width, q.MIN_FACE_PX, q.GOOD_FACE_PX),
            "sharpness": q.sharpness_quality(q.blur(gray)),
            "exposure": q.exposure(gray),
            "pose": q.pose_quality(pose.yaw, pose.pitch),
            "detection": q.detection_quality(primary.detection.score, mesh.presence),
        }
        quality = q.combine(factors)
        details = FaceQuality(face_width_px=round(width_orig, 1), **factors)
        poor = {"quality": min(quality, 0.2), "details": details, **common}
        if width < q.MIN_FACE_PX:
            needed = q.MIN_FACE_PX * to_original
            return self._no_signal(
                f"the face is {width_orig:.0f} px wide; at least {needed:.0f} px are needed "
                "(move closer to the camera or send a larger image)",
                "face_too_small",
                **poor,
            )
        if factors["exposure"] <= 0.0:
            if mean_grey <= (q.TOO_DARK_MEAN + q.OVEREXPOSED_MEAN) / 2:
                return self._too_dark(**poor)
            return self._overexposed(**poor)
        if factors["sharpness"] <= 0.0:
            return self._no_signal(
                "the face is too blurred to read an expression; hold the camera still",
                "too_blurred",
                **poor,
            )
        right_ear, left_ear = eye_aspect_ratio(mesh.points)
        eyes = (eye_openness(right_ear) + eye_openness(left_ear)) / 2
        mouth = mouth_openness(mouth_aspect_ratio(mesh.points))
        geometry_fields: dict[str, Any] = {
            **common,
            "head_pose": HeadPose(
                yaw=round(pose.yaw, 1), pitch=round(pose.pitch, 1), roll=round(pose.roll, 1)
            ),
            "eyes_open": round(eyes, 3),
            "facing_screen": abs(pose.yaw) <= q.FACING_YAW and abs(pose.pitch) <= q.FACING_PITCH,
            "attention": round(q.attention(pose.yaw, pose.pitch, eyes), 4),
            "mouth_open": round(mouth, 3),
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
                    f"{q.MAX_EXPRESSION_YAW:.0f}° and {q.MAX_EXPRESSION_PITCH:.0f}° "
                    "(face the camera)"
                ),
                reason_code="face_turned",
                quality=round(quality, 4),
                confidence=None,
                **geometry_fields,
            )
        crop_roi = roi_from_landmarks(mesh.points, expression.manifest.input.crop_scale)
        raw = expression.predict(expression.crop(image, crop_roi))
        result, mouth_factor = speaking_aware(raw, mouth)
        probabilities = result.probabilities
        dominant = max(probabilities, key=probabilities.__getitem__)
        # Confidence: the model's probability of its answer, discounted by input quality
        # (halved at quality 0), so a sure answer on a poor face is not reported as sure, and
        # by how much an open mouth (speech) may explain an open-mouth class.
        confidence = probabilities[dominant] * (0.5 + 0.5 * quality)
        if dominant in MOUTH_CLASSES:
            confidence *= mouth_factor
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

    # ----------------------------------------------------------------- detection
    def _find_faces(
        self, detector: FaceDetector, landmarks: LandmarkModel, image: Image.Image
    ) -> tuple[list[_Face], list[Detection]]:
        """The faces the mesh confirms, largest first, and every candidate detection.

        Short-range first; when it confirms a face at selfie distance the search stops there.
        Otherwise the full-range model searches the whole frame (and tiles of large frames)
        and both models' detections are merged.
        """
        meshes: dict[int, Mesh] = {}
        trusted: set[int] = set()  # candidates that are faces confirmed by the first pass
        whole: list[Detection] | None = None

        def second_opinion(candidate: Detection) -> bool:
            nonlocal whole
            if whole is None:
                whole = detector.detect_far(image, tiles=False)
            return merge_detections([candidate], whole)[0].agreed

        def confirm(candidates: list[Detection], *, searched: bool) -> list[_Face]:
            faces: list[_Face] = []
            for candidate in candidates[:MAX_FACES]:
                if (
                    candidate.score < SURE_SCORE
                    and not candidate.agreed
                    and candidate.source == "short-range"
                    and id(candidate) not in trusted
                ):
                    # An unsure short-range detection needs the full-range model to agree
                    # (a full-range one is either too small for the short-range model to
                    # judge or was compared with it in the merge). After the full search
                    # the merge has said; before it, only a selfie-sized face is asked
                    # about now, the others wait for the search.
                    if searched or candidate.width < SELFIE_SHARE * image.width:
                        continue
                    if not second_opinion(candidate):
                        continue
                key = id(candidate)
                if key not in meshes:
                    meshes[key] = _mesh(landmarks, image, candidate)
                mesh = meshes[key]
                if mesh.presence >= q.MIN_PRESENCE and bool(np.isfinite(mesh.points).all()):
                    faces.append(_Face(candidate, mesh, face_width(mesh.points)))
            faces.sort(key=lambda f: f.width, reverse=True)
            return faces

        near = detector.detect(image)
        faces = confirm(near, searched=False)
        if faces and faces[0].detection.width >= SELFIE_SHARE * image.width:
            return faces, near
        far = detector.detect_far(image, whole=whole)
        candidates = merge_detections(near, far)
        # A face both passes found keeps the mesh it already has (the merge may have kept
        # the other model's box for it).
        for face in faces:
            for candidate in candidates:
                if len(merge_detections([candidate], [face.detection])) == 1:
                    meshes[id(candidate)] = face.mesh
                    trusted.add(id(candidate))
        return confirm(candidates, searched=True), candidates

    @staticmethod
    def _refine(landmarks: LandmarkModel, image: Image.Image, face: _Face) -> Mesh:
        """The primary face's mesh, re-run on a crop centred on the first mesh when needed.

        MediaPipe tracks with a ROI from the previous mesh (1.5× its extent). On a frontal face
        a second pass changes pose by ~2° and eye ratios by ~0.02 (docs/models/face.md), so it
        is only paid for turned or uncertain faces, where it moved yaw by up to 9°.
        """
        first = face.mesh
        if first.presence >= REFINE_BELOW_PRESENCE and abs(head_pose(first.points).yaw) <= 20:
            return first
        second = landmarks.run(image, roi_from_landmarks(first.points, 1.5))
        return second if second.presence >= first.presence * 0.9 else first

    # ----------------------------------------------------------------- no signal
    def _no_face(
        self, candidates: list[Detection], to_original: float, image: Image.Image
    ) -> FaceResult:
        if not candidates:
            return self._no_signal(
                "no face was found in the image; face the camera in even light",
                "no_face",
                quality=0.0,
            )
        largest = candidates[0]
        if largest.width < q.MIN_FACE_PX:
            return self._no_signal(
                f"a face-like region {largest.width * to_original:.0f} px wide was found; "
                f"faces need at least {q.MIN_FACE_PX * to_original:.0f} px (move closer to "
                "the camera or send a larger image)",
                "face_too_small",
                quality=0.05,
            )
        # A real face the mesh could not read because of the light is worth saying so.
        left, top, right, bottom = (round(v) for v in largest.box)
        grey = np.asarray(image.crop((left, top, right, bottom)).convert("L"))
        mean_grey = float(grey.mean()) if grey.size else 128.0
        if mean_grey <= q.TOO_DARK_MEAN:
            return self._too_dark(quality=0.05)
        if mean_grey >= q.OVEREXPOSED_MEAN:
            return self._overexposed(quality=0.05)
        return self._no_signal(
            "a face-like region was found but the face mesh did not confirm a human face",
            "face_unconfirmed",
            quality=0.05,
        )

    def _too_dark(self, **kwargs: Any) -> FaceResult:
        return self._no_signal(
            "the face is too dark (or too flat) to read; add light in front of you",
            "too_dark",
            **kwargs,
        )

    def _overexposed(self, **kwargs: Any) -> FaceResult:
        return self._no_signal(
            "the face is washed out by too much light; avoid a bright light or window "
            "behind the camera",
            "overexposed",
            **kwargs,
        )

    def _no_signal(
        self,
        reason: str,
        code: str,
        *,
        quality: float,
        details: FaceQuality | None = None,
        faces_detected: int = 0,
        faces: list[DetectedFace] | None = None,
    ) -> FaceResult:
        return FaceResult(
            status="no_signal",
            reason=reason,
            reason_code=code,
            quality=round(quality, 4),
            confidence=None,
            faces_detected=faces_detected,
            faces=faces or [],
            quality_factors=details,
            model=self.model_name,
        )


def _mesh(landmarks: LandmarkModel, image: Image.Image, face: Detection) -> Mesh:
    """First-pass face mesh from the detector's box.

    For turned faces the detector's eye keypoints can tilt the region enough for the mesh
    model to reject it, so a level and a tighter region are tried before giving up.
    """
    base = roi_from_detection(face.box, face.keypoints[0], face.keypoints[1])
    candidates = (
        base,
        SquareRoi(base.cx, base.cy, base.size, 0.0),
        SquareRoi(base.cx, base.cy, base.size * 0.85, 0.0),
    )
    best = landmarks.run(image, candidates[0])
    for roi in candidates[1:]:
        if best.presence >= q.MIN_PRESENCE:
            break
        other = landmarks.run(image, roi)
        if other.presence > best.presence:
            best = other
    return best


def _pick_primary(
    faces: list[_Face], focus: tuple[float, float] | None, size: tuple[int, int]
) -> _Face:
    """The largest face, or the one whose box holds (else is nearest to) the focus point."""
    if focus is None:
        return faces[0]
    fx, fy = focus[0] * size[0], focus[1] * size[1]

    def distance(face: _Face) -> float:
        x0, y0, x1, y1 = face.detection.box
        dx = max(x0 - fx, 0.0, fx - x1)
        dy = max(y0 - fy, 0.0, fy - y1)
        return float(np.hypot(dx, dy))

    return min(faces, key=lambda f: (distance(f), -f.width))


def _listed(face: _Face, primary: bool, to_original: float) -> DetectedFace:
    x0, y0, x1, y1 = face.detection.box
    return DetectedFace(
        box=(
            round(x0 * to_original, 1),
            round(y0 * to_original, 1),
            round((x1 - x0) * to_original, 1),
            round((y1 - y0) * to_original, 1),
        ),
        width_px=round(face.width * to_original, 1),
        score=round(min(max(face.detection.score, 0.0), 1.0), 4),
        primary=primary,
    )
