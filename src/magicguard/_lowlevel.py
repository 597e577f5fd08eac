"""The raw layer: the one module that touches cffi's ``ffi`` and ``lib``.

Every libmagic call goes through here, and every C result is translated on
the next line through ``_result`` or ``_status``, so that a NULL or -1
becomes a ``MagicError`` naming the function, libmagic's message, errno and
the path involved.  Nothing above this module sees a cdata object.

Thread safety (the rules libmagic imposes, see src/magic.c, src/apprentice.c):

* A ``magic_t`` must never be used by two threads at once: each ``Handle``
  is an ``mg_handle`` (csrc/trap.h) whose C lock every call takes.
* ``magic_open``, loading, compiling, checking and listing touch
  process-global state in libmagic (a static default-path string, lazily
  filled tables), so the shim runs them under a process-wide C lock.
* cffi releases the GIL around every C call, so separate handles in separate
  threads run in parallel.

Both locks are held only inside one C call, and libmagic's answer (or error
text) is copied into memory the caller owns before the handle's lock is
released: Python code -- a signal handler, say -- can never run while a lock
is held or see a pointer into libmagic's state.  The shim re-initialises
its locks in a child after ``fork()`` (``pthread_atfork``).

``open_handle`` is the one way to a loaded handle (Cookie, the command line,
and the sandbox's workers through Cookie): the default database's rule is
written there once.

Length (over ~450 lines): the raw layer is one module on purpose -- it is
the one way into C (tests/test_layers.py); splitting it would make two.
"""

from __future__ import annotations

import os

from ._native import ffi, lib
from .errors import DatabaseError, FaultError, MagicError, ReentrancyError

# typing is imported only by type checkers: at run time it costs ~40M
# instructions (~10 ms) of `import magicguard` (see bench/RESULTS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Literal, Optional, Sequence, Union

BUNDLED: bool = bool(lib.MG_BUNDLED)
"""True when libmagic is the bundled static build, False for the system one."""

SIZE_MAX: int = (1 << (8 * ffi.sizeof("size_t"))) - 1

# Looked up once: attribute access on cffi's lib and ffi is not free, and
# Handle.buffer runs for every identification.
_from_buffer = ffi.from_buffer
_string = ffi.string
_release = ffi.release
_NULL = ffi.NULL

#: The longest buffer libmagic identifies correctly in one piece: its
#: softmagic offsets are 32-bit (see ``Handle.buffer``).
MAGIC_BUFFER_LIMIT: int = 0xFFFFFFFF

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data")
BUNDLED_DATABASE = os.path.join(DATA_DIR, "magic.mgc")


def constant(name: str) -> int:
    """The value of a constant compiled into the extension (``MAGIC_*``, ``MG_*``)."""
    return int(getattr(lib, name))


def default_workers() -> int:
    """The CPUs this process may run on: ``os.sched_getaffinity`` where it
    exists (it honours taskset and cgroup cpusets), else ``os.cpu_count()``."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        try:
            return max(1, len(getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def version() -> int:
    """``magic_version()``: the linked libmagic's version, e.g. 547."""
    return int(lib.magic_version())


def engine() -> dict[str, Any]:
    """What the linked libmagic is made of (``magicguard.libmagic_build()``).

    The bundled build's facts come from ``mg_engine_info()``, a JSON string
    compiled into its ``libmagic.a`` by build_libmagic.py; the system build
    can say only its release.
    """
    release = "{}.{:02d}".format(*divmod(version(), 100))
    if not BUNDLED:
        return {"release": release, "build": "system", "patches": None,
                "decompressors": None, "tuning": None}
    import json

    info = json.loads(_string(lib.mg_engine_info()).decode("utf-8"))
    return {"release": info["release"], "build": "bundled", "patches": list(info["patches"]),
            "decompressors": dict(info["decompressors"]), "tuning": bool(info["tuning"])}


def _message(function: str, text: Optional[str], errno: int, path: Optional[str]) -> str:
    where = f" ({path})" if path is not None and (text is None or path not in text) else ""
    if text is None:
        detail = os.strerror(errno) if errno else "failed without saying why"
        return f"{function}{where}: {detail}"
    suffix = f" [errno {errno}: {os.strerror(errno)}]" if errno and os.strerror(errno) not in text else ""
    return f"{function}{where}: {text}{suffix}"


