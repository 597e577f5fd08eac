"""The exceptions magicguard raises.

``MagicError`` is the base of every libmagic failure; it is never raised
for a wrong argument, which gets the builtin ``TypeError`` or ``ValueError``
(a closed Cookie is a ``ValueError``, as for a closed file).  Subclasses that
also derive from a builtin let callers catch whichever they know.
"""

from __future__ import annotations

import os
from typing import Optional, Union

__all__ = ["MagicError", "DatabaseError"]

StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class MagicError(Exception):
    """libmagic failed.

    Attributes:
        message: what went wrong, including libmagic's own text.
        errno: the OS error number libmagic reported, or 0.
        function: the libmagic call that failed (e.g. ``"magic_file"``).
        path: the file or database involved, when there is one.
        reason: libmagic's own error text (``magic_error()``), or None when
            libmagic gave none (or the failure was not libmagic's).
    """

    def __init__(
        self,
        message: str,
        *,
        errno: int = 0,
        function: Optional[str] = None,
        path: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.function = function
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class DatabaseError(MagicError):
    """A magic database could not be loaded, compiled, checked or listed."""
