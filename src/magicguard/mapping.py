"""``Mapping``: a read-only view of a file's bytes that never kills the process.

A Mapping maps a file ``PROT_READ`` and ``MAP_PRIVATE`` (never writable, never
executable) and lets libmagic read it in place: ``Cookie.buffer(mapping)``
identifies it zero-copy, giving ``file(1)``'s answer.  If the file is
truncated by someone else, or a page cannot be read (a network filesystem,
a bad disk), reading it raises SIGBUS; every read magicguard makes of a
Mapping runs inside the SIGBUS trap of ``csrc/trap.c``, so the fault becomes a
``FaultError`` instead of killing the interpreter.

There is deliberately no buffer protocol: ``memoryview(mapping)`` would hand
out memory that Python code could read outside the trap.  The ways in are
``Cookie.buffer(m)`` and the copying reads ``m[i]``, ``m[a:b]`` and
``m.read(offset, size)``.  See docs/safety.md for what is guaranteed.

Length (over ~450 lines): one class; every way of reading it goes through
the SIGBUS trap, and keeping them together keeps that rule in one place.
"""

from __future__ import annotations

import _thread  # and _weakrefset: as in cookie.py, without threading.py and weakref.py
import errno as _errno
import fcntl
import os
import stat
import struct
import sys
from _weakrefset import WeakSet

from . import _lowlevel
from .errors import LimitError, LockError

# typing is imported only by type checkers: at run time it costs ~40M
# instructions (~10 ms) of `import magicguard` (see bench/RESULTS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable, Iterator, Optional, Union, overload

__all__ = ["Mapping"]

if TYPE_CHECKING:
    StrPath = Union[str, "os.PathLike[str]", "os.PathLike[bytes]"]

#: Bytes read at a time by ``Mapping.load``.
LOAD_CHUNK = 1 << 20

#: Test-only switch: False skips the cheap size pre-check before libmagic,
#: so that a truncation faults inside libmagic (leak and rebuild tests).
_PRECHECK = True

# FS_IOC_GETFLAGS = _IOR('f', 1, long) and FS_VERITY_FL from <linux/fs.h>.
_FS_IOC_GETFLAGS = 0x80086601 if struct.calcsize("l") == 8 else 0x80046601
_FS_VERITY_FL = 0x00100000

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _raw_path(path: StrPath) -> tuple[bytes, str]:
    """A path as bytes for the OS and as text for messages; no NUL bytes."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError(f"path contains a NUL byte: {os.fsdecode(raw)!r}")
    return raw, os.fsdecode(raw)


def _refuse_kind(mode: int, display: str) -> None:
    """Raise the error for anything but a regular file."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(_errno.EISDIR, "Is a directory: a Mapping maps files", display)
    kind = next((name for test, name in _KINDS if test(mode)), f"not a regular file (mode {mode:#o})")
    raise ValueError(f"{display!r} is {kind}: it cannot be mapped; read it with Mapping.load()")


def _seals(fd: int) -> int:
    get_seals = getattr(fcntl, "F_GET_SEALS", None)
    if get_seals is None:
        return 0
    try:
        return int(fcntl.fcntl(fd, get_seals))
    except OSError:
        return 0  # not a memfd (EINVAL)


def _has_fsverity(fd: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        raw = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))
    except OSError:
        return False  # the filesystem has no such flags (ENOTTY, EINVAL)
    # The kernel stores an int, whatever the ioctl number says.
    return bool(int.from_bytes(raw[:4], sys.byteorder) & _FS_VERITY_FL)


def _oserror(exc: OSError, display: str) -> OSError:
    """``exc`` again, naming the file as ``str`` (as ``Cookie.file`` does)."""
    return type(exc)(exc.errno, exc.strerror, display)


#: Every open Mapping, for the fork child.
_LIVE: WeakSet[Mapping] = WeakSet()