def decode(raw: bytes) -> str:
    """Decode a libmagic string: UTF-8, undecodable bytes kept as surrogates.

    libmagic escapes unprintable bytes itself unless ``Flags.RAW`` is set; with
    RAW a description may hold any bytes.  ``surrogateescape`` never raises and
    loses nothing: ``s.encode("utf-8", "surrogateescape")`` gives the bytes back.
    """
    return raw.decode("utf-8", "surrogateescape")


class HandleLost(MagicError):
    """Internal: the ``magic_t`` was dropped (a trapped fault cut libmagic
    short, or the process forked while another thread used it); the owner
    rebuilds the handle and, when nothing was read yet, tries again."""


def _new_result() -> tuple[Any, Any]:
    r = ffi.new("mg_result *")
    return r, r.text


_h_buffer = lib.mg_h_buffer
_unpack = ffi.unpack
_MG_REENTERED = int(lib.MG_REENTERED)
_MG_CLOSED = int(lib.MG_CLOSED)
_MG_LOST = int(lib.MG_LOST)
_MG_FAULT = int(lib.MG_FAULT)
_MG_ERROR = int(lib.MG_ERROR)
_MG_BIG = int(lib.MG_BIG)

_REENTERED = ("{function}: this handle is already in use by this thread: called from a "
              "signal handler or callback while this Cookie is in use; use another Cookie there")


