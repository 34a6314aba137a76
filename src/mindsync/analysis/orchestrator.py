"""Runs the requested modalities off the event loop, in parallel, and times each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult
from mindsync.analysis.errors import ModalityUnavailable, NeedsValidation
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


#: Given a modality and the input its analyser handed back, the validated input to analyse.
Revalidate = Callable[[Modality, Any], Awaitable[Any]]

#: Relative analysis cost of each modality (in process, one thread, measured on this
#: project's benchmark inputs: a 5 s WAV 11 ms, a 640x480 JPEG 7.5 ms, 1,500 list-form
#: motion samples 3.7 ms): only their order matters, for :func:`pack`.
RELATIVE_COST: dict[Modality, float] = {"voice": 3.0, "face": 2.0, "motion": 1.0}


def pack(modalities: list[Modality], processes: int) -> list[list[Modality]]:
    """The modalities of one request grouped into at most ``processes`` hand-overs to the
    analysis pool, in modality order within each group.

    With a process free for each, every modality is its own group (all run at once). With
    fewer, the costliest goes first to the least loaded group: on two processes a full
    request is ``[voice]`` and ``[face, motion]``, which is the order the pool would have run
    them in anyway (motion waited for a process until face was done), for one hand-over
    fewer (measured: about 0.5 ms of the serving process's CPU and 0.3 ms of the analysis
    process's per hand-over).
    """
    if len(modalities) <= processes:
        return [[m] for m in modalities]
    groups: list[list[Modality]] = [[] for _ in range(max(processes, 1))]
    loads = [0.0] * len(groups)
    for modality in sorted(modalities, key=lambda m: -RELATIVE_COST.get(m, 1.0)):
        least = loads.index(min(loads))
        groups[least].append(modality)
        loads[least] += RELATIVE_COST.get(modality, 1.0)
    return [sorted(g, key=MODALITIES.index) for g in groups if g]


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

    async def run(
        self, inputs: Mapping[Modality, Any], *, revalidate: Revalidate | None = None
    ) -> dict[Modality, ModalityResult]:
        """Analyse every given modality concurrently; re-raise the first error in modality order.

        Unavailable modalities are refused before any work starts. With ``revalidate``, a
        modality whose analyser handed its input back (:class:`NeedsValidation`) is given to
        it (it answers the validated input, or raises the client's error) and analysed
        again, alone: the other modalities' results are kept.
        """
        order = [m for m in MODALITIES if m in inputs]
        outcomes = await self._outcomes(inputs, order)
        results: dict[Modality, ModalityResult] = {}
        for modality in order:
            outcome = outcomes[modality]
            if isinstance(outcome, NeedsValidation) and revalidate is not None:
                again = {modality: await revalidate(modality, inputs[modality])}
                outcome = (await self._outcomes(again, [modality]))[modality]
            if isinstance(outcome, BaseException):
                raise outcome
            results[modality] = outcome
        return results

    async def _outcomes(
        self, inputs: Mapping[Modality, Any], order: list[Modality]
    ) -> dict[Modality, ModalityResult | BaseException]:
        """Each modality's result, or the exception its analysis raised."""
        if self.pool is not None:
            _check_described(self.pool.description, order)
            groups = pack(order, self.pool.processes)
            answers = await asyncio.gather(
                *(self.pool.run_group([(m, inputs[m]) for m in group]) for group in groups),
                return_exceptions=True,
            )
            by_modality: dict[Modality, ModalityResult | BaseException] = {}
            for group, answer in zip(groups, answers, strict=True):
                for i, modality in enumerate(group):
                    by_modality[modality] = (
                        answer if isinstance(answer, BaseException) else answer[i]
                    )
            return by_modality
        assert self.registry is not None
        check_available(self.registry, order)
        loop = asyncio.get_running_loop()
        futures: list[Awaitable[ModalityResult]] = [
            loop.run_in_executor(self.executor, analyze_one, self.registry, m, inputs[m])
            for m in order
        ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        return dict(zip(order, outcomes, strict=True))

    def run_sync(self, inputs: Mapping[Modality, Any]) -> dict[Modality, ModalityResult]:
        """Analyse the given modalities one after another in the calling thread (CLI, tests)."""
        if self.registry is None:
            raise RuntimeError("run_sync needs a registry in this process")
        order = [m for m in MODALITIES if m in inputs]
        check_available(self.registry, order)
        return {m: analyze_one(self.registry, m, inputs[m]) for m in order}
