"""The exceptions magicguard raises.

``MagicError`` is the base of every libmagic failure; it is never raised
for a wrong argument, which gets the builtin ``TypeError`` or ``ValueError``
(a closed Cookie is a ``ValueError``, as for a closed file).  Subclasses that
also derive from a builtin let callers catch whichever they know.
"""

from __future__ import annotations

import builtins

# typing is imported only by type checkers: at run time it costs ~40M
# instructions (~10 ms) of `import magicguard` (see bench/RESULTS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

__all__ = [
    "DatabaseError",
    "FaultError",
    "LimitError",
    "LockError",
    "MagicError",
    "TimeoutError",
    "WorkerCrashed",
]


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
    """A magic database could not be loaded, compiled, checked or listed.

    Attributes:
        messages: the lines libmagic printed while it tried (parse warnings,
            "Maximum number of warnings ... exceeded"), captured instead of
            written to the process's stderr (bundled build); the first few
            are also in the message. Empty when there were none.
    """

    messages: list[str] = []  # noqa: RUF012 - never mutated: the raw layer assigns each exception its own list


def _restore(cls: type[MagicError], message: str, state: dict[str, object]) -> MagicError:
    """Unpickle an exception whose constructor takes required keywords."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


def _reduce(self: MagicError) -> tuple[object, ...]:
    """Pickle every attribute (the constructor's keywords are not in ``args``)."""
    return (_restore, (type(self), self.message, dict(self.__dict__)))


class LimitError(MagicError):
    """An input is larger than the limit it was allowed (a ``Sandbox``'s
    ``max_size``: refused before any of it was read; ``Mapping.load``'s
    ``max_bytes``: refused once more than that was read, nothing kept).

    Attributes (besides ``MagicError``'s):
        size: the input's size in bytes (of a stream, what was read before
            it was refused: more than ``limit``).
        limit: the limit in force.
    """

    def __init__(self, message: str, *, size: int, limit: int, path: Optional[str] = None) -> None:
        super().__init__(message, path=path)
        self.size = size
        self.limit = limit

    __reduce__ = _reduce


# OSError declares errno as a slot, MagicError as an int attribute: the same int at runtime.
class TimeoutError(MagicError, builtins.TimeoutError):  # type: ignore[misc]  # noqa: A001 - by design: it is also a builtins.TimeoutError
    """Identifying one item took longer than the ``Sandbox``'s ``timeout``.

    The worker that held the item was killed and replaced.  Also a builtin
    ``TimeoutError``, so ``except TimeoutError`` of either kind catches it.

    Attributes (besides ``MagicError``'s):
        timeout: the limit in seconds.
        pid: the process id of the worker that was killed.
    """

    def __init__(self, message: str, *, timeout: float, pid: int) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.pid = pid

    __reduce__ = _reduce


class WorkerCrashed(MagicError):
    """A ``Sandbox`` worker died while it held an item (a signal, an abort, an
    exit), or ran out of memory under its ``memory_limit``.

    Only the item it held fails: the worker is replaced and every other item
    goes on.

    Attributes (besides ``MagicError``'s):
        pid: the process id of the worker.
        signal: the number of the signal that killed it, or None.
        exitcode: its exit status when it exited, or None.
        reason: ``"signal"``, ``"exit"``, ``"memory"`` (the ``memory_limit``
            was hit), ``"protocol"`` (it sent something malformed) or
            ``"start"`` (a replacement could not be started).
    """

    def __init__(self, message: str, *, pid: Optional[int], reason: str,
                 signal: Optional[int] = None, exitcode: Optional[int] = None,
                 errno: int = 0) -> None:
        super().__init__(message, errno=errno)
        self.pid = pid
        self.reason = reason
        self.signal = signal
        self.exitcode = exitcode

    __reduce__ = _reduce


class FaultError(MagicError):
    """The memory being read faulted: the mapped file shrank, or its storage
    failed, while it was being read (a SIGBUS, trapped).

    Raised by ``Cookie.buffer`` and by ``Mapping`` reads instead of letting
    the process die.  The Cookie stays usable: libmagic was cut short, so
    the Cookie rebuilt its handle with the same flags, params and database.

    Attributes:
        offset: the byte offset of the fault from the start of the buffer
            (or, when the file was found shorter before reading, the file's
            new size), or None when unknown.
        si_code: the kernel's ``si_code`` for the fault (``BUS_ADRERR`` 2
            for a page past the end of the file), 0 when no fault occurred
            (the pre-check refused).
    """

    def __init__(
        self,
        message: str,
        *,
        offset: Optional[int] = None,
        si_code: int = 0,
        errno: int = 0,
        function: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message, errno=errno, function=function, path=path)
        self.offset = offset
        self.si_code = si_code


# typeshed types OSError.errno as Optional[int], MagicError's as int; a
# LockError always carries one (EWOULDBLOCK), so the int is the truth.
class LockError(MagicError, BlockingIOError):  # type: ignore[misc]
    """A file could not be locked because another holder's lock conflicts
    (``Mapping.open(lock=True)`` never waits).  Also a ``BlockingIOError``."""



class ReentrancyError(MagicError):
    """A libmagic handle was entered again by the thread already inside it.

    That happens only from code Python runs in the middle of another call
    on the same thread: a signal handler (``signal.signal``), a ``__del__``
    or weakref callback, a trace function.  magicguard refuses rather than
    hand libmagic's state to two calls at once (which could give one of
    them the other's answer, or freed memory).  Use another ``Cookie`` in
    such code; the helpers ``from_buffer``/``from_file`` do so by
    themselves.
    """
