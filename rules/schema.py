"""Rule files: loading, validation with file:line errors, the rule set, the JSON Schema.

A rule file is YAML with one top-level key::

    rules:
      - name: acme-volume        # unique across all loaded files
        type: volume             # a name in rules.types.RULE_TYPES
        brands: [acme]           # or "*" for every brand
        threshold: 150
        window: 1h

Every problem is refused at load as one line, ``file:line: rules[2].window: reason``
(`core.config.ConfigError`), including an unknown rule type and a rule name used twice
(in one file or across files).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import InitErrorDetails

from core.config import ConfigError, parse_yaml, read_text, validate
from rules.types import RULE_TYPES, Rule
from rules.types.base import error, field_error, format_duration

RULE_FILE_SUFFIXES = (".yaml", ".yml")


def _known() -> str:
    return ", ".join(sorted(RULE_TYPES))


def _dispatch(value: object) -> Rule:
    """Validate one rule with the model its ``type`` names (errors keep their field path)."""
    if isinstance(value, Rule):
        return value
    if not isinstance(value, dict):
        raise error("a rule is a mapping with name, type, brands and the type's settings")
    kind = value.get("type")
    if kind is None:
        missing = InitErrorDetails(type="missing", loc=("type",), input=value)
        raise ValidationError.from_exception_data("rule", [missing])
    cls = RULE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise field_error("type", f"unknown rule type {kind!r}; known: {_known()}", value)
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        # An unknown key is most often a misspelt one, which pydantic would report as the
        # setting that is missing; name the misspelling instead.
        unknown = [e for e in exc.errors() if e["type"] == "extra_forbidden"]
        if not unknown:
            raise
        loc = unknown[0]["loc"]
        close = get_close_matches(str(loc[-1]), cls.model_fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        detail = InitErrorDetails(type=error(f"unknown setting{hint}"), loc=loc, input=value)
        raise ValidationError.from_exception_data("rule", [detail]) from None


AnyRule = Annotated[Rule, PlainValidator(_dispatch)]


class RuleFile(BaseModel):
    """One rule file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rules: tuple[AnyRule, ...]


@dataclass(frozen=True, slots=True)
class RuleOrigin:
    """Where a rule was defined, for errors found after loading (unknown receivers)."""

    file: str
    index: int
    line: int | None
    receiver_lines: tuple[int | None, ...] = ()
    brand_lines: tuple[int | None, ...] = ()

    @property
    def setting(self) -> str:
        return f"rules[{self.index}]"


@dataclass(frozen=True)
class RuleSet:
    """The loaded rules, in file order, with their names unique."""

    rules: tuple[Rule, ...] = ()
    origins: Mapping[str, RuleOrigin] = field(default_factory=dict)
    """Rule name -> where it was defined."""

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def for_brand(self, brand: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies_to(brand))

    @property
    def receivers(self) -> frozenset[str]:
        """Every receiver name a rule sends to (for the shell's cross-check)."""
        return frozenset(r for rule in self.rules for r in rule.receivers)

    def check_receivers(self, known: Collection[str]) -> None:
        """Raise `ConfigError` at the first receiver that is not in ``known``."""
        for rule in self.rules:
            origin = self.origins[rule.name]
            for i, receiver in enumerate(rule.receivers):
                if receiver not in known:
                    line = origin.receiver_lines[i] if i < len(origin.receiver_lines) else None
                    raise ConfigError(
                        origin.file,
                        line or origin.line,
                        f"{origin.setting}.receivers[{i}]",
                        f"unknown receiver {receiver!r}; known: {', '.join(sorted(known))}",
                    )

    def check_brands(self, known: Collection[str]) -> None:
        """Raise `ConfigError` at the first brand id that is not in ``known`` (the
        watchlist's brand ids)."""
        for rule in self.rules:
            origin = self.origins[rule.name]
            for i, brand in enumerate(rule.brands):
                if brand != "*" and brand not in known:
                    line = origin.brand_lines[i] if i < len(origin.brand_lines) else None
                    raise ConfigError(
                        origin.file,
                        line or origin.line,
                        f"{origin.setting}.brands[{i}]",
                        f"unknown brand {brand!r}; the watchlist has: {', '.join(sorted(known))}",
                    )


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The files ``paths`` stand for: a file itself, a folder its ``*.yaml``/``*.yml``
    files in name order."""
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in RULE_FILE_SUFFIXES)
            if not found:  # a folder of no rules checks nothing: say so
                raise ConfigError(str(p), None, "", "no rule files (*.yaml, *.yml) in this folder")
            out.extend(found)
        else:
            out.append(p)
    return out


def load_rules(paths: Iterable[Path]) -> RuleSet:
    """Load and validate rule files (or folders of them) into one `RuleSet`.

    Raises `ConfigError` (``file:line: setting: reason``) at the first problem."""
    rules: list[Rule] = []
    origins: dict[str, RuleOrigin] = {}
    for path in rule_files(paths):
        file = str(path)
        data, lines = parse_yaml(read_text(path), file)
        parsed = validate(RuleFile, data, file, lines)
        for i, rule in enumerate(parsed.rules):
            where = ("rules", i)
            first = origins.get(rule.name)
            if first is not None:
                seen = f"line {first.line}" if first.file == file else f"{first.file}:{first.line}"
                raise ConfigError(
                    file,
                    lines.nearest((*where, "name")),
                    f"rules[{i}].name",
                    f"duplicate rule name {rule.name!r} (first defined at {seen})",
                )
            origins[rule.name] = RuleOrigin(
                file=file,
                index=i,
                line=lines.nearest(where),
                receiver_lines=tuple(
                    lines.nearest((*where, "receivers", j)) for j in range(len(rule.receivers))
                ),
                brand_lines=tuple(
                    lines.nearest((*where, "brands", j)) for j in range(len(rule.brands))
                ),
            )
            rules.append(rule)
    return RuleSet(tuple(rules), origins)


class _SchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        # defaults are shown as they are written in a rule file: 15m, not PT15M
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file, generated from the registered rule models (for
    editors and ``stormwatch rules schema``)."""
    any_rule: Any = Annotated[
        Union[tuple(RULE_TYPES.values())],  # noqa: UP007 - built from the registry at run time
        Field(discriminator="type"),
    ]
    model = create_model(
        "RuleFile",
        __config__=ConfigDict(extra="forbid", title="stormwatch rule file"),
        rules=(list[any_rule], ...),
    )
    schema = model.model_json_schema(schema_generator=_SchemaGenerator)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
