"""``Cookie``: a libmagic handle that is safe to use from Python.

A Cookie owns one ``magic_t`` with its flags, params and database.  It
validates every argument before C sees it, serialises its own calls (so it
may be shared between threads; use one Cookie per thread, or a ``Pool``, to
run in parallel), releases the GIL while libmagic works, and turns every
libmagic failure into an exception.

Length (over ~450 lines): one class, the public Cookie API, whose docstrings
are its reference; its argument checks are in ``_validate``, its C calls in
``_lowlevel``.
"""

from __future__ import annotations

import _thread  # with _weakrefset below: see the note after the imports
import os
import stat
from _weakrefset import WeakSet

from . import _lowlevel
from ._lowlevel import MAGIC_BUFFER_LIMIT as _BUFFER_LIMIT
from ._lowlevel import Handle, HandleLost, _h_buffer, _new_result, _unpack, decode
from ._validate import (
    align_offset,
    check_database,
    check_descriptor,
    check_flags,
    check_max_size,
    check_param,
    check_param_value,
    check_params,
    descriptor_of,
    fspath,
    fspaths_for_list,
    nbytes,
    precheck_database_files,
    refuse_larger,
)
from ._validate import contiguous as as_contiguous
from .errors import DatabaseError, FaultError
from .flags import Flags, Param
from .mapping import Mapping as _Mapping

# _thread.RLock and _weakrefset.WeakSet are what threading.RLock() and
# weakref.WeakSet are; importing them directly keeps `from magicguard import
# Cookie` from loading threading.py, weakref.py and what they import (~1.5 ms).

# typing is imported only by type checkers: at run time it costs ~40M
# instructions (~10 ms) of `import magicguard` (see bench/RESULTS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Optional, Sequence, Union

__all__ = ["Buffer", "Cookie", "Database", "StrPath"]

if TYPE_CHECKING:
    StrPath = Union[str, "os.PathLike[str]", "os.PathLike[bytes]"]
else:  # importable names for the annotations of other modules
    StrPath = Buffer = Database = object
"""A file name: ``str`` or ``os.PathLike`` (``bytes`` is a database *buffer*)."""

if TYPE_CHECKING:
    # PEP 688's protocol (collections.abc.Buffer from Python 3.12), spelled
    # through typing_extensions, whose stubs every type checker carries: the
    # name exists for type checkers only, so there is no run-time dependency.
    from typing_extensions import Buffer as BytesLike

    Buffer = Union[BytesLike, _Mapping]
"""What ``buffer()`` takes: any object with the buffer protocol (bytes, bytearray,
memoryview, array, mmap, NumPy -- PEP 688's ``Buffer``), or a ``Mapping``."""

if TYPE_CHECKING:
    Database = Union[None, StrPath, BytesLike, Sequence[Union[StrPath, BytesLike]]]
"""What ``Cookie(database=...)`` accepts: see ``Cookie``."""

_CLOSED = "I/O operation on closed Cookie"

#: Every open Cookie, for the fork child (``_after_fork_in_child``).
_LIVE: WeakSet[Cookie] = WeakSet()


def _after_fork_in_child() -> None:
    """In a child of ``fork()``: give every Cookie a fresh lock.

    A lock held by another thread of the parent stays held in the child,
    where that thread does not exist.  The C side (``pthread_atfork`` in
    csrc/handle.c) re-initialises the handles' own locks and drops any
    handle that was in use, which its Cookie then rebuilds.
    """
    for cookie in list(_LIVE):
        cookie._lock = _thread.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Config:
    """What a Cookie was asked for, enough to build it again (after a fault,
    in another process)."""

    __slots__ = ("database", "flags", "params")

    def __init__(self, flags: int, database: tuple[str, tuple[Any, ...]], params: dict[Param, int]):
        self.flags = flags
        self.database = database
        self.params = params


