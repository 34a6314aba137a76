"""MindSync: private, explainable estimates of expressed state from face, voice and motion."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mindsync")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
