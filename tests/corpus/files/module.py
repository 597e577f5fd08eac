"""A module without a shebang."""

from __future__ import annotations

import os


class Thing:
    def __init__(self) -> None:
        self.path = os.getcwd()


def helper(x: int) -> int:
    return x * 2
