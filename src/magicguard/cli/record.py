"""The base of the command line's small records (internal).

Plain classes with ``__slots__`` and a hand-written ``__init__``: creating
them at import costs nothing (eleven dataclasses or NamedTuples cost about
2 ms of the one-file run, generating code with ``exec``).  Fields are set
once, in ``__init__``, and never changed.
"""

from __future__ import annotations

__all__ = ["Record"]

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _R = TypeVar("_R", bound="Record")


class Record:
    """Fields named by the subclass's ``__slots__``; equal and hashed by
    value and type; ``repr`` shows them; :meth:`replace` copies with changes."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with the fields in ``changes`` replaced."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {min(unknown)!r}")
        copy = object.__new__(type(self))
        for name in self.__slots__:
            object.__setattr__(copy, name, changes.get(name, getattr(self, name)))
        return copy
