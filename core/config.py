"""Loading YAML configuration into typed models, with errors that name file, line and reason.

Every configuration file of stormwatch (settings, watchlist, rules) goes through
`load_model`. It keeps the line of every key while parsing, validates with the model,
and turns the first problem into `ConfigError`::

    stormwatch.yaml:4: bus.adapter: Input should be 'embedded' or 'kafka' (got 'rabbit')

``${NAME}`` in a string value is replaced by the environment variable ``NAME`` (an
unset variable is an error naming the setting), so secrets stay out of files. A relative
path setting (a field typed `Path`) is relative to the file's folder, not to the folder
the process happens to start in (`resolve_paths`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

M = TypeVar("M", bound=BaseModel)
Path_ = tuple[str | int, ...]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET = re.compile(r"password|secret|token|api_key|apikey|credential", re.IGNORECASE)


class ConfigError(ValueError):
    """Invalid configuration. ``str()`` is one line: ``file:line: setting: reason``."""

    def __init__(self, file: str, line: int | None, setting: str, reason: str) -> None:
        self.file, self.line, self.setting, self.reason = file, line, setting, reason
        where = f"{file}:{line}" if line else file
        what = f"{setting}: " if setting else ""
        super().__init__(f"{where}: {what}{reason}")


class _Lines:
    """Where each key path of a YAML document starts (1-based line)."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}

    def nearest(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def _construct(
    node: yaml.Node, path: Path_, lines: _Lines, file: str, env: Mapping[str, str]
) -> Any:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool):
                raise ConfigError(
                    file, key_node.start_mark.line + 1, _dotted(path), "keys must be plain scalars"
                )
            key = str(key)
            if key in out:
                raise ConfigError(
                    file, key_node.start_mark.line + 1, _dotted((*path, key)), "duplicate key"
                )
            lines.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, file, env)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, file, env) for i, item in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, str) and "${" in value:
        line = node.start_mark.line + 1

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    file, line, _dotted(path), f"environment variable {name} is not set"
                )
            return env[name]

        value = _ENV.sub(sub, value)
    return value


def _scalar(node: yaml.Node) -> Any:
    """The value of a scalar node as safe_load reads it (a blank value is None)."""
    return yaml.SafeLoader("").construct_object(node)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def parse_yaml(text: str, file: str, env: Mapping[str, str] | None = None) -> tuple[Any, _Lines]:
    """Parse one YAML document, keeping the line of every key."""
    lines = _Lines()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(file, line, "", f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, "", f"not valid YAML: {exc}") from None
    if node is None:
        return {}, lines
    return _construct(node, (), lines, file, os.environ if env is None else env), lines


def validate(model: type[M], data: Any, file: str, lines: _Lines | None = None) -> M:
    """Validate parsed data; the first error becomes a `ConfigError` with its line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        line = lines.nearest(loc) if lines else None
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown setting"
        elif err["type"] == "missing":
            reason = "required setting is missing"
        elif (
            "input" in err
            and not isinstance(err["input"], dict | list)
            and not any(_SECRET.search(str(part)) for part in loc)
        ):
            reason = f"{reason} (got {err['input']!r})"
        raise ConfigError(file, line, _dotted(loc), reason) from None


def read_text(path: Path) -> str:
    """A configuration file's text; `ConfigError` when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            line,
            "",
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}): save it as UTF-8",
        ) from None


def load_model(model: type[M], path: str | Path, env: Mapping[str, str] | None = None) -> M:
    """Read, parse and validate one YAML file into ``model``."""
    p = Path(path)
    data, lines = parse_yaml(read_text(p), str(p), env)
    return resolve_paths(validate(model, data, str(p), lines), p.resolve().parent)


def resolve_paths(model: M, base: Path) -> M:
    """``model`` with every relative `Path` in it, at any depth (nested models, their
    mappings and tuples), taken as relative to ``base``. So two processes started in
    different folders with the same settings file open the same files."""
    resolved = _resolved(model, base)
    assert isinstance(resolved, type(model))
    return resolved


def _resolved(value: Any, base: Path) -> Any:
    """``value`` with its relative paths resolved; the very same object where none is."""
    if isinstance(value, Path):
        return value if value.is_absolute() else base / value
    if isinstance(value, BaseModel):
        update = {
            name: new
            for name in type(value).model_fields
            if (new := _resolved(old := getattr(value, name), base)) is not old
        }
        return value.model_copy(update=update) if update else value
    if isinstance(value, Mapping):
        items = {k: _resolved(v, base) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if isinstance(value, tuple):
        elements = tuple(_resolved(v, base) for v in value)
        return elements if any(a is not b for a, b in zip(elements, value, strict=True)) else value
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> timedelta:
    """``90``/``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"500ms"``, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m, 2h or 1d")
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m, 2h or 1d")
    if not seconds <= _LONGEST.total_seconds():  # also refuses nan
        raise DurationTooLong(f"{value!r} is longer than {_LONGEST.days} days")
    return timedelta(seconds=seconds)


class DurationTooLong(ValueError):
    """A duration past any sensible setting (and past what date arithmetic can add)."""


_LONGEST = timedelta(days=3650)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A duration setting written as ``30s``, ``5m``, ``2h``, ``1d`` (or seconds)."""