class Cookie:
    """A libmagic handle: flags, params and a loaded database.

    Args:
        flags: ``Flags`` (or their int value) saying what to report.
        database: what to load.

            * ``None``: the bundled database (in the system build, libmagic's
              default, which honours ``$MAGIC``).
            * a ``str`` or ``os.PathLike``, or a list of them: those database
              files (compiled ``.mgc`` or magic sources).
            * a bytes-like object, or a list of them: compiled databases held
              in memory (``magic_load_buffers``); the Cookie keeps its own copy
              for as long as libmagic needs it.
        params: ``{Param: int}`` applied after opening, e.g.
            ``{Param.BYTES_MAX: 1 << 20}``.
        max_size: refuse inputs larger than this many bytes with
            ``LimitError``, before reading them: a buffer's length, a regular
            file's size (``file``, ``descriptor``).  None: no limit.

    Raises:
        TypeError, ValueError: a bad argument (named in the message).
        DatabaseError: the database could not be loaded.
        MagicError: libmagic refused to open a handle.

    A Cookie is a context manager; ``close()`` frees it at once.  It may be
    shared between threads: it serialises its own calls.
    """

    def __init__(
        self,
        flags: Union[Flags, int] = Flags.NONE,
        database: Database = None,
        params: Optional[Mapping[Param, int]] = None,
        max_size: Optional[int] = None,
    ) -> None:
        # Serialises configuration changes and rebuilds between threads; the
        # handle serialises libmagic itself (in C). Re-entrant: a signal
        # handler that changes flags while the same thread does is safe,
        # since no libmagic state spans two C calls.
        self._lock = _thread.RLock()
        self._handle: Optional[Handle] = None
        self._max_size = check_max_size(max_size)
        flags_value = check_flags(flags)
        checked_params = check_params(params)
        db = check_database(database)
        self._config = _Config(flags_value, db, checked_params)
        self._handle = self._build(self._config)
        _LIVE.add(self)

    # -- construction ------------------------------------------------------

    @classmethod
    def _database_arg(cls, database: tuple[str, tuple[Any, ...]]) -> Union[bytes, list[bytes], None]:
        """``database`` as ``_lowlevel.load_database`` takes it, after the
        checks libmagic would make noisily (paths only)."""
        kind, items = database
        if kind == "buffers":
            return list(items)
        if kind == "paths":
            precheck_database_files(items)
            return b":".join(items)
        return None

    @classmethod
    def _load(cls, handle: Handle, database: tuple[str, tuple[Any, ...]]) -> None:
        _lowlevel.load_database(handle, cls._database_arg(database))

    @classmethod
    def _build(cls, config: _Config) -> Handle:
        return _lowlevel.open_handle(
            config.flags, cls._database_arg(config.database),
            [(param.value, value) for param, value in config.params.items()], capture=True)

    def _live(self) -> Handle:
        handle = self._handle
        if handle is None:
            raise ValueError(_CLOSED)
        return handle

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Free the libmagic handle.  Idempotent; later calls raise ValueError.

        Safe from a signal handler: a call in progress on this thread keeps
        the handle until it returns (its answer is already copied), and the
        handle is then freed; other threads' calls finish first.
        """
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` has run."""
        return self._handle is None

    def __enter__(self) -> Cookie:
        self._live()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<magicguard.Cookie {state} flags={Flags(self._config.flags)!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the configuration (flags, database, params), never C state."""
        return (Cookie, self.config_args())

    def config_args(self) -> tuple[Any, ...]:
        """The checked arguments this Cookie was built from, such that
        ``Cookie(*cookie.config_args())`` builds an equal one: ``(flags,
        database, params)`` plus ``max_size`` when set.  The database is None,
        a list of ``str`` paths or a list of ``bytes`` buffers.  Pool and
        pickling build their Cookies from it.
        """
        kind, items = self._config.database
        database: Database
        if kind == "default":
            database = None
        elif kind == "paths":
            database = [os.fsdecode(p) for p in items]
        else:
            database = list(items)
        args: tuple[Any, ...] = (self._config.flags, database, dict(self._config.params))
        if self._max_size is not None:
            args += (self._max_size,)
        return args

    @property
    def max_size(self) -> Optional[int]:
        """The largest input accepted, in bytes (None: no limit); see ``Cookie``."""
        return self._max_size

    def _rebuild(self, old: Handle) -> Handle:
        """Replace ``old`` with a fresh handle of the same configuration.

        Used after libmagic was interrupted mid-call (a trapped fault) or
        the process forked while another thread was inside it: its state can
        no longer be trusted.  Another thread (or a signal handler) may have
        rebuilt it already, or the Cookie may have been closed meanwhile.
        """
        with self._lock:
            current = self._handle
            if current is None:
                raise ValueError(_CLOSED)
            if current is not old:
                return current
            old.close()
            self._handle = self._build(self._config)
            return self._handle

    def _call(self, method: str, *args: Any) -> bytes:
        """Run ``Handle.<method>(*args)``, rebuilding a lost handle once."""
        handle = self._live()
        try:
            return getattr(handle, method)(*args)  # type: ignore[no-any-return]
        except HandleLost:
            pass
        except ValueError:
            # close() from a signal handler (or another thread) between our
            # look-up and the call: report it as closed.
            if self._handle is None:
                raise ValueError(_CLOSED) from None
            raise
        return getattr(self._rebuild(handle), method)(*args)  # type: ignore[no-any-return]

    # -- identification ----------------------------------------------------

    def file(self, path: Union[StrPath, bytes]) -> str:
        """Identify the file at ``path``, as ``file -b path`` would.

        Symbolic links are reported as links unless ``Flags.SYMLINK`` is set,
        in which case the target is identified.  Devices are described, or
        read with ``Flags.DEVICES``.

        Raises:
            FileNotFoundError, PermissionError: as ``open()`` would.
            IsADirectoryError: ``path`` is a directory.
            ValueError: ``path`` is a socket, or a FIFO with ``Flags.DEVICES``
                (reading it would wait for a writer; pass a descriptor), or
                contains a NUL byte.  Without DEVICES a FIFO is described
                by name, as ``file -b`` does: ``fifo (named pipe)``.
            LimitError: a regular file larger than ``max_size``.
            MagicError: libmagic failed.
        """
        raw = fspath(path)
        display = os.fsdecode(raw)
        self._live()
        follow = bool(self._config.flags & Flags.SYMLINK)
        try:
            st = os.stat(raw) if follow else os.lstat(raw)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, display) from None
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory: Cookie.file() identifies files",
                                    display)
        if stat.S_ISSOCK(mode) or (stat.S_ISFIFO(mode) and self._config.flags & Flags.DEVICES):
            # With DEVICES libmagic would open and read a FIFO: that waits
            # for a writer, for ever if none comes.
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
            raise ValueError(f"{display!r} is {kind}, not a file; identify its data "
                             f"with Cookie.descriptor() or Cookie.buffer()")
        if stat.S_ISREG(mode):
            refuse_larger(st.st_size, self._max_size, display, display)
        # A FIFO is described by name, as file -b does ("fifo (named pipe)"):
        # libmagic stats it and never opens it (without Flags.DEVICES).
        result = decode(self._call("file", raw, display))
        if stat.S_ISREG(mode) and result.endswith("no read permission"):
            # libmagic describes an unreadable file rather than failing
            # (unreadable_info in src/magic.c); report it the way open() does.
            try:
                os.close(os.open(raw, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)))
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, display) from None
        return result

    def descriptor(self, fd: Union[int, Any]) -> str:
        """Identify the data readable from a descriptor or a file object.

        ``fd`` is an int or an object with ``fileno()``.  libmagic reads from
        the descriptor's current offset (up to ``Param.BYTES_MAX`` bytes) and
        seeks back: the offset is unchanged afterwards, and the descriptor is
        never closed.  For a binary file object, identification starts at the
        object's position (``tell()``), even when its read buffer has taken
        the OS offset further; a writable one is flushed first.  A pipe or
        socket is consumed (it cannot seek back) and a pipe with no data yet
        blocks until it has some, like ``read()``.

        Raises:
            TypeError: not an int or a file object.
            ValueError: a negative descriptor, or a closed file object.
            io.UnsupportedOperation: a file object with no OS descriptor
                (``io.BytesIO``): the message says to use ``buffer()``.
            OSError: the descriptor is not open (EBADF) or is a directory.
            LimitError: a regular file larger than ``max_size``.
            MagicError: libmagic failed to read it.
        """
        number, fileobj = descriptor_of(fd)
        check_descriptor(number, self._max_size)
        self._live()
        restore = align_offset(fileobj, number)
        try:
            return decode(self._call("descriptor", number))
        finally:
            if restore is not None:
                os.lseek(number, restore, os.SEEK_SET)

    def buffer(self, data: Buffer) -> str:
        """Identify bytes in memory, zero-copy.

        ``data`` is any object with the buffer protocol: bytes, bytearray,
        memoryview (sliced and multi-dimensional ones too: strided views are
        the one case that is copied), array.array, mmap.mmap, NumPy arrays.
        libmagic scans all of it, as C's ``magic_buffer`` does -- except data
        of 4 GiB or more, beyond libmagic's 32-bit offsets, which is
        identified by its first ``Param.BYTES_MAX`` bytes, as ``file(1)``
        reads a file.  Pass a slice (``memoryview(data)[:n]``) to bound the
        work on large data yourself.

        A ``magicguard.Mapping`` is identified as ``file(1)`` identifies the
        file: libmagic reads at most ``Param.BYTES_MAX`` bytes of its head, in
        place, and (bundled build) reads through the Mapping's descriptor what
        it reads through one for ``file(1)`` (ELF details, for one).

        Every read runs inside magicguard's SIGBUS trap, guarding exactly
        ``data``'s memory on this thread: if that memory faults (an ``mmap``
        or Mapping of a file truncated meanwhile) the call raises
        ``FaultError`` and the Cookie stays usable, rebuilt with the same
        flags, params and database.

        Raises:
            TypeError: ``data`` is a ``str`` or has no buffer protocol.
            LimitError: ``data`` (or the Mapping) is larger than ``max_size``.
            FaultError: the memory faulted while being read.
            ValueError: a closed Mapping.
            MagicError: libmagic failed.
        """
        handle = self._handle
        if (type(data) is bytes and handle is not None and self._max_size is None
                and (size := len(data)) <= _BUFFER_LIMIT):
            # The hot path, Handle.buffer's bytes case inlined: one frame,
            # one C call (no trap: a bytes object's heap storage cannot
            # fault), the answer copied into a result record this call owns
            # (a spare one; a new one only when a signal handler re-entered).
            spare = handle._spare
            try:
                rec = spare.pop()
            except IndexError:
                rec = _new_result()
            rc = _h_buffer(handle._h, data, size, 0, rec[0])
            if rc >= 0:
                out = _unpack(rec[1], rc).decode("utf-8", "surrogateescape")
                spare.append(rec)
                return out  # type: ignore[no-any-return]
            try:
                return handle._answer(rc, rec, "magic_buffer", None).decode("utf-8", "surrogateescape")
            except HandleLost:
                return self._rebuild(handle).buffer(data).decode("utf-8", "surrogateescape")
        mapping: Optional[_Mapping] = None
        if type(data) is bytes:
            contiguous: Any = data
        elif isinstance(data, _Mapping):
            mapping = data
            refuse_larger(len(mapping), self._max_size, "the Mapping", mapping.path)
        else:
            # max_size before any copy: a strided view is gathered below.
            if self._max_size is not None:
                refuse_larger(nbytes(data), self._max_size, "the buffer")
            contiguous = as_contiguous(data)
        if mapping is None and self._max_size is not None:
            with memoryview(contiguous) as view:
                refuse_larger(view.nbytes, self._max_size, "the buffer")
        if handle is None:
            raise ValueError(_CLOSED)
        try:
            raw = handle.buffer(contiguous) if mapping is None else mapping.identify_with(handle)
        except FaultError:
            if handle.closed:  # libmagic was cut short: rebuild it
                self._rebuild(handle)
            raise
        except HandleLost:
            handle = self._rebuild(handle)
            raw = handle.buffer(contiguous) if mapping is None else mapping.identify_with(handle)
        return raw.decode("utf-8", "surrogateescape")

    # -- flags and params --------------------------------------------------

    @property
    def flags(self) -> Flags:
        """The flags in force; assign ``Flags`` (or an int) to change them."""
        with self._lock:
            return Flags(self._live().getflags())

    @flags.setter
    def flags(self, value: Union[Flags, int]) -> None:
        checked = check_flags(value)
        with self._lock:
            self._live().setflags(checked)
            self._config.flags = checked

    def getparam(self, param: Param) -> int:
        """The current value of a libmagic limit."""
        member = check_param(param)
        with self._lock:
            return self._live().getparam(member.value)

    def setparam(self, param: Param, value: int) -> None:
        """Set a libmagic limit; values libmagic would truncate are refused."""
        member = check_param(param)
        number = check_param_value(member, value)
        with self._lock:
            self._live().setparam(member.value, number)
            self._config.params[member] = number

    @property
    def error(self) -> Optional[str]:
        """libmagic's last error message (``magic_error``), or None."""
        with self._lock:
            return self._live().error()

    @property
    def errno(self) -> int:
        """The OS errno of libmagic's last error (``magic_errno``), or 0."""
        with self._lock:
            return self._live().errno()

    # -- databases ---------------------------------------------------------

    def load(self, database: Database = None) -> None:
        """Replace the loaded database (same forms as ``Cookie(database=...)``)."""
        db = check_database(database)
        with self._lock:
            self._load(self._live(), db)
            self._config.database = db

    def _paths_arg(self, paths: Union[StrPath, Iterable[StrPath], None]) -> tuple[Optional[bytes], Optional[str]]:
        if paths is None:
            return None, None
        if isinstance(paths, (str, os.PathLike)):
            items = [paths]
        elif isinstance(paths, (list, tuple)):
            items = list(paths)
            if not items:
                raise ValueError("paths: an empty list names no file")
        else:
            raise TypeError(f"paths must be a path or a list of paths, not {type(paths).__name__}")
        joined = b":".join(fspaths_for_list(items, "magic file path"))
        return joined, os.fsdecode(joined)

    @property
    def messages(self) -> list[str]:
        """What libmagic printed during this Cookie's last ``load``,
        ``compile`` or ``check`` (parse warnings, file -c's header), captured
        instead of written to stderr (bundled build; the system libmagic
        prints them itself).  A failure's lines are also on its
        ``DatabaseError.messages``."""
        handle = self._handle
        return [] if handle is None else list(handle.messages)

    def compile(self, paths: Union[StrPath, Sequence[StrPath]]) -> None:
        """Compile magic source files (``file -C -m paths``).

        As libmagic does, each ``NAME`` is written as ``NAME.mgc`` in the
        current directory.  Raises ``DatabaseError`` if a source does not
        compile, carrying libmagic's warnings in ``messages`` (bundled build:
        nothing is printed).
        """
        raw, display = self._paths_arg(paths)
        with self._lock:
            self._live().database_action("compile", raw, display)

    def check(self, paths: Union[StrPath, Sequence[StrPath], None] = None) -> bool:
        """Check that magic files parse (``file -c``): True if they do.

        What libmagic says about them (its warnings, one per problem) is in
        ``cookie.messages`` afterwards, never printed (bundled build).  A
        missing file is False, with "No such file or directory" there.
        ``None`` checks the database libmagic would load by default.
        """
        raw, display = self._paths_arg(paths)
        with self._lock:
            handle = self._live()
            try:
                if raw is not None:
                    precheck_database_files(raw.split(b":"), "magic_check")
                handle.database_action("check", raw, display)
            except DatabaseError as exc:
                if not handle.messages:
                    handle.messages = [str(exc)]
                return False
        return True

    def list(self, paths: Union[StrPath, Sequence[StrPath], None] = None) -> None:
        """Print the rules of magic files with their strengths (``file -l``) to stdout."""
        raw, display = self._paths_arg(paths)
        with self._lock:
            self._live().database_action("list", raw, display)

