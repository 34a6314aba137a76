"""Recommendations from a small rule set kept in data (``rules.json``), not in code.

Each rule names the signals it reads; it fires only when every ``when`` condition holds, no
``unless`` condition holds, and every modality behind the ``when`` signals had good enough
data. Its text is chosen by the modalities that triggered it (``texts``, keyed like
"face+voice"), so that it never names a modality that was not measured; ``text`` is the
wording that names none. The output is sorted by priority and id, so the same input always
gives the same recommendations.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult
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
    "in": lambda value, options: value in options,
    "not_in": lambda value, options: value not in options,
}

Signal = tuple[Any, frozenset[Modality]]
Scalar = float | str | bool


def trigger_key(modalities: frozenset[Modality] | set[Modality]) -> str:
    """The ``texts`` key of a set of modalities: their names in MODALITIES order, joined by
    "+" ("face+voice")."""
    return "+".join(m for m in MODALITIES if m in modalities)


VALID_KEYS = frozenset(
    trigger_key({m for i, m in enumerate(MODALITIES) if mask >> i & 1})
    for mask in range(1, 2 ** len(MODALITIES))
)


class Condition(BaseModel):
    """``signal op value``; ``in``/``not_in`` take a list."""

    signal: str
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in"]
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _list_only_with_in(self) -> Condition:
        if (self.op in ("in", "not_in")) != isinstance(self.value, list):
            raise ValueError(f"{self.signal}: 'in'/'not_in' take a list, other operators do not")
        return self

    def holds(self, value: Any) -> bool:
        """Whether the condition holds for ``value`` (False on incomparable types)."""
        try:
            return bool(OPERATORS[self.op](value, self.value))
        except TypeError:
            return False

    def describe(self) -> str:
        """The condition as shown in ``triggered_by`` (e.g. ">= 0.65", "in walking, running")."""
        if isinstance(self.value, list):
            return f"{self.op} {', '.join(str(v) for v in self.value)}"
        return f"{self.op} {self.value}"


class Rule(BaseModel):
    """One recommendation and when it applies."""

    id: str
    priority: int = Field(ge=1, le=9, description="1 is the most important.")
    text: str = Field(description="The wording that names no modality.")
    texts: dict[str, str] = Field(
        default_factory=dict,
        description="Wording per set of triggering modalities (keys like 'face+voice'); each "
        "names only the modalities in its key.",
    )
    when: list[Condition] = Field(min_length=1)
    unless: list[Condition] = Field(
        default_factory=list, description="The rule does not fire when any of these holds."
    )
    about_quality: bool = Field(
        default=False, description="A rule about poor data fires despite low quality."
    )

    @model_validator(mode="after")
    def _known_keys(self) -> Rule:
        unknown = set(self.texts) - VALID_KEYS
        if unknown:
            raise ValueError(f"rule {self.id}: unknown texts keys {sorted(unknown)}")
        return self

    def wording(self, modalities: frozenset[Modality]) -> str:
        """The text for this set of triggering modalities (``text`` when none is specific)."""
        return self.texts.get(trigger_key(modalities), self.text)


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
    modalities: list[Modality] = Field(
        default_factory=list, description="The modalities behind the signals that fired it."
    )


def load_rules(path: Path = RULES_PATH) -> RuleSet:
    """Read and validate a rule file."""
    return RuleSet.model_validate(json.loads(path.read_text(encoding="utf-8")))


#: Per-modality values a rule may read as ``<modality>.<name>`` (when the result has them).
PER_MODALITY: dict[str, tuple[str, ...]] = {
    "face": (
        "valence",
        "arousal",
        "dominant_emotion",
        "eyes_open",
        "facing_screen",
        "attention",
        "mouth_open",
    ),
    "voice": ("stress_level",),
    "motion": (
        "activity",
        "activity_level",
        "restlessness",
        "stillness_ratio",
        "duration_seconds",
        "placement",
        "posture",
    ),
}


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
    table["situation"] = (assessment.situation, frozenset(assessment.situation_modalities))
    for modality, result in results.items():
        source = frozenset({modality})
        table[f"{modality}.quality"] = (result.quality, source)
        table[f"{modality}.status"] = (result.status, source)
        if result.confidence is not None:
            table[f"{modality}.confidence"] = (result.confidence, source)
        if result.reason_code is not None:
            table[f"{modality}.reason_code"] = (result.reason_code, source)
        if modality == "voice":
            audio = getattr(result, "audio_quality", None)
            for key in ("snr_db", "level_factor"):
                value = getattr(audio, key, None) if audio is not None else None
                if value is not None:
                    table[f"voice.{key}"] = (value, source)
        if result.status != "ok":
            continue
        for key in PER_MODALITY.get(modality, ()):
            value = getattr(result, key, None)
            if value is not None:
                table[f"{modality}.{key}"] = (value, source)
        if modality == "motion":
            stillness = getattr(result, "stillness_ratio", None)
            duration = getattr(result, "duration_seconds", None)
            if stillness is not None and duration is not None:
                table["motion.still_seconds"] = (round(stillness * duration, 3), source)
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


def _fires(
    rule: Rule, table: dict[str, Signal], quality: dict[Modality, float], min_quality: float
) -> tuple[list[Trigger], frozenset[Modality]] | None:
    """The triggers and their modalities when ``rule`` fires, else ``None``."""
    triggers: list[Trigger] = []
    sources: set[Modality] = set()
    for condition in rule.when:
        signal = table.get(condition.signal)
        if signal is None:
            return None
        value, from_modalities = signal
        if not rule.about_quality and any(
            quality.get(m, 0.0) < min_quality for m in from_modalities
        ):
            return None
        if not condition.holds(value):
            return None
        sources |= from_modalities
        shown = round(value, 4) if isinstance(value, float) else value
        triggers.append(
            Trigger(signal=condition.signal, value=shown, condition=condition.describe())
        )
    for condition in rule.unless:
        # No quality gate here: in doubt, a rule stays quiet.
        signal = table.get(condition.signal)
        if signal is not None and condition.holds(signal[0]):
            return None
    return triggers, frozenset(sources)


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
        outcome = _fires(rule, table, quality, rules.min_quality)
        if outcome is None:
            continue
        triggers, sources = outcome
        fired.append(
            Recommendation(
                id=rule.id,
                text=rule.wording(sources),
                priority=rule.priority,
                triggered_by=triggers,
                modalities=[m for m in MODALITIES if m in sources],
            )
        )
    return sorted(fired, key=lambda r: (r.priority, r.id))
