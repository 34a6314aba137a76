"""Discovery and loading of the modality analysers.

Each modality lives in ``mindsync.analysis.<modality>`` and exposes
``create_analyzer(settings) -> Analyzer``. A modality whose package is absent, or whose
model failed to load, is reported as unavailable with the reason instead of being faked.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from mindsync.analysis.base import MODALITIES, Analyzer, Modality
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)


@dataclass
class AnalyzerRegistry:
    """The loaded analysers of one process, and why any modality is missing."""

    analyzers: dict[Modality, Analyzer[Any, Any]] = field(default_factory=dict)
    unavailable: dict[Modality, str] = field(default_factory=dict)
    load_ms: dict[Modality, float] = field(default_factory=dict)

    def get(self, modality: Modality) -> Analyzer[Any, Any] | None:
        """The loaded analyser of ``modality``, or ``None``."""
        return self.analyzers.get(modality)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per modality: loaded or not, why not, load time and the analyser's own facts."""
        out: dict[str, dict[str, Any]] = {}
        for modality in MODALITIES:
            analyzer = self.analyzers.get(modality)
            if analyzer is not None:
                out[modality] = {
                    "loaded": True,
                    "load_ms": round(self.load_ms.get(modality, 0.0), 1),
                    **analyzer.describe(),
                }
            else:
                out[modality] = {
                    "loaded": False,
                    "reason": self.unavailable.get(modality, "not installed"),
                }
        return out


def load_analyzers(
    settings: Settings, *, modalities: tuple[Modality, ...] = MODALITIES
) -> AnalyzerRegistry:
    """Create, load and warm up every available analyser once."""
    registry = AnalyzerRegistry()
    for modality in modalities:
        module_name = f"mindsync.analysis.{modality}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                registry.unavailable[modality] = f"the {modality} analyser is not implemented yet"
                continue
            raise
        factory = getattr(module, "create_analyzer", None)
        if factory is None:
            registry.unavailable[modality] = f"the {modality} analyser is not implemented yet"
            continue
        started = time.perf_counter()
        try:
            analyzer = factory(settings)
            analyzer.load()
            analyzer.warmup()
        except Exception as exc:  # a broken model must not take the whole service down
            logger.exception("loading the %s analyser failed", modality)
            registry.unavailable[modality] = f"the {modality} model failed to load: {exc}"
            continue
        registry.load_ms[modality] = (time.perf_counter() - started) * 1000
        registry.analyzers[modality] = analyzer
        logger.info("loaded %s analyser in %.0f ms", modality, registry.load_ms[modality])
    return registry
