"""The contract every modality analyser implements.

Life cycle: construct (cheap, no I/O) → :meth:`Analyzer.load` once at start-up (weights
into memory) → :meth:`Analyzer.warmup` → many calls of :meth:`Analyzer.decode` then
:meth:`Analyzer.analyze` from worker threads. ``decode`` does only cheap validation and
decoding and raises :class:`~mindsync.analysis.errors.InputError` subclasses for bad
input, so that a request fails before any heavy work. ``analyze`` never raises for
"no signal" (no face, no speech, too few samples): it returns a result with
``status="no_signal"``, a ``reason`` and a low ``quality``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Modality = Literal["face", "voice", "motion"]
MODALITIES: tuple[Modality, ...] = ("face", "voice", "motion")


class ModalityResult(BaseModel):
    """What every modality reports, whatever else it adds.

    ``quality`` says how good the input was (0 = unusable, 1 = ideal);
    ``confidence`` says how sure the estimate is (``None`` when there is no estimate).
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "no_signal"] = Field(
        description="'ok' when estimates are present; 'no_signal' when the input held none."
    )
    reason: str | None = Field(
        default=None,
        description="Why there is no estimate (or why part of it is missing), in words a user "
        "can act on.",
    )
    reason_code: str | None = Field(
        default=None,
        description="A stable, machine-readable code for ``reason`` (for instance "
        "'face_too_small', 'not_speech_tone'); each analyser documents its codes.",
    )
    quality: float = Field(ge=0.0, le=1.0, description="Data quality, 0 (unusable) to 1.")
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Confidence of the estimate, 0 to 1."
    )
    processing_ms: float = Field(
        default=0.0, ge=0.0, description="Decode plus analysis time of this modality."
    )


InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT", bound=ModalityResult)


class Analyzer(ABC, Generic[InputT, ResultT]):
    """One modality analyser. Instances are shared by threads: ``analyze`` must be thread-safe."""

    modality: ClassVar[Modality]

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights into memory. Called once at start-up; never downloads anything."""

    def warmup(self) -> None:  # noqa: B027 - optional hook
        """Run the model once so that the first request does not pay for lazy initialisation."""

    @abstractmethod
    def decode(self, raw: Any) -> InputT:
        """Validate and decode a raw request value; raise ``InputError`` subclasses on bad input."""

    @abstractmethod
    def analyze(self, data: InputT) -> ResultT:
        """Turn decoded input into a derived result. Never returns raw data."""

    def describe(self) -> dict[str, Any]:
        """Name, version and model facts for ``/health`` (no secrets, no paths of users)."""
        return {"analyzer": type(self).__name__}