class Handle:
    """An open ``magic_t`` behind its own lock (``mg_handle`` in csrc/trap.h).

    Every method is one C call that takes the handle's lock, runs libmagic
    and copies its answer (or error) into memory this call owns: no pointer
    into libmagic's state ever reaches Python, so nothing a signal handler
    does between two bytecodes can change or free an answer being read.
    Threads are serialised by the C lock; the same thread entering again
    (which only a handler or callback can do while a database call runs)
    gets ``ReentrancyError``, never a deadlock.
    """

    __slots__ = ("_closed", "_errno", "_error", "_h", "_keepalive", "_spare", "messages")

    def __init__(self, flags: int, capture: bool = False) -> None:
        """``capture``: what libmagic prints to stderr while loading,
        compiling or checking is kept in ``messages`` (and on the
        ``DatabaseError``) instead (bundled build); the CLI leaves it off
        to print as ``file(1)`` does."""
        err = ffi.new("int *")
        h = lib.mg_h_open(flags, 1 if capture else 0, err)
        if h == ffi.NULL:
            e = int(err[0])
            raise MagicError(_message("magic_open", None, e, None), errno=e, function="magic_open")
        # The record is freed only when this object dies: a call in progress
        # holds a reference, so close() never frees memory under it.
        self._h: Any = ffi.gc(h, lib.mg_h_free)
        self._closed = False
        # Buffers handed to magic_load_buffers: libmagic reads them in place
        # for the cookie's whole life (MAP_TYPE_USER in src/apprentice.c).
        self._keepalive: list[Any] = []
        # Result records to reuse: popped for a call, pushed back after it,
        # so a call re-entered from a handler gets a record of its own.
        self._spare: list[tuple[Any, Any]] = []
        # The last failure's libmagic message and errno (error(), errno()).
        self._error: Optional[str] = None
        self._errno = 0
        #: Lines libmagic printed during the last captured database operation.
        self.messages: list[str] = []

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the ``magic_t`` now (or, if this thread is inside a call on
        it, as that call ends); a second call does nothing."""
        if not self._closed:
            self._closed = True
            lib.mg_h_close(self._h)
        self._keepalive = []

    @property
    def closed(self) -> bool:
        return self._closed

    # -- results -----------------------------------------------------------

    def _take(self) -> tuple[Any, Any]:
        spare = self._spare
        return spare.pop() if spare else _new_result()

    def _text(self, rec: tuple[Any, Any]) -> bytes:
        r = rec[0]
        if r.big != _NULL:
            try:
                return _unpack(r.big, r.len)  # type: ignore[no-any-return]
            finally:
                lib.mg_result_free(r)
        return _unpack(rec[1], r.len)  # type: ignore[no-any-return]

    def _fail(self, rc: int, rec: tuple[Any, Any], function: str, path: Optional[str],
              cls: type[MagicError] = MagicError) -> MagicError:
        """The exception for a call that returned status ``rc`` < 0."""
        r = rec[0]
        if rc == _MG_REENTERED:
            return ReentrancyError(_REENTERED.format(function=function), function=function,
                                   path=path)
        if rc == _MG_CLOSED:
            return ValueError("I/O operation on closed Cookie")  # type: ignore[return-value]
        if rc == _MG_LOST:
            return HandleLost(f"{function}: the libmagic handle was dropped; rebuild it",
                              function=function, path=path)
        if rc == _MG_FAULT:
            if r.fault.closed:
                self._closed = True
            if r.fault.faulted:
                return fault_error(r.fault, function, path)
            err = int(r.fault.sys_errno)
            return MagicError(_message(function, None, err, path), errno=err,
                              function=function, path=path)
        text = decode(self._text(rec)) if r.len or r.big != _NULL else None
        err = int(r.lib_errno)
        self._error, self._errno = text, err
        return cls(_message(function, text, err, path), errno=err, function=function, path=path,
                   reason=text)

    def _answer(self, rc: int, rec: tuple[Any, Any], function: str, path: Optional[str]) -> bytes:
        if rc >= 0 or rc == _MG_BIG:
            out = self._text(rec)
            self._spare.append(rec)
            return out
        raise self._fail(rc, rec, function, path)

    # -- errors ------------------------------------------------------------

    def error(self) -> Optional[str]:
        """``magic_error()``: libmagic's last error (or warning) text, or None."""
        rec = self._take()
        if lib.mg_h_op(self._h, lib.MG_OP_ERROR, 0, _NULL, _NULL, _NULL, _NULL, 0, rec[0]) != 0:
            return self._error
        r = rec[0]
        return None if r.status != 0 else decode(self._text(rec))

    def errno(self) -> int:
        """``magic_errno()``: the OS errno of libmagic's last error, or 0."""
        rec = self._take()
        if lib.mg_h_op(self._h, lib.MG_OP_ERROR, 0, _NULL, _NULL, _NULL, _NULL, 0, rec[0]) != 0:
            return self._errno
        return int(rec[0].lib_errno)

    # -- identification ----------------------------------------------------

    def file(self, path: bytes, display: str) -> bytes:
        """``magic_file(path)``: libmagic's answer for a file name."""
        rec = self._take()
        return self._answer(lib.mg_h_file(self._h, path, rec[0]), rec, "magic_file", display)

    def stdin(self) -> bytes:
        """``magic_file(NULL)``: libmagic's answer for standard input."""
        rec = self._take()
        return self._answer(lib.mg_h_file(self._h, _NULL, rec[0]), rec, "magic_file", "-")

    def descriptor(self, fd: int) -> bytes:
        """``magic_descriptor(fd)``: reads from the current offset, then seeks back."""
        rec = self._take()
        return self._answer(lib.mg_h_descriptor(self._h, fd, rec[0]), rec, "magic_descriptor",
                            f"descriptor {fd}")

    def buffer(self, data: Any) -> bytes:
        """magic_buffer over any C-contiguous buffer, zero-copy, via the shim.

        A ``bytes`` object's storage is Python's heap, which cannot fault:
        it goes to libmagic directly (no trap, no handler check: no syscall).
        Anything else is exported for the call (``ffi.from_buffer``: a
        ``bytearray`` cannot be resized under libmagic) and read inside the
        SIGBUS trap guarding its pages: a fault (an ``mmap`` of a file
        truncated meanwhile) raises ``FaultError``, and if libmagic was inside
        the call the handle is closed (``closed`` is then True: the owner
        rebuilds it).

        libmagic's softmagic takes lengths and offsets as 32-bit values
        (``mget``/``mcopy`` in src/softmagic.c), so a buffer of 4 GiB or more
        gets wrong answers ("data", corrupt ELF lines).  Such a buffer is
        identified by its first ``BYTES_MAX`` bytes instead, the head
        ``file(1)`` reads of a file.
        """
        # The hot path of every identification: kept to what must run.
        spare = self._spare
        rec = spare.pop() if spare else _new_result()
        if type(data) is bytes:
            length = len(data)
            if length > MAGIC_BUFFER_LIMIT:
                length = min(length, self.getparam(constant("MAGIC_PARAM_BYTES_MAX")))
            rc = _h_buffer(self._h, data, length, 0, rec[0])
        else:
            # Exported for the call and released on every path, an
            # exception's included (its traceback would otherwise keep the
            # export alive, and the owner could not close an mmap).
            view = _from_buffer(data)
            try:
                length = len(view)
                if length > MAGIC_BUFFER_LIMIT:
                    length = min(length, self.getparam(constant("MAGIC_PARAM_BYTES_MAX")))
                rc = _h_buffer(self._h, view, length, 1, rec[0])
            finally:
                _release(view)
        if rc >= 0:
            out = _unpack(rec[1], rc)
            spare.append(rec)
            return out  # type: ignore[no-any-return]
        return self._answer(rc, rec, "magic_buffer", None)

    def mapping(self, address: int, length: int, fd: int, precheck: bool,
                path: Optional[str]) -> bytes:
        """Identify mapped file bytes ``[address, address + length)`` as
        ``magic_descriptor(fd)`` would (see ``mg_mapping`` in csrc/trap.h).

        ``fd`` -1: anonymous memory, no descriptor.  ``precheck``: refuse
        with ``FaultError`` before libmagic runs when the file has shrunk.
        """
        rec = self._take()
        rc = lib.mg_h_mapping(self._h, ffi.cast("void *", address), length, fd,
                              1 if precheck else 0, rec[0])
        return self._answer(rc, rec, "magic_buffer", path)

    # -- flags and params --------------------------------------------------

    def _op(self, op: int, function: str, iarg: int = 0, value: Any = _NULL, path: Any = _NULL,
            display: Optional[str] = None, cls: type[MagicError] = MagicError,
            bufs: Any = _NULL, sizes: Any = _NULL, n: int = 0) -> Any:
        rec = self._take()
        r = rec[0]
        rc = lib.mg_h_op(self._h, op, iarg, value, path, bufs, sizes, n, r)
        if r.warnings != _NULL:
            text = decode(_unpack(r.warnings, r.wlen))
            lib.mg_result_free(r)
            self.messages = text.splitlines()
        elif op >= lib.MG_OP_LOAD and op != lib.MG_OP_ERROR:
            self.messages = []
        if rc != 0:
            exc = self._fail(rc, rec, function, display, cls)
            if isinstance(exc, DatabaseError):
                exc.messages = list(self.messages)
                if exc.messages:
                    shown = "; ".join(exc.messages[:3])
                    more = len(exc.messages) - 3
                    exc.message += f" (libmagic said: {shown}" + (f"; {more} more" if more > 0 else "") + ")"
            raise exc
        self._spare.append(rec)
        return r

    def getflags(self) -> int:
        return int(self._op(lib.MG_OP_GETFLAGS, "magic_getflags").value)

    def setflags(self, flags: int) -> None:
        try:
            self._op(lib.MG_OP_SETFLAGS, "magic_setflags", iarg=flags)
        except MagicError as exc:
            if isinstance(exc, (ReentrancyError, HandleLost)):
                raise
            raise MagicError(
                _message("magic_setflags", f"libmagic refused flags {flags:#x}", exc.errno, None),
                errno=exc.errno, function="magic_setflags") from None

    def getparam(self, param: int) -> int:
        value = ffi.new("size_t *")
        self._op(lib.MG_OP_GETPARAM, "magic_getparam", iarg=param, value=value)
        return int(value[0])

    def setparam(self, param: int, value: int) -> None:
        box = ffi.new("size_t *", value)
        self._op(lib.MG_OP_SETPARAM, "magic_setparam", iarg=param, value=box)

    # -- databases ---------------------------------------------------------

    def load(self, paths: Optional[bytes], display: Optional[str]) -> None:
        """``magic_load``: a colon-separated list of files, or NULL (default)."""
        self._keepalive = []
        self._op(lib.MG_OP_LOAD, "magic_load", path=_NULL if paths is None else paths,
                 display=display, cls=DatabaseError)

    def load_buffers(self, buffers: Sequence[bytes]) -> None:
        """``magic_load_buffers`` over private, aligned copies of ``buffers``.

        libmagic keeps pointers into the buffers for the cookie's life and may
        byte-swap a foreign-endian database in place (src/apprentice.c), so it
        gets memory of its own, never the caller's.
        """
        copies = [ffi.new("char[]", bytes(b)) for b in buffers]
        pointers = ffi.new("void *[]", [ffi.cast("void *", c) for c in copies])
        sizes = ffi.new("size_t[]", [len(b) for b in buffers])
        try:
            self._op(lib.MG_OP_LOAD_BUFFERS, "magic_load_buffers", bufs=pointers, sizes=sizes,
                     n=len(copies), cls=DatabaseError)
        finally:
            # Kept even on failure: libmagic may hold pointers to them.
            self._keepalive = [copies, pointers, sizes]

    def database_action(self, action: str, paths: Optional[bytes], display: Optional[str]) -> None:
        """``magic_compile``, ``magic_check`` or ``magic_list``."""
        op = {"compile": lib.MG_OP_COMPILE, "check": lib.MG_OP_CHECK, "list": lib.MG_OP_LIST}[action]
        self._op(op, f"magic_{action}", path=_NULL if paths is None else paths, display=display,
                 cls=DatabaseError)


