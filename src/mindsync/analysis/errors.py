"""Domain errors of the analysis layer. The API maps each one to an HTTP status once."""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of every error raised by the analysis layer."""

    code: str = "analysis_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InputError(AnalysisError):
    """The client's input cannot be analysed; the message names the field (422)."""

    code = "invalid_input"


class NeedsValidation(InputError):
    """An input the analyser cannot take as it is, though it may be valid: the caller
    validates it field by field (the client's error, or a converted input to analyse again).
    Never a client's answer when the caller can validate."""

    code = "needs_validation"


class PayloadTooLarge(InputError):
    """An input is past a configured limit; the message names the field and the limit (413)."""

    code = "payload_too_large"

    def __init__(self, message: str, *, field: str | None = None, limit: object = None) -> None:
        super().__init__(message, field=field)
        self.limit = limit


class UnsupportedMediaType(InputError):
    """An input is not in a format that can be decoded (415)."""

    code = "unsupported_media_type"


class ModalityUnavailable(AnalysisError):
    """No analyser is installed or loaded for a modality that the request carries (501)."""

    code = "modality_unavailable"


class AnalysisInterrupted(AnalysisError):
    """The process analysing the request stopped before it answered; a retry may succeed (503).

    Nothing of the request was stored.
    """

    code = "analysis_interrupted"


class ModelLoadError(AnalysisError):
    """A model file is missing, corrupt or does not match its manifest."""

    code = "model_load_error"
