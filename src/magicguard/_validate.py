"""Argument validation shared by Cookie, Pool, Sandbox, the batch layer and
the CLI: the one place that says what a path, a buffer, a descriptor, a size
limit, flags, params, a database or a worker count may be, and what error a
bad one raises.

Every function here either returns the checked (normalised) value or raises
``TypeError``/``ValueError`` (``OSError``, ``LimitError``, ``DatabaseError``
where the check touches the file system) with a message naming the problem.
Nothing here calls libmagic: the checks run before any C code sees the
argument.  This module may import only the raw layer (``_lowlevel``) and
``errors``/``flags``, so every other module can import it.
"""

from __future__ import annotations

import errno as _errno
import io
import operator
import os
import stat

from . import _lowlevel
from ._lowlevel import default_workers
from .errors import DatabaseError, LimitError
from .flags import PARAM_LIMITS, Flags, Param

# typing is imported only by type checkers (import time; see cookie.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Optional, Sequence

__all__ = [
    "align_offset",
    "check_database",
    "check_descriptor",
    "check_flags",
    "check_max_size",
    "check_param",
    "check_param_value",
    "check_params",
    "check_workers",
    "contiguous",
    "default_workers",
    "descriptor_of",
    "fspath",
    "fspaths_for_list",
    "is_buffer",
    "nbytes",
    "no_descriptor_hint",
    "precheck_database_file",
    "precheck_database_files",
    "refuse_larger",
]

_ALL_FLAGS = 0
for _flag in Flags:
    _ALL_FLAGS |= _flag.value


# -- paths and buffers ---------------------------------------------------------


def fspath(path: object, what: str = "path") -> bytes:
    """A file name as bytes for C, refusing what C cannot take."""
    if isinstance(path, (bytes, bytearray, memoryview)) and what == "path":
        raw = bytes(path)
    elif isinstance(path, (str, os.PathLike)):
        raw = os.fsencode(path)
    else:
        raise TypeError(f"{what} must be str or os.PathLike, not {type(path).__name__}")
    if b"\0" in raw:
        raise ValueError(f"{what} contains a NUL byte: {os.fsdecode(raw)!r}")
    if not raw:
        raise ValueError(f"{what} is empty")
    return raw


def fspaths_for_list(items: Iterable[object], what: str) -> list[bytes]:
    """``fspath`` of each item, refusing a ':' in any: libmagic joins a list
    of files with ':' and splits it again, so a name holding one would be
    read as two files."""
    raws = []
    for item in items:
        raw = fspath(item, what)
        if b":" in raw:
            raise ValueError(f"{what} {os.fsdecode(raw)!r} contains ':', which "
                             f"libmagic reads as a separator between files")
        raws.append(raw)
    return raws


def is_buffer(obj: object) -> bool:
    """True for an object with the buffer protocol that is not a file name."""
    if isinstance(obj, (str, os.PathLike)):
        return False
    try:
        memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def contiguous(data: object) -> Any:
    """``data`` itself if its buffer is C-contiguous, else a contiguous copy.

    Zero-copy for every contiguous buffer (bytes, bytearray, memoryview and
    its 1-step slices, array, mmap, C-ordered NumPy arrays).  A strided view
    has no single byte range libmagic could read, so its bytes are gathered
    in logical order (``memoryview.tobytes()``) -- the one case that copies.
    """
    if isinstance(data, str):
        raise TypeError("buffer() takes bytes-like data, not str; encode it first "
                        "(e.g. data.encode('utf-8'))")
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"buffer() takes an object with the buffer protocol (bytes, bytearray, "
            f"memoryview, mmap, array, ...), not {type(data).__name__}") from None
    with view:
        if view.c_contiguous:
            return data
        return view.tobytes()


def nbytes(data: object) -> int:
    """The size in bytes of a buffer-protocol object (no copy)."""
    try:
        with memoryview(data) as view:  # type: ignore[arg-type]
            return view.nbytes
    except TypeError:
        return 0  # not a buffer: contiguous() says so


# -- sizes -------------------------------------------------------------------------


def check_max_size(max_size: object) -> Optional[int]:
    """Validate a ``max_size=`` argument: None (no limit) or a byte count >= 0."""
    if max_size is None:
        return None
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise TypeError(f"max_size must be an int (bytes) or None, not {type(max_size).__name__}")
    if max_size < 0:
        raise ValueError(f"max_size must not be negative, got {max_size}")
    return max_size


