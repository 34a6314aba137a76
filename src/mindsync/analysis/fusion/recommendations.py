"""Recommendations from a small rule set kept in data (``rules.json``), not in code.

Each rule names the signals it reads; it fires only when every condition holds and every
modality behind those signals had good enough data. The output is sorted by priority and id,
so the same input always gives the same recommendations.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.fusion.baseline import PersonalComparison
from mindsync.analysis.fusion.scores import Assessment

RULES_PATH = Path(__file__).with_name("rules.json")

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

Signal = tuple[Any, frozenset[Modality]]


class Condition(BaseModel):
    """``signal op value``."""

    signal: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float | str | bool


class Rule(BaseModel):
    """One recommendation and when it applies."""

    id: str
    priority: int = Field(ge=1, le=9, description="1 is the most important.")
    text: str
    when: list[Condition] = Field(min_length=1)
    about_quality: bool = Field(
        default=False, description="A rule about poor data fires despite low quality."
    )


class RuleSet(BaseModel):
    """All rules and the data quality below which a modality cannot trigger one."""

    version: int
    min_quality: float = Field(ge=0, le=1)
    rules: list[Rule]


class Trigger(BaseModel):
    """A condition that held, with the value that made it hold."""

    signal: str = Field(description="The signal the rule looked at (e.g. stress_level).")
    value: float | str | bool = Field(description="Its value in this analysis.")
    condition: str = Field(description="The rule's condition that held (e.g. '>= 0.7').")


class Recommendation(BaseModel):
    """A fired rule."""

    id: str = Field(description="Stable id of the rule (rules.json).")
    text: str = Field(description="The advice, for the user.")
    priority: int = Field(description="Lower comes first.")
    triggered_by: list[Trigger] = Field(description="The signals and conditions that fired it.")


def load_rules(path: Path = RULES_PATH) -> RuleSet:
    """Read and validate a rule file."""
    return RuleSet.model_validate(json.loads(path.read_text(encoding="utf-8")))


def signal_table(
    assessment: Assessment,
    results: Mapping[Modality, ModalityResult],
    personal: PersonalComparison | None,
) -> dict[str, Signal]:
    """Every signal a rule may read, with the modalities it comes from."""
    table: dict[str, Signal] = {}
    for name, score in (
        ("stress_level", assessment.stress),
        ("attention_score", assessment.attention),
        ("overall_score", assessment.overall),
    ):
        if score.value is not None:
            table[name] = (score.value, frozenset(score.modalities))
    per_modality = {
        "face": ("valence", "arousal", "dominant_emotion", "eyes_open", "facing_screen"),
        "voice": ("stress_level",),
        "motion": ("activity", "activity_level", "restlessness", "stillness_ratio"),
    }
    for modality, result in results.items():
        source = frozenset({modality})
        table[f"{modality}.quality"] = (result.quality, source)
        if result.status != "ok":
            continue
        for key in per_modality.get(modality, ()):
            value = getattr(result, key, None)
            if value is not None:
                table[f"{modality}.{key}"] = (value, source)
    if personal is not None and personal.status == "personal":
        if personal.stress is not None:
            table["personal.stress_z"] = (
                personal.stress.z,
                frozenset(assessment.stress.modalities),
            )
        if personal.attention is not None:
            table["personal.attention_z"] = (
                personal.attention.z,
                frozenset(assessment.attention.modalities),
            )
    return table


def recommend(
    rules: RuleSet,
    assessment: Assessment,
    results: Mapping[Modality, ModalityResult],
    personal: PersonalComparison | None = None,
) -> list[Recommendation]:
    """The rules that fire for this analysis, most important first (then by id)."""
    table = signal_table(assessment, results, personal)
    quality = {m: r.quality for m, r in results.items()}
    fired: list[Recommendation] = []
    for rule in rules.rules:
        triggers: list[Trigger] = []
        for condition in rule.when:
            signal = table.get(condition.signal)
            if signal is None:
                break
            value, sources = signal
            if not rule.about_quality and any(
                quality.get(m, 0.0) < rules.min_quality for m in sources
            ):
                break
            try:
                holds = OPERATORS[condition.op](value, condition.value)
            except TypeError:
                holds = False
            if not holds:
                break
            shown = round(value, 4) if isinstance(value, float) else value
            triggers.append(
                Trigger(
                    signal=condition.signal,
                    value=shown,
                    condition=f"{condition.op} {condition.value}",
                )
            )
        else:
            fired.append(
                Recommendation(
                    id=rule.id, text=rule.text, priority=rule.priority, triggered_by=triggers
                )
            )
    return sorted(fired, key=lambda r: (r.priority, r.id))