def loaded_object() -> Optional[str]:
    """Path of the shared object that provides libmagic, as the loader says.

    ``dladdr(magic_version)``: the extension itself in the bundled build, the
    system ``libmagic`` in the system build; None if the loader cannot tell.
    """
    ptr = lib.mg_libmagic_object()
    return None if ptr == ffi.NULL else os.fsdecode(ffi.string(ptr))


#: The first word of a compiled database (MAGICNO in libmagic's src/file.h).
#: build_libmagic.py repeats it: it runs before this package exists.
MAGICNO = 0xF11E041C


def database_byte_order(head: bytes) -> Optional[Literal["little", "big"]]:
    """The byte order of a compiled database from its first bytes (the
    package's one header check), or None if they are not ``MAGICNO``."""
    for order in ("little", "big"):
        if int.from_bytes(head[:4], order) == MAGICNO:
            return order
    return None


def database_format(path: str) -> Optional[int]:
    """The format version in a compiled database's header, or None.

    A compiled ``.mgc`` starts with the magic number 0xF11E041C and the
    format version, two 32-bit words in the writer's byte order; None means
    the file is shorter or starts otherwise (a magic source, say).

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    order = database_byte_order(head)
    if order is None or len(head) < 8:
        return None
    return int.from_bytes(head[4:8], order)


def check_installation(database: str = BUNDLED_DATABASE) -> None:
    """Refuse a libmagic and database that do not belong together.

    Run at import.  The linked libmagic must be the one whose ``<magic.h>``
    the extension was compiled against, and in the bundled build ``database``
    must be a compiled database of the format that libmagic reads: loading
    any other fails, after libmagic has printed dozens of warnings.

    Raises:
        ImportError: naming what does not match and how to repair it.
    """
    def version_text(v: int) -> str:
        return "{}.{:02d}".format(*divmod(v, 100))

    linked, header = version(), int(lib.MG_HEADER_VERSION)
    repair = "reinstall magicguard (pip install --force-reinstall --no-cache-dir magicguard)"
    if BUNDLED and linked != header:
        raise ImportError(f"magicguard: the linked libmagic is {version_text(linked)} but the "
                          f"extension was built for {version_text(header)}; {repair}")
    if not BUNDLED:
        return
    expected = int(lib.MG_DATABASE_FORMAT)
    try:
        found = database_format(database)
    except OSError as exc:
        raise ImportError(f"magicguard: cannot read the bundled database {database}: "
                          f"{exc.strerror or exc}; {repair}") from exc
    if found != expected:
        what = "is not a compiled magic database" if found is None else f"has format {found}"
        raise ImportError(f"magicguard: the bundled database {database} {what}, but the bundled "
                          f"libmagic {version_text(linked)} reads only format {expected}; {repair}")


def default_database_path() -> Optional[str]:
    """The database ``Cookie()`` loads: the bundled file, or None (libmagic's default)."""
    return BUNDLED_DATABASE if BUNDLED else None


def default_database(environ: bool = False) -> Optional[bytes]:
    """The default database as ``magic_load``'s argument.

    The bundled database; None (NULL: libmagic's own choice, ``$MAGIC`` and
    then its compiled-in path) in a system build, or -- with ``environ``, as
    file(1) does -- when ``$MAGIC`` is set.
    """
    if environ and os.environ.get("MAGIC"):
        return None
    default = default_database_path()
    return None if default is None else os.fsencode(default)


def load_database(handle: Handle, database: Union[bytes, Sequence[bytes], None],
                  environ: bool = False) -> None:
    """Load ``database`` into ``handle``, replacing what it had.

    ``database``: None for the default (``default_database(environ)``; the
    bundled file must exist), ``bytes`` for a colon-separated list of paths,
    a list of ``bytes`` for compiled databases in memory.

    Raises:
        DatabaseError: the database does not load (libmagic's text and errno).
    """
    if database is None:
        database = default_database(environ)
        if database is not None and not os.path.isfile(database):
            default = os.fsdecode(database)
            raise DatabaseError(f"the bundled database is missing: {default} "
                                f"(a broken install? reinstall magicguard)", path=default)
    if isinstance(database, bytes):
        handle.load(database, os.fsdecode(database))
    elif database is None:
        handle.load(None, None)
    else:
        handle.load_buffers(database)


def open_handle(flags: int, database: Union[bytes, Sequence[bytes], None] = None,
                params: Iterable[tuple[int, int]] = (), *, capture: bool = False,
                environ: bool = False) -> Handle:
    """A new ``Handle`` with ``flags``, ``params`` set and ``database`` loaded
    (see ``load_database``): the one way Cookie, the CLI and the sandbox's
    workers (through Cookie) get a libmagic handle ready to identify.

    ``capture`` as for ``Handle``.  On failure the handle is closed and the
    C ``errno`` the failed call left is kept for ``last_errno()`` (file(1)
    prints it after a database that does not load).

    Raises:
        MagicError: ``magic_open`` failed (``function`` is ``"magic_open"``).
        DatabaseError: the database does not load.
    """
    handle = Handle(flags, capture=capture)
    try:
        for tag, value in params:
            handle.setparam(tag, value)
        load_database(handle, database, environ)
    except BaseException:
        err = ffi.errno
        handle.close()
        ffi.errno = err
        raise
    return handle


def getpath() -> str:
    """``magic_getpath(NULL, 0)``: libmagic's default database search path."""
    out = ffi.new("char[]", 8192)
    lib.mg_getpath(out, 8192)
    return decode(ffi.string(out))


def last_errno() -> int:
    """The C ``errno`` left by the last libmagic call in this thread.

    cffi keeps it per thread, so it survives the Python code in between.
    file(1) appends it to its message when ``magic_load`` fails, and it can
    differ from ``magic_errno()`` (e.g. "could not find any valid magic
    files!" carries errno 0 in libmagic but ENOENT in the C library).
    """
    return int(ffi.errno)


# -- the SIGBUS trap outside libmagic: mappings and guarded reads -----------


def sigbus_handler_status() -> tuple[bool, bool]:
    """(installed, on top): whether magicguard's SIGBUS handler has been
    installed in this process, and whether it is the current action."""
    installed = ffi.new("int *")
    on_top = ffi.new("int *")
    if lib.mg_trap_status(installed, on_top) != 0:
        err = ffi.errno
        raise OSError(err, f"sigaction(SIGBUS): {os.strerror(err)}")
    return bool(installed[0]), bool(on_top[0])


def install_sigbus_handler() -> None:
    """Put magicguard's SIGBUS handler in place now (a guarded one-byte copy);
    it is otherwise installed lazily, by the first guarded read."""
    src = ffi.new("char[1]")
    dst = ffi.new("char[1]")
    fault = ffi.new("mg_fault *")
    if lib.mg_copy(dst, src, 1, fault) != 0:
        err = int(fault.sys_errno)
        raise OSError(err, f"sigaction(SIGBUS): {os.strerror(err)}")


def fault_error(fault: Any, function: str, path: Optional[str]) -> FaultError:
    """The ``FaultError`` for an ``mg_fault`` that reports a fault."""
    where = path if path is not None else "memory"
    offset = int(fault.offset)
    if fault.precheck:
        return FaultError(
            f"{function} ({where}): the file shrank to {offset} bytes, below the "
            f"length mapped; not read (it changed while mapped)",
            offset=offset, si_code=0, function=function, path=path)
    code = int(fault.si_code)
    return FaultError(
        f"{function} ({where}): SIGBUS reading offset {offset} (si_code {code}): the "
        f"mapped file was truncated, or its storage failed, while being read",
        offset=offset, si_code=code, function=function, path=path)


def map_file(fd: int, length: int, populate: bool, path: Optional[str]) -> int:
    """``mmap`` ``length`` bytes of ``fd`` read-only and private; the address."""
    err = ffi.new("int *")
    ptr = lib.mg_map(fd, length, 1 if populate else 0, err)
    if ptr == ffi.NULL:
        raise OSError(err[0], f"mmap: {os.strerror(err[0])}", path)
    return int(ffi.cast("uintptr_t", ptr))


def map_copy(data: Any) -> int:
    """Anonymous read-only memory holding a copy of ``data``; the address."""
    err = ffi.new("int *")
    with ffi.from_buffer(data) as view:
        ptr = lib.mg_map_copy(view, len(view), err)
    if ptr == ffi.NULL:
        raise OSError(err[0], f"mmap (anonymous): {os.strerror(err[0])}")
    return int(ffi.cast("uintptr_t", ptr))


def unmap(address: int, length: int) -> None:
    """``munmap`` a region from ``map_file`` or ``map_copy``."""
    if lib.mg_unmap(ffi.cast("void *", address), length) != 0:
        err = ffi.errno
        raise OSError(err, f"munmap: {os.strerror(err)}")


def gather(address: int, start: int, step: int, count: int, path: Optional[str]) -> bytes:
    """``count`` bytes at ``address + start + i * step``, copied inside the
    trap; the work and memory are ``count`` bytes, whatever the span."""
    if count == 0:
        return b""
    out = ffi.new("unsigned char[]", count)
    fault = ffi.new("mg_fault *")
    if lib.mg_gather(out, ffi.cast("unsigned char *", address), start, step, count, fault) != 0:
        if fault.faulted:
            raise fault_error(fault, "read", path)
        err = int(fault.sys_errno)
        raise OSError(err, f"read: {os.strerror(err)}", path)
    return ffi.unpack(ffi.cast("char *", out), count)  # type: ignore[no-any-return]


def read(address: int, size: int, path: Optional[str], offset: int) -> bytes:
    """Copy ``size`` bytes at ``address`` inside the trap.

    A fault raises ``FaultError`` whose offset counts from the mapping's
    start (``address - offset`` is the mapping's base).
    """
    if size == 0:
        return b""
    out = ffi.new("char[]", size)
    fault = ffi.new("mg_fault *")
    if lib.mg_copy(out, ffi.cast("void *", address), size, fault) != 0:
        if fault.faulted:
            fault.offset += offset
            raise fault_error(fault, "read", path)
        err = int(fault.sys_errno)
        raise OSError(err, f"read: {os.strerror(err)}", path)
    return ffi.unpack(out, size)  # type: ignore[no-any-return]


check_installation()


# -- wide characters for the command line (owned by the CLI: cli/output.py) --
# A separate block: the CLI prints names as file(1) does, asking the C
# library's iswprint()/wcwidth() under the process's LC_CTYPE locale.


def char_info(code: int) -> tuple[bool, int]:
    """(printable, columns) of the character ``code`` in the current locale.

    ``iswprint`` and ``wcwidth`` of the C library, as file(1) asks them
    (csrc/mg_wchar.c); columns is -1 for a character that has no width.
    """
    return bool(lib.mg_iswprint(code)), int(lib.mg_wcwidth(code))


def no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)`` for this process (csrc/mg_process.c):
    nothing it executes afterwards can gain privileges.

    Raises:
        OSError: the kernel refused, or has no prctl (ENOSYS: not Linux).
    """
    err = lib.mg_no_new_privs()
    if err:
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