def refuse_larger(size: int, max_size: Optional[int], what: str, path: Optional[str] = None) -> None:
    """Raise ``LimitError`` when an input of ``size`` bytes exceeds ``max_size``."""
    if max_size is not None and size > max_size:
        raise LimitError(f"{what} is {size} bytes, more than max_size={max_size}; "
                         f"refused without reading it", size=size, limit=max_size, path=path)


# -- descriptors -------------------------------------------------------------------


def descriptor_of(fd: object) -> tuple[int, Any]:
    """``(number, file object or None)`` for ``descriptor()``'s argument.

    Raises:
        TypeError: not an int or a file object (or a bool).
        ValueError: a closed file object.
        io.UnsupportedOperation: a file object with no OS descriptor.
    """
    if isinstance(fd, bool):
        raise TypeError("descriptor() takes an int or a file object, not bool")
    if isinstance(fd, int):
        return fd, None
    if hasattr(fd, "fileno"):
        if getattr(fd, "closed", False):
            raise ValueError("descriptor(): the file object is closed")
        try:
            return fd.fileno(), fd
        except (io.UnsupportedOperation, OSError) as exc:
            raise io.UnsupportedOperation(
                f"descriptor(): this {type(fd).__name__} has no OS file descriptor "
                f"({exc}); identify its bytes with Cookie.buffer() instead, "
                f"e.g. buffer(obj.getbuffer()) for io.BytesIO") from None
    raise TypeError(f"descriptor() takes an int or a file object, not {type(fd).__name__}")


def no_descriptor_hint(item: object, exc: BaseException,
                       any_object: bool = False) -> Optional[TypeError]:
    """The batch layer's error for an item that looked like a file object but
    has no descriptor (io.BytesIO and friends, or with ``any_object`` any
    object whose ``fileno()`` is unsupported), or None for any other error."""
    if (any_object or hasattr(item, "getbuffer")) and isinstance(exc, io.UnsupportedOperation):
        return TypeError(f"{type(item).__name__} has no descriptor; pass its contents "
                         f"with .getbuffer() instead")
    return None


def check_descriptor(number: int, max_size: Optional[int]) -> os.stat_result:
    """Validate a descriptor before libmagic reads it: open, not a directory,
    and (a regular file) within ``max_size``.  Returns its ``fstat``."""
    if number < 0:
        raise ValueError(f"descriptor must be a non-negative int, got {number}")
    try:
        st = os.fstat(number)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror}: descriptor {number}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, f"Is a directory: descriptor {number}")
    if stat.S_ISREG(st.st_mode):
        refuse_larger(st.st_size, max_size, f"descriptor {number}")
    return st


def align_offset(fileobj: Any, fd: int) -> Optional[int]:
    """Point the OS offset at a file object's logical position; return the
    offset to restore afterwards (None when nothing moved)."""
    if fileobj is None:
        return None
    if getattr(fileobj, "writable", lambda: False)():
        fileobj.flush()
    if isinstance(fileobj, io.TextIOBase) or not getattr(fileobj, "seekable", lambda: False)():
        return None
    logical = fileobj.tell()
    current = os.lseek(fd, 0, os.SEEK_CUR)
    if logical == current:
        return None
    os.lseek(fd, logical, os.SEEK_SET)
    return current


# -- flags and params ----------------------------------------------------------------


def check_flags(flags: object) -> int:
    """``Flags`` or their int value, refusing unknown bits."""
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be Flags or int, not {type(flags).__name__}")
    value = int(flags)
    if value < 0 or value & ~_ALL_FLAGS:
        unknown = value & ~_ALL_FLAGS if value >= 0 else value
        raise ValueError(f"flags: unknown flag bits {unknown:#x} (known: {_ALL_FLAGS:#x})")
    return value


def check_param(param: object) -> Param:
    """A ``Param`` this build's libmagic supports."""
    if isinstance(param, bool) or not isinstance(param, int):
        raise TypeError(f"param must be Param, not {type(param).__name__}")
    try:
        member = Param(param)
    except ValueError:
        raise ValueError(f"unknown param {param!r}; known: "
                         f"{', '.join(p.name for p in Param if p.supported)}") from None
    if not member.supported:
        raise ValueError(f"param {member.name} is not supported by libmagic "
                         f"{_lowlevel.version()}")
    return member


def check_param_value(param: Param, value: object) -> int:
    """A value libmagic stores for ``param`` without truncating it."""
    if isinstance(value, bool):
        raise TypeError(f"value for {param.name} must be int, not bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"value for {param.name} must be int, "
                        f"not {type(value).__name__}") from None
    limit = PARAM_LIMITS[param]
    if number < 0:
        raise ValueError(f"value for {param.name} must not be negative, got {number}")
    if number > limit:
        raise ValueError(f"value for {param.name} must be at most {limit} "
                         f"(libmagic would truncate it), got {number}")
    return number


