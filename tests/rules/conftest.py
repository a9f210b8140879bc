"""Fixtures for the rules tests (the helpers themselves live in `tests.rules.support`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, make_mention, rules_loader


@pytest.fixture
def mk() -> MakeMention:
    return make_mention


@pytest.fixture
def rules_from(tmp_path: Path) -> Callable[[str], RuleSet]:
    return rules_loader(tmp_path)


@pytest.fixture
def driver() -> Callable[[RuleSet], Driver]:
    return Driver
