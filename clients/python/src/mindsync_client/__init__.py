"""Python client of the MindSync API."""

from mindsync_client.client import AsyncClient, Client, analysis_body
from mindsync_client.errors import (
    AuthenticationError,
    Conflict,
    ConsentRequired,
    MindSyncError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationError,
)
from mindsync_client.models import AnalysisResult, Score

__all__ = [
    "AnalysisResult",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "Conflict",
    "ConsentRequired",
    "MindSyncError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Score",
    "ServerError",
    "ServiceUnavailable",
    "UnsupportedMediaType",
    "ValidationError",
    "analysis_body",
]
__version__ = "0.1.0"
