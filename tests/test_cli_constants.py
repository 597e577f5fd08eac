"""The command line's plain-int flag and param values equal the public enums'."""

from __future__ import annotations

import pytest

import magicguard
from magicguard.cli import constants


@pytest.mark.parametrize("name", [n for n in vars(constants.Flags) if n.isupper()])
def test_flag_value_is_the_enums(name: str) -> None:
    assert getattr(constants.Flags, name) == magicguard.Flags[name].value


@pytest.mark.parametrize("name", [n for n in vars(constants.Param) if n.isupper()])
def test_param_value_is_the_enums(name: str) -> None:
    assert getattr(constants.Param, name) == magicguard.Param[name].value

