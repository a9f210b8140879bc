"""Rule files: every invalid one is refused with its exact one-line error; valid ones load."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from core.config import ConfigError
from core.records import Severity
from rules import EXAMPLES_DIR
from rules.schema import RuleSet, load_rules, rules_json_schema
from rules.types import RULE_TYPES, KeywordRule, NegativeShareRule, SpikeRule, VolumeRule

INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def expected_error(path: Path) -> str:
    """The first line is ``# error: <what follows "path:" in the message>`` (a message
    without a line number starts with a space, so that comment has two)."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# error: "), f"{path.name} must start with '# error: ...'"
    return first[len("# error: ") :]


def test_there_is_an_invalid_file_for_each_kind_of_mistake() -> None:
    assert len(INVALID) >= 10


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_an_invalid_file_is_refused_with_its_exact_error(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules([path])
    assert str(caught.value) == f"{path}:{expected_error(path)}"
    assert "\n" not in str(caught.value)


def test_the_example_files_load() -> None:
    examples = sorted(EXAMPLES_DIR.glob("*.yaml"))
    assert [p.name for p in examples] == ["crisis.yaml"]
    ruleset = load_rules(examples)
    assert {r.type for r in ruleset} == set(RULE_TYPES)
    assert all(r.brands == ("acme",) for r in ruleset)
    assert ruleset.receivers == {"comms-slack", "comms-oncall-email"}


def test_a_valid_file_gets_the_defaults_from_the_models(
    rules_from: Callable[[str], RuleSet],
) -> None:
    ruleset = rules_from(
        """
        rules:
          - {name: v, type: volume, brands: "*", threshold: 30}
          - {name: s, type: spike, brands: [acme, globex]}
          - {name: z, type: spike, brands: [acme], min_surprise: 6}
          - {name: n, type: negative_share, brands: [acme]}
          - {name: k, type: keyword, brands: [acme], phrases: [boycott], resolve_after: 90}
        """
    )
    v, s, z, n, k = ruleset.rules
    assert isinstance(v, VolumeRule) and v.brands == ("*",) and v.window == timedelta(minutes=10)
    assert v.severity is Severity.WARNING and v.cooldown == timedelta(minutes=15)
    assert v.resolve_delay == v.window, "resolve_after defaults to the window"
    assert v.applies_to("anything") and not s.applies_to("initech") and s.applies_to("globex")
    assert isinstance(s, SpikeRule)
    # a spike rule that sets no minimum checks the novelty; one that sets some, only those
    assert (s.min_zscore, s.min_surprise, s.min_novelty, s.min_count) == (None, None, 1.7, 5)
    assert isinstance(z, SpikeRule)
    assert (z.min_zscore, z.min_surprise, z.min_novelty) == (None, 6.0, None)
    assert isinstance(n, NegativeShareRule) and (n.threshold, n.min_volume) == (0.5, 10)
    assert isinstance(k, KeywordRule) and k.min_count == 1
    assert k.resolve_delay == timedelta(seconds=90)


def test_a_rule_name_is_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "rules:\n  - {name: x, type: volume, brands: [acme], threshold: 3}\n", encoding="utf-8"
    )
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - name: y\n    type: keyword\n    brands: [acme]\n    phrases: [boycott]\n"
        "  - name: x\n    type: volume\n    brands: [acme]\n    threshold: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_rules([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert str(caught.value) == (
        f"{tmp_path / 'b.yaml'}:6: rules[1].name: duplicate rule name 'x' "
        f"(first defined at {tmp_path / 'a.yaml'}:2)"
    )


def test_a_folder_loads_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", "c.YAML"):
        (tmp_path / name).write_text(
            f"rules:\n  - {{name: {name[0]}, type: volume, brands: [acme], threshold: 3}}\n",
            encoding="utf-8",
        )
    (tmp_path / "notes.txt").write_text("not a rule file", encoding="utf-8")
    assert [r.name for r in load_rules([tmp_path])] == ["a", "b", "c"]
    assert len(load_rules([])) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no rule files"):  # it passed, checking nothing
        load_rules([empty])


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read: No such file"):
        load_rules([tmp_path / "missing.yaml"])


def test_receivers_and_brands_are_checked_against_the_configuration_with_their_line(
    rules_from: Callable[[str], RuleSet], tmp_path: Path
) -> None:
    ruleset = rules_from(
        """
        rules:
          - name: v
            type: volume
            brands: [acme, globex]
            threshold: 3
            receivers:
              - slack
              - pager
        """
    )
    ruleset.check_receivers({"slack", "pager", "email"})
    ruleset.check_brands({"acme", "globex"})
    with pytest.raises(ConfigError) as caught:
        ruleset.check_receivers({"slack", "email"})
    assert str(caught.value) == (
        f"{tmp_path / 'rules1.yaml'}:9: rules[0].receivers[1]: "
        "unknown receiver 'pager'; known: email, slack"
    )
    with pytest.raises(ConfigError) as caught:
        ruleset.check_brands({"acme"})
    assert str(caught.value) == (
        f"{tmp_path / 'rules1.yaml'}:5: rules[0].brands[1]: "
        "unknown brand 'globex'; the watchlist has: acme"
    )


def test_the_json_schema_is_generated_from_the_registered_models() -> None:
    schema = rules_json_schema()
    assert schema["required"] == ["rules"] and schema["additionalProperties"] is False
    items = schema["properties"]["rules"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == set(RULE_TYPES)
    for name, cls in RULE_TYPES.items():
        definition = schema["$defs"][mapping[name].rsplit("/", 1)[-1]]
        assert set(definition["properties"]) == set(cls.model_fields)
        assert {"name", "type", "brands"} <= set(definition["required"])
        assert definition["additionalProperties"] is False
    keyword = schema["$defs"]["KeywordRule"]["properties"]
    assert "Rückruf" in keyword["phrases"]["description"], "field docs become descriptions"
    assert keyword["window"]["default"] == "1h", "durations are shown as written in YAML"
    share = schema["$defs"]["NegativeShareRule"]["properties"]["threshold"]
    assert (share["exclusiveMinimum"], share["maximum"]) == (0, 1)