def check_params(params: Optional[Mapping[Param, int]]) -> dict[Param, int]:
    """A ``{Param: int}`` mapping, each entry checked."""
    if params is None:
        return {}
    if not hasattr(params, "items"):
        raise TypeError(f"params must be a mapping of Param to int, not {type(params).__name__}")
    checked: dict[Param, int] = {}
    for param, value in params.items():
        member = check_param(param)
        checked[member] = check_param_value(member, value)
    return checked


# -- databases ----------------------------------------------------------------------


def check_database(database: object) -> tuple[str, tuple[Any, ...]]:
    """Normalise ``database`` to ("default", ()), ("paths", (bytes...)) or
    ("buffers", (bytes...))."""
    if database is None:
        return ("default", ())
    items: list[Any]
    if isinstance(database, (str, os.PathLike)) or is_buffer(database):
        items = [database]
    elif isinstance(database, (list, tuple)):
        items = list(database)
        if not items:
            raise ValueError("database: an empty list names no database")
    else:
        raise TypeError(f"database must be None, a path, a bytes-like object or a list "
                        f"of them, not {type(database).__name__}")
    kinds = {"buffer" if is_buffer(item) else "path" for item in items}
    if len(kinds) > 1:
        raise TypeError("database: a list must hold only paths or only buffers, not both")
    if kinds == {"buffer"}:
        blobs = []
        for item in items:
            blob = bytes(memoryview(item).cast("B")) if memoryview(item).c_contiguous \
                else memoryview(item).tobytes()
            if not blob:
                raise ValueError("database: an empty buffer is not a compiled database")
            blobs.append(blob)
        return ("buffers", tuple(blobs))
    return ("paths", tuple(fspaths_for_list(items, "database path")))


def precheck_database_files(paths: Sequence[bytes], function: str = "magic_load") -> None:
    """``precheck_database_file`` for each; a missing file is refused only
    when every one is missing (libmagic skips a missing file in a list
    from which another loads)."""
    missing: Optional[DatabaseError] = None
    present = False
    for path in paths:
        try:
            precheck_database_file(path, function)
            present = True
        except DatabaseError as exc:
            if exc.errno != _errno.ENOENT:
                raise
            missing = missing or exc
    if missing is not None and not present:
        raise missing


def precheck_database_file(path: bytes, function: str = "magic_load") -> None:
    """Refuse, before libmagic sees it, a database it would reject noisily.

    * a missing file (neither ``NAME`` nor ``NAME.mgc``, which libmagic
      tries first): ``DatabaseError`` with errno ENOENT, where libmagic
      says only "could not find any valid magic files!" with errno 0;
    * a compiled database of another format (another libmagic version):
      libmagic would re-read it as a magic *source* and print a warning
      per line (src/apprentice.c, apprentice_1);
    * a binary file that is neither a compiled database nor text.
    """
    display = os.fsdecode(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except FileNotFoundError:
        if os.path.exists(path + b".mgc"):
            return
        # reason: what libmagic itself says (python-magic's message,
        # which compat reproduces); the message and errno say why.
        raise DatabaseError(f"{function} ({display}): No such file or directory "
                            f"(libmagic: could not find any valid magic files!)",
                            errno=_errno.ENOENT, function=function, path=display,
                            reason="could not find any valid magic files!") from None
    except IsADirectoryError:
        return  # libmagic loads every file of a directory
    except OSError:
        return  # unreadable: libmagic's own message says so
    order = _lowlevel.database_byte_order(head)
    if order is not None:
        found = int.from_bytes(head[4:8], order)
        expected = _lowlevel.constant("MG_DATABASE_FORMAT")
        if expected and found != expected:
            v = _lowlevel.version()
            raise DatabaseError(
                f"{function} ({display}): a compiled magic database of format {found}, "
                f"from another libmagic version; this libmagic ({v // 100}.{v % 100:02d}) "
                f"reads only format {expected}. Compile the database's source with this "
                f"libmagic (Cookie().compile(source)), or use the bundled database",
                function=function, path=display)
        return
    if b"\0" not in head:
        return
    raise DatabaseError(
        f"{display}: neither a compiled magic database (no MAGICNO header) "
        f"nor a magic source (binary data)", path=display, function=function)


# -- workers ---------------------------------------------------------------------------


def check_workers(workers: object) -> Optional[int]:
    """A ``workers=`` argument: None (``default_workers()``) or an int >= 1."""
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise TypeError(f"workers must be an int or None, not {type(workers).__name__}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
    return workers
