"""The rule types, looked up by name (STYLE 5: a registry, not an if-chain).

A new type is a module here with a `Rule` subclass (``type: Literal["name"]``) and its
`RuleState`, registered below; the loader, the JSON Schema and the engine pick it up.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import get_args

from rules.types.base import MAX_SAMPLES, Check, Reading, Rule, RuleState
from rules.types.keyword import KeywordRule
from rules.types.negative_share import NegativeShareRule
from rules.types.spike import SpikeRule
from rules.types.volume import VolumeRule


def _type_name(cls: type[Rule]) -> str:
    """The name a rule class answers to: the one value of its ``type: Literal[...]``."""
    names = get_args(cls.model_fields["type"].annotation)
    if len(names) != 1 or not isinstance(names[0], str):
        raise TypeError(f"{cls.__name__}.type must be a Literal of one name")
    return names[0]


RULE_TYPES: MappingProxyType[str, type[Rule]] = MappingProxyType(
    {_type_name(cls): cls for cls in (VolumeRule, SpikeRule, NegativeShareRule, KeywordRule)}
)
"""Rule type name (the ``type:`` in YAML) -> its config model."""

__all__ = [
    "MAX_SAMPLES",
    "RULE_TYPES",
    "Check",
    "KeywordRule",
    "NegativeShareRule",
    "Reading",
    "Rule",
    "RuleState",
    "SpikeRule",
    "VolumeRule",
]
