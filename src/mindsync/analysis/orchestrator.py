"""Runs the requested modalities off the event loop, in parallel, and times each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult
from mindsync.analysis.errors import ModalityUnavailable
from mindsync.analysis.registry import AnalyzerRegistry

if TYPE_CHECKING:
    from mindsync.analysis.pool import AnalysisPool


def analyze_one(registry: AnalyzerRegistry, modality: Modality, raw: Any) -> ModalityResult:
    """Decode and analyse one modality synchronously; the result carries its ``processing_ms``."""
    analyzer = registry.get(modality)
    if analyzer is None:
        reason = registry.unavailable.get(modality, "not installed")
        raise ModalityUnavailable(f"{modality} analysis is unavailable: {reason}", field=modality)
    started = time.perf_counter()
    decoded = analyzer.decode(raw)
    result: ModalityResult = analyzer.analyze(decoded)
    result.processing_ms = round((time.perf_counter() - started) * 1000, 3)
    return result


def check_available(registry: AnalyzerRegistry, modalities: list[Modality]) -> None:
    """Raise :class:`ModalityUnavailable` for the first requested modality with no analyser."""
    for modality in modalities:
        if registry.get(modality) is None:
            reason = registry.unavailable.get(modality, "not installed")
            raise ModalityUnavailable(
                f"{modality} analysis is unavailable: {reason}", field=modality
            )


def _check_described(
    description: Mapping[str, Mapping[str, Any]], modalities: list[Modality]
) -> None:
    for modality in modalities:
        facts = description.get(modality, {})
        if not facts.get("loaded"):
            reason = facts.get("reason", "not installed")
            raise ModalityUnavailable(
                f"{modality} analysis is unavailable: {reason}", field=modality
            )


class Orchestrator:
    """Runs analysers off the event loop: in a thread pool with this process's ``registry``,
    or, given a started :class:`~mindsync.analysis.pool.AnalysisPool`, in its processes."""

    def __init__(
        self,
        registry: AnalyzerRegistry | None,
        executor: Executor | None = None,
        *,
        pool: AnalysisPool | None = None,
    ) -> None:
        if (registry is None or executor is None) and pool is None:
            raise ValueError("an orchestrator needs a registry and an executor, or a pool")
        self.registry = registry
        self.executor = executor
        self.pool = pool

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per modality: whether its analyser is loaded, why not, and the analyser's facts."""
        if self.pool is not None:
            return self.pool.description
        assert self.registry is not None
        return self.registry.describe()

    async def run(self, inputs: Mapping[Modality, Any]) -> dict[Modality, ModalityResult]:
        """Analyse every given modality concurrently; re-raise the first error in modality order.

        Unavailable modalities are refused before any work starts.
        """
        order = [m for m in MODALITIES if m in inputs]
        futures: list[Awaitable[ModalityResult]]
        if self.pool is not None:
            _check_described(self.pool.description, order)
            futures = [self.pool.run(m, inputs[m]) for m in order]
        else:
            assert self.registry is not None
            check_available(self.registry, order)
            loop = asyncio.get_running_loop()
            futures = [
                loop.run_in_executor(self.executor, analyze_one, self.registry, m, inputs[m])
                for m in order
            ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return dict(zip(order, outcomes, strict=True))  # type: ignore[arg-type]

    def run_sync(self, inputs: Mapping[Modality, Any]) -> dict[Modality, ModalityResult]:
        """Analyse the given modalities one after another in the calling thread (CLI, tests)."""
        if self.registry is None:
            raise RuntimeError("run_sync needs a registry in this process")
        order = [m for m in MODALITIES if m in inputs]
        check_available(self.registry, order)
        return {m: analyze_one(self.registry, m, inputs[m]) for m in order}
