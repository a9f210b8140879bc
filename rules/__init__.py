"""The YAML rule schema and the rules engine that fires and resolves alerts.

What the shell calls::

    ruleset = load_rules([Path("rules.d")])          # ConfigError: file:line: setting: reason
    ruleset.check_receivers(configured_receivers)    # and check_brands(watchlist_brand_ids)
    engine = RulesEngine(ruleset, clock)
    engine.restore(history_of_the_alerts_topic)
    handler, ticker = rules_handler(engine), rules_ticker(engine)

    for alert in replay(ruleset, sample_mentions):   # stormwatch rules test --replay
        print(format_alert(alert))
"""

from pathlib import Path

from rules.engine import RulesEngine
from rules.replay import format_alert, replay
from rules.schema import RuleOrigin, RuleSet, load_rules, rules_json_schema
from rules.stage import rules_handler, rules_ticker
from rules.types import RULE_TYPES, Rule

EXAMPLES_DIR = Path(__file__).parent / "examples"
"""The example rule files, shipped as package data (``stormwatch rules examples``)."""

__all__ = [
    "EXAMPLES_DIR",
    "RULE_TYPES",
    "Rule",
    "RuleOrigin",
    "RuleSet",
    "RulesEngine",
    "format_alert",
    "load_rules",
    "replay",
    "rules_handler",
    "rules_json_schema",
    "rules_ticker",
]
