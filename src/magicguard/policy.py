"""``Policy``: which uploads may in, and every reason for the decision.

>>> from magicguard import Policy
>>> policy = Policy(allow=["image/*", "pdf"], deny=["svg"], max_size=10 << 20)
>>> policy.allows_type("image/png", "png")
(True, ("type image/png (png) matches allow pattern 'image/*'",))

A policy is immutable and can be loaded from TOML (``Policy.from_toml``):

.. code-block:: toml

    [policy]                      # or top-level keys, or [tool.magicguard.policy]
    allow = ["image/*", "pdf"]    # MIME patterns (with a '/') or labels
    deny = ["svg"]
    max_size = "10 MiB"           # or a number of bytes
    extension_must_match = true
    isolation = "process"         # "process" | "thread" | "none"
    timeout = 5.0
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Literal, Mapping, Optional, Sequence, Union

__all__ = ["DEFAULT_REFUSING", "FINDING_CODES", "Isolation", "Policy"]

Isolation = Literal["process", "thread", "none"]
"""Where libmagic runs for a verdict: a ``Sandbox`` worker process, a ``Pool``
thread, or the caller's thread."""

#: Every finding code a verdict may carry.
FINDING_CODES = frozenset({
    "extension_mismatch",      # the file name's extension does not fit the content
    "declared_type_mismatch",  # the declared Content-Type does not match the content
    "multiple_formats",        # the content is several formats at once (a polyglot)
    "executable_content",      # native executable code
    "script_content",          # a script, or a script payload inside another format
    "truncated",               # the format's end marker is missing
    "empty",                   # no bytes at all
    "unknown_type",            # libmagic knows nothing better than "data"
    "too_large",               # more than the policy's max_size
    "refused_by_policy",       # the policy refused it (the message says why)
})

#: The findings that refuse a file under the default ``Policy()``.
DEFAULT_REFUSING = frozenset({"extension_mismatch", "declared_type_mismatch",
                              "multiple_formats", "too_large"})

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000 ** 2, "mb": 1000 ** 2,
          "mib": 1 << 20, "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1 << 30, "t": 1000 ** 4,
          "tb": 1000 ** 4, "tib": 1 << 40}


def _size(value: object, name: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"{name} must be a number of bytes or a size such as '10 MiB', "
                             f"got {value!r}")
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (bytes), a size string or None, "
                        f"not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _patterns(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of MIME patterns or labels, "
                        f"not {type(value).__name__}")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name}: each pattern must be a non-empty str, got {item!r}")
        out.append(item.strip().lower())
    return tuple(out)


def _matches(pattern: str, mime_type: str, label: str) -> bool:
    if "/" in pattern:
        return fnmatch.fnmatchcase(mime_type.lower(), pattern)
    return fnmatch.fnmatchcase(label, pattern)