def _after_fork_in_child() -> None:
    """In a child of ``fork()``: fresh locks for every Mapping, no readers.

    Locks held (and reads counted) by threads of the parent would be held
    for ever in the child, where those threads do not exist.
    """
    for mapping in list(_LIVE):
        mapping._lock = _thread.RLock()
        mapping._identify_lock = _thread.RLock()
        mapping._users = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Mapping:
    """A read-only, private memory mapping of a file's bytes.

    Make one with ``Mapping.open(path)``, ``Mapping.from_fd(fd)`` or
    ``Mapping.load(source)``; identify it with ``Cookie.buffer(mapping)``.

    ``len(m)`` is the length mapped; ``m[i]`` an int, ``m[a:b]`` and
    ``m.read(offset, size)`` bytes, all copied inside the SIGBUS trap (a
    fault raises ``FaultError``).  ``close()`` unmaps it (idempotent); while
    another thread reads the mapping or libmagic is inside it, ``close()``
    raises ``BufferError`` rather than pull the memory away.  A Mapping is a
    context manager.  It keeps its own descriptor (and, by default, a shared
    ``flock``) until closed.
    """

    __slots__ = (
        "__weakref__",
        "_address",
        "_fd",
        "_identify_lock",
        "_length",
        "_loaded",
        "_lock",
        "_path",
        "_users",
    )

    _lock: _thread.RLock
    _identify_lock: _thread.RLock
    _users: int
    _address: int
    _length: int
    _fd: Optional[int]
    _path: Optional[str]
    _loaded: bool

    def __init__(self) -> None:
        raise TypeError("use Mapping.open(), Mapping.from_fd() or Mapping.load()")

    @classmethod
    def _new(cls, fd: int, length: int, path: Optional[str], loaded: bool,
             address: int = 0) -> Mapping:
        self = object.__new__(cls)
        # Re-entrant: a signal handler (or callback) may read or identify a
        # Mapping while its own thread is in the middle of doing so. That is
        # safe: each read and each identification is one C call, which
        # restores the descriptor's offset before it returns.
        self._lock = _thread.RLock()
        self._identify_lock = _thread.RLock()
        self._users = 0
        self._address = address
        self._length = length
        self._fd = fd
        self._path = path
        self._loaded = loaded
        _LIVE.add(self)
        return self

    # -- construction ------------------------------------------------------

    @classmethod
    def open(cls, path: StrPath, *, lock: bool = True, populate: bool = False) -> Mapping:
        """Map the regular file at ``path``.

        Args:
            path: ``str`` or ``os.PathLike``; symbolic links are followed.
            lock: hold a shared advisory lock (``flock LOCK_SH``) while
                mapped; if another holder has an exclusive lock, raise
                ``LockError`` at once (never wait).
            populate: pre-fault every page now (``MAP_POPULATE`` on Linux;
                on macOS ``MADV_WILLNEED`` and a guarded read of one byte per
                page), so that later reads do not wait for the disk.

        An empty file gives an empty Mapping (nothing is mapped).

        Raises:
            FileNotFoundError, PermissionError: as ``open()`` would.
            IsADirectoryError: ``path`` is a directory.
            ValueError: ``path`` is a FIFO, socket or device, or a file whose
                filesystem cannot map it (sysfs: ENODEV) -- the message says
                to use ``load`` -- or contains a NUL byte.
            LockError: another holder has an exclusive lock.
        """
        raw, display = _raw_path(path)
        # stat first: opening a FIFO for reading would wait for a writer,
        # and opening some devices has side effects.
        try:
            _refuse_kind(os.stat(raw).st_mode, display)
            fd = os.open(raw, os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise _oserror(exc, display) from None
        try:
            return cls._from_owned_fd(fd, display, lock=lock, populate=populate)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def from_fd(cls, fd: int, *, lock: bool = True) -> Mapping:
        """Map the regular file (or memfd) open as descriptor ``fd``.

        ``fd`` is duplicated: the caller keeps ownership of theirs and may
        close it at once.  The duplicate shares the file offset and any
        ``flock`` with the caller's descriptor (that is what ``dup`` does);
        magicguard restores the offset after each identification.

        Raises:
            TypeError, ValueError: ``fd`` is not a non-negative int.
            OSError: ``fd`` is not open, or not open for reading.
            IsADirectoryError, ValueError: not a regular file.
            LockError: ``lock=True`` and another holder has an exclusive lock.
        """
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"fd must be an int, not {type(fd).__name__}")
        if fd < 0:
            raise ValueError(f"fd must be a non-negative int, got {fd}")
        own = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)
        try:
            return cls._from_owned_fd(own, None, lock=lock, populate=False)
        except BaseException:
            os.close(own)
            raise

    @classmethod
    def _from_owned_fd(cls, fd: int, path: Optional[str], *, lock: bool,
                       populate: bool, loaded: bool = False) -> Mapping:
        display = path if path is not None else f"descriptor {fd}"
        st = os.fstat(fd)
        _refuse_kind(st.st_mode, display)
        if lock:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise LockError(
                    f"{display}: another holder has an exclusive lock (flock); not mapped",
                    errno=exc.errno or _errno.EWOULDBLOCK, function="flock",
                    path=path) from None
        length = st.st_size
        try:
            address = _lowlevel.map_file(fd, length, populate, path) if length else 0
        except OSError as exc:
            if exc.errno in (_errno.ENODEV, _errno.EACCES, _errno.EINVAL):
                # sysfs, some FUSE and special filesystems: mmap is not
                # supported for this file, though it reads fine.
                raise ValueError(
                    f"{display!r} cannot be mapped ({_errno.errorcode.get(exc.errno, exc.errno)}: "
                    f"its filesystem does not support mmap, as for sysfs); read it with "
                    f"Mapping.load()") from None
            raise
        return cls._new(fd, length, path, loaded, address)

    @classmethod
    def load(cls, source: Union[StrPath, BinaryIO, Any], *, max_bytes: int = 1 << 30) -> Mapping:
        """Read ``source`` into sealed memory and map that: a snapshot.

        For what cannot be mapped safely or at all: ``"-"`` (standard input),
        a pipe, a socket, a non-seekable binary file object, or a file the
        caller wants snapshotted.  The bytes are read in chunks of
        ``LOAD_CHUNK`` into a memfd sealed against shrinking, growing and
        writing (``F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE``); where memfd
        does not exist (macOS), into anonymous memory made read-only.  So
        the result is ``immutable``.

        Args:
            source: ``"-"``, a path (``str`` or ``os.PathLike``; a FIFO is
                read until EOF), or a binary file object (``readinto`` or
                ``read``).  File objects and standard input are not closed.
            max_bytes: the most that may be read.

        Raises:
            LimitError: ``source`` holds more than ``max_bytes`` bytes; nothing
                is returned and what was read is released.
            TypeError: a text file object, or an unsupported ``source``.
            ValueError: ``max_bytes`` is negative.
            IsADirectoryError, FileNotFoundError, PermissionError: as ``open()``.
        """
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be an int, not {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        if isinstance(source, str) and source == "-":
            stdin = sys.stdin.buffer if sys.stdin is not None else None
            return cls._load_from(stdin, 0, "standard input", None, max_bytes)
        if isinstance(source, (str, os.PathLike)):
            raw, display = _raw_path(source)
            fd = os.open(raw, os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY)
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    raise IsADirectoryError(_errno.EISDIR, "Is a directory", display)
                return cls._load_from(None, fd, display, display, max_bytes)
            finally:
                os.close(fd)
        if hasattr(source, "readinto") or hasattr(source, "read"):
            return cls._load_from(source, -1, f"file object {type(source).__name__}", None,
                                  max_bytes)
        raise TypeError(f"load() takes '-', a path or a binary file object, "
                        f"not {type(source).__name__}")

    @staticmethod
    def _chunks(fileobj: Any, fd: int, display: str, limit: int) -> Iterator[bytes]:
        """Yield chunks until EOF or until more than ``limit`` bytes came."""
        total = 0
        while total <= limit:
            want = min(LOAD_CHUNK, limit + 1 - total)
            if fileobj is None:
                chunk = os.read(fd, want)
            else:
                chunk = fileobj.read(want)
                if isinstance(chunk, str):
                    raise TypeError(f"load(): {display} is a text stream; pass its binary "
                                    f"buffer (e.g. sys.stdin.buffer)")
                if chunk is None:  # non-blocking raw stream with no data yet
                    raise BlockingIOError(_errno.EAGAIN, f"load(): {display} has no data yet")
            if not chunk:
                return
            total += len(chunk)
            yield bytes(chunk)

    @classmethod
    def _load_from(cls, fileobj: Any, fd: int, display: str, path: Optional[str],
                   max_bytes: int) -> Mapping:
        def too_big(size: int) -> LimitError:
            return LimitError(f"load(): {display} holds more than max_bytes={max_bytes} bytes; "
                              f"nothing was kept", size=size, limit=max_bytes, path=path)

        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is None:
            return cls._load_anonymous(fileobj, fd, display, path, max_bytes, too_big)
        mfd = memfd_create("magicguard-load", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            total = 0
            for chunk in cls._chunks(fileobj, fd, display, max_bytes):
                total += len(chunk)
                if total > max_bytes:
                    raise too_big(total)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(mfd, view):]
            fcntl.fcntl(mfd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
            return cls._from_owned_fd(mfd, path, lock=False, populate=False, loaded=True)
        except BaseException:
            os.close(mfd)
            raise

    @classmethod
    def _load_anonymous(cls, fileobj: Any, fd: int, display: str, path: Optional[str],
                        max_bytes: int, too_big: Callable[[int], LimitError]) -> Mapping:
        """No memfd (macOS): gather the bytes, copy them once into anonymous
        memory that is then made read-only.  No descriptor: libmagic sees
        only the bytes (no ELF details that need a descriptor)."""
        data = bytearray()
        for chunk in cls._chunks(fileobj, fd, display, max_bytes):
            data += chunk
            if len(data) > max_bytes:
                raise too_big(len(data))
        address = _lowlevel.map_copy(data) if data else 0
        return cls._new(-1, len(data), path, True, address)

    # -- state -------------------------------------------------------------

    @property
    def path(self) -> Optional[str]:
        """The path given to ``open`` or ``load``, or None (a descriptor, stdin)."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once ``close()`` has run."""
        return self._fd is None

    @property
    def immutable(self) -> bool:
        """True when the kernel guarantees these bytes cannot change or shrink.

        That is: a loaded Mapping; a memfd sealed against shrinking and
        writing (``F_GET_SEALS``); a file with fs-verity (``FS_VERITY_FL``).
        Otherwise another process may truncate or rewrite the file, and a
        read may raise ``FaultError``.
        """
        fd = self._live_fd()
        if self._loaded:
            return True
        shrink = getattr(fcntl, "F_SEAL_SHRINK", 0)
        write = getattr(fcntl, "F_SEAL_WRITE", 0)
        if shrink and write and _seals(fd) & (shrink | write) == shrink | write:
            return True
        return _has_fsverity(fd)

    def _live_fd(self) -> int:
        fd = self._fd
        if fd is None:
            raise ValueError("I/O operation on closed Mapping")
        return fd

    def _display(self) -> str:
        return self._path if self._path is not None else "mapping"

    def _pinned(self) -> _Pin:
        """Hold the mapping in place: ``with m._pinned() as (address, length,
        fd)``; ``close`` raises ``BufferError`` until the block ends."""
        return _Pin(self)

    def identify_with(self, handle: _lowlevel.Handle) -> bytes:
        """libmagic's answer for these bytes, through ``handle`` (for
        ``Cookie.buffer``, with the Cookie's lock held).  One identification
        at a time per Mapping: libmagic seeks the shared descriptor (ELF,
        compress)."""
        with _Pin(self) as (address, length, fd), self._identify_lock:
            return handle.mapping(address, length, fd, _PRECHECK, self._path)

    def lend_descriptor(self) -> _Lend:
        """The mapped file's descriptor (-1 for anonymous memory), for the
        ``Sandbox`` to pass to a worker: ``with m.lend_descriptor() as fd``;
        for the block, ``close`` raises ``BufferError`` and no other
        identification of this Mapping runs (the worker's libmagic seeks the
        shared descriptor)."""
        return _Lend(self)

    # -- reading -----------------------------------------------------------

    def __len__(self) -> int:
        return self._length

    def read(self, offset: int = 0, size: int = -1) -> bytes:
        """Copy ``size`` bytes from ``offset`` (``size`` -1: to the end).

        Reads past the end are shortened, as for files.

        Raises:
            FaultError: the file shrank or failed under the read.
            ValueError: a negative offset, or the Mapping is closed.
        """
        for name, value in (("offset", offset), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        if size < -1:
            raise ValueError(f"size must be -1 or more, got {size}")
        with self._pinned() as (address, length, _fd):
            start = min(offset, length)
            stop = length if size == -1 else min(length, start + size)
            return _lowlevel.read(address + start, stop - start, self._path, start)

    if TYPE_CHECKING:
        @overload
        def __getitem__(self, index: int) -> int: ...

        @overload
        def __getitem__(self, index: slice) -> bytes: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[int, bytes]:
        if isinstance(index, slice):
            picked = range(*index.indices(self._length))
            if not picked:
                return b""
            if picked.step == 1:
                return self.read(picked[0], len(picked))
            # Only the bytes asked for are read, in C (one guarded pass):
            # m[::1 << 20] of 3 GiB reads 3,072 bytes, not the span.
            with self._pinned() as (address, _length, _fd):
                return _lowlevel.gather(address, picked.start, picked.step, len(picked),
                                        self._path)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"Mapping indices must be int or slice, not {type(index).__name__}")
        i = index + self._length if index < 0 else index
        if not 0 <= i < self._length:
            raise IndexError("Mapping index out of range")
        return self.read(i, 1)[0]

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Unmap and release the descriptor (and lock).  Idempotent.

        Raises:
            BufferError: another thread is reading the mapping or libmagic is
                inside it; nothing was released (try again later).
        """
        with self._lock:
            if self._fd is None:
                return
            if self._users:
                raise BufferError(f"cannot close Mapping of {self._display()}: "
                                  f"{self._users} read(s) in progress")
            fd, address, length = self._fd, self._address, self._length
            # Invalid before releasing, as CPython's mmap does.
            self._fd, self._address = None, 0
        try:
            if address:
                _lowlevel.unmap(address, length)
        finally:
            if fd >= 0:
                os.close(fd)

    def __enter__(self) -> Mapping:
        self._live_fd()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Best effort at garbage collection; nothing can be pinned by then.
        try:
            if getattr(self, "_fd", None) is not None:
                self.close()
        except Exception:  # noqa: BLE001, S110 - __del__ is best effort: nothing to report to
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"length={self._length}"
        return f"<magicguard.Mapping {self._display()!r} {state}>"

    def __reduce__(self) -> Any:
        raise TypeError("a Mapping cannot be pickled; pickle its path and re-open it")


class _Pin:
    """``Mapping._pinned()``: counts a user of the mapping for the block.

    A class rather than ``contextlib.contextmanager``: cheaper per call
    (every identification of a Mapping enters one) and contextlib stays out
    of ``from magicguard import Cookie``.
    """

    __slots__ = ("_mapping",)

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping

    def __enter__(self) -> tuple[int, int, int]:
        mapping = self._mapping
        with mapping._lock:
            fd = mapping._live_fd()
            mapping._users += 1
        return mapping._address, mapping._length, fd

    def __exit__(self, *exc_info: object) -> None:
        mapping = self._mapping
        with mapping._lock:
            mapping._users -= 1


class _Lend:
    """``Mapping.lend_descriptor()``: the mapping pinned and its
    identification lock held for the block; yields the descriptor."""

    __slots__ = ("_mapping", "_pin")

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping
        self._pin = _Pin(mapping)

    def __enter__(self) -> int:
        fd = self._pin.__enter__()[2]
        try:
            self._mapping._identify_lock.acquire()
        except BaseException:  # e.g. KeyboardInterrupt while waiting: unpin
            self._pin.__exit__(None, None, None)
            raise
        return fd

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._mapping._identify_lock.release()
        finally:
            self._pin.__exit__(None, None, None)