@dataclass(frozen=True)
class Policy:
    """What may be uploaded.

    Args:
        allow: MIME patterns (``"image/*"``, ``"application/pdf"``) or labels
            (``"png"``, ``"docx"``, see ``magicguard.labels``); when given, a
            file must match one.  Empty: every type.
        deny: patterns or labels that refuse a file whatever ``allow`` says.
        max_size: refuse larger inputs (bytes, or a string such as
            ``"10 MiB"``), before reading them where the size is known.
        extension_must_match: refuse a file whose name's extension does not
            fit its content (finding ``extension_mismatch``).
        declared_type_must_match: refuse a file whose declared Content-Type
            does not match its content (``declared_type_mismatch``).
        allow_multiple_formats: accept polyglots (``multiple_formats``).
        refuse: more finding codes that refuse a file, e.g.
            ``("executable_content", "script_content", "truncated", "empty")``.
        isolation: where libmagic runs: ``"process"`` (a ``Sandbox`` worker:
            for hostile input), ``"thread"`` (a ``Pool`` thread) or
            ``"none"`` (the caller's thread, the fastest).
        timeout: seconds a verdict's libmagic calls may take (``"process"``:
            the worker is killed past it; ``"thread"``: the caller stops
            waiting).  Needs an isolation other than ``"none"``.

    Raises:
        TypeError, ValueError: a bad field (named in the message).
    """

    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    max_size: Union[int, str, None] = None
    extension_must_match: bool = True
    declared_type_must_match: bool = True
    allow_multiple_formats: bool = False
    refuse: Sequence[str] = ()
    isolation: Isolation = "none"
    timeout: Optional[float] = field(default=None)

    @property
    def size_limit(self) -> Optional[int]:
        """``max_size`` in bytes (a string such as ``"5 MiB"`` is converted
        when the policy is made), or None for no limit."""
        assert not isinstance(self.max_size, str)  # __post_init__ converted it
        return self.max_size

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "allow", _patterns(self.allow, "allow"))
        set_(self, "deny", _patterns(self.deny, "deny"))
        set_(self, "max_size", _size(self.max_size, "max_size"))
        for name in ("extension_must_match", "declared_type_must_match", "allow_multiple_formats"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {type(getattr(self, name)).__name__}")
        refuse = _patterns(self.refuse, "refuse")
        unknown = sorted(set(refuse) - FINDING_CODES)
        if unknown:
            raise ValueError(f"refuse: unknown finding codes {unknown} "
                             f"(known: {sorted(FINDING_CODES)})")
        set_(self, "refuse", refuse)
        if self.isolation not in ("process", "thread", "none"):
            raise ValueError(f"isolation must be 'process', 'thread' or 'none', "
                             f"got {self.isolation!r}")
        if self.timeout is not None:
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, "
                                f"not {type(self.timeout).__name__}")
            if not (self.timeout > 0 and math.isfinite(self.timeout)):
                raise ValueError(f"timeout must be a positive, finite number of seconds, "
                                 f"got {self.timeout!r}")
            if self.isolation == "none":
                raise ValueError("timeout needs isolation 'process' or 'thread': a call in the "
                                 "caller's thread cannot be stopped")
            set_(self, "timeout", float(self.timeout))

    # -- decisions ----------------------------------------------------------

    @property
    def refusing(self) -> frozenset[str]:
        """The finding codes that refuse a file under this policy."""
        codes = set(self.refuse) | {"too_large"}
        if self.extension_must_match:
            codes.add("extension_mismatch")
        if self.declared_type_must_match:
            codes.add("declared_type_mismatch")
        if not self.allow_multiple_formats:
            codes.add("multiple_formats")
        return frozenset(codes)

    def allows_type(self, mime_type: str, label: str) -> tuple[bool, tuple[str, ...]]:
        """Whether ``allow``/``deny`` let a type in, with every reason."""
        what = f"type {mime_type} ({label})"
        reasons = []
        ok = True
        for pattern in self.deny:
            if _matches(pattern, mime_type, label):
                ok = False
                reasons.append(f"{what} matches deny pattern {pattern!r}")
        if self.allow:
            hits = [p for p in self.allow if _matches(p, mime_type, label)]
            if hits:
                reasons.append(f"{what} matches allow pattern {hits[0]!r}")
            else:
                ok = False
                reasons.append(f"{what} matches none of the allow patterns {list(self.allow)}")
        return ok, tuple(reasons)

    # -- loading ------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """A policy from a dict (as read from TOML or JSON); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a policy is a table of settings, not {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown policy settings {unknown} (known: {sorted(names)})")
        return cls(**dict(data))

    @classmethod
    def from_toml(cls, path: Union[str, os.PathLike[str]]) -> Policy:
        """Load a policy from a TOML file: top-level keys, a ``[policy]`` table
        or a ``[tool.magicguard.policy]`` table (so it can live in pyproject.toml).

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not valid TOML, or a setting is wrong (the file named).
        """
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised on 3.9/3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ImportError("reading a TOML policy on Python < 3.11 needs tomli: "
                                  "pip install 'magicguard[toml]'") from None
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{os.fsdecode(path)}: not valid TOML: {exc}") from None
        table: Any = data
        if "tool" in data and isinstance(data["tool"], dict) and "magicguard" in data["tool"]:
            table = data["tool"]["magicguard"].get("policy", {})
        elif "policy" in data and isinstance(data["policy"], dict):
            table = data["policy"]
        try:
            return cls.from_mapping(table)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{os.fsdecode(path)}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (lists for tuples), as ``from_mapping`` takes it."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}
