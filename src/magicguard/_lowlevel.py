"""The raw layer: the one module that touches cffi's ``ffi`` and ``lib``.

Every libmagic call goes through here, and every C result is translated on
the next line through ``_result`` or ``_status``, so that a NULL or -1
becomes a ``MagicError`` naming the function, libmagic's message, errno and
the path involved.  Nothing above this module sees a cdata object.

Thread safety (the rules libmagic imposes, see src/magic.c, src/apprentice.c):

* A ``magic_t`` must never be used by two threads at once: ``Handle``
  callers serialise (``Cookie`` holds a lock per cookie).
* ``magic_open``, loading, compiling, checking and listing touch
  process-global state in libmagic (a static default-path string, lazily
  filled tables), so they run under ``_PROCESS_LOCK``.
* cffi releases the GIL around every C call, so separate handles in separate
  threads run in parallel.

Result strings live in the cookie's buffer until its next call, so they are
copied into ``bytes`` before the caller's lock is released.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional, Sequence

from ._native import ffi, lib
from .errors import DatabaseError, FaultError, MagicError

BUNDLED: bool = bool(lib.MG_BUNDLED)
"""True when libmagic is the bundled static build, False for the system one."""

SIZE_MAX: int = (1 << (8 * ffi.sizeof("size_t"))) - 1

# Looked up once: attribute access on cffi's lib and ffi is not free, and
# Handle.buffer runs for every identification.
_mg_buffer = lib.mg_buffer
_from_buffer = ffi.from_buffer
_string = ffi.string
_release = ffi.release
_NULL = ffi.NULL

#: The longest buffer libmagic identifies correctly in one piece: its
#: softmagic offsets are 32-bit (see ``Handle.buffer``).
MAGIC_BUFFER_LIMIT: int = 0xFFFFFFFF

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data")
BUNDLED_DATABASE = os.path.join(DATA_DIR, "magic.mgc")

# Serialises libmagic's process-global work: open, load, compile, check, list.
_PROCESS_LOCK = threading.Lock()


def constant(name: str) -> int:
    """The value of a constant compiled into the extension (``MAGIC_*``, ``MG_*``)."""
    return int(getattr(lib, name))


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


class Handle:
    """An open ``magic_t``.  Not thread-safe: the owner serialises calls."""

    __slots__ = ("_ptr", "_keepalive", "_fault")

    def __init__(self, flags: int) -> None:
        with _PROCESS_LOCK:
            ptr = lib.magic_open(flags)
            err = ffi.errno
        if ptr == ffi.NULL:
            raise MagicError(_message("magic_open", None, err, None), errno=err, function="magic_open")
        self._ptr: Any = ffi.gc(ptr, lib.magic_close)
        # Buffers handed to magic_load_buffers: libmagic reads them in place
        # for the cookie's whole life (MAP_TYPE_USER in src/apprentice.c).
        self._keepalive: list[Any] = []
        # The fault report of guarded calls, allocated once: calls on a
        # handle are serialised by its owner, and the callee zeroes it.
        self._fault: Any = ffi.new("mg_fault *")

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Free the ``magic_t`` now; a second call does nothing."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.release(ptr)
        self._keepalive = []

    def _abandon(self) -> None:
        """Forget a ``magic_t`` the shim already closed (after a trapped
        fault): drop it without calling ``magic_close`` again."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.gc(ptr, None)  # removes the destructor
        self._keepalive = []

    @property
    def closed(self) -> bool:
        return self._ptr is None

    # -- errors ------------------------------------------------------------

    def error(self) -> Optional[str]:
        """``magic_error()``: libmagic's last error text, or None."""
        text = lib.magic_error(self._ptr)
        return None if text == ffi.NULL else decode(ffi.string(text))

    def errno(self) -> int:
        """``magic_errno()``: the OS errno of libmagic's last error, or 0."""
        return int(lib.magic_errno(self._ptr))

    def _failure(self, function: str, path: Optional[str], cls: type[MagicError] = MagicError) -> MagicError:
        text, err = self.error(), self.errno()
        return cls(_message(function, text, err, path), errno=err, function=function, path=path,
                   reason=text)

    def _result(self, ptr: Any, function: str, path: Optional[str]) -> bytes:
        if ptr == ffi.NULL:
            raise self._failure(function, path)
        return ffi.string(ptr)  # type: ignore[no-any-return]

    def _status(self, rc: int, function: str, path: Optional[str], cls: type[MagicError]) -> None:
        if rc != 0:
            raise self._failure(function, path, cls)

    # -- identification ----------------------------------------------------

    def file(self, path: bytes, display: str) -> bytes:
        """``magic_file(path)``: libmagic's answer for a file name."""
        return self._result(lib.magic_file(self._ptr, path), "magic_file", display)

    def stdin(self) -> bytes:
        """``magic_file(NULL)``: libmagic's answer for standard input."""
        return self._result(lib.magic_file(self._ptr, ffi.NULL), "magic_file", "-")

    def descriptor(self, fd: int) -> bytes:
        """``magic_descriptor(fd)``: reads from the current offset, then seeks back."""
        return self._result(lib.magic_descriptor(self._ptr, fd), "magic_descriptor", f"descriptor {fd}")

    def buffer(self, data: Any) -> bytes:
        """magic_buffer over any C-contiguous buffer, zero-copy, via the shim.

        ``ffi.from_buffer`` keeps the object's buffer exported for the call,
        so a ``bytearray`` cannot be resized (and freed) under libmagic.
        The call runs inside the SIGBUS trap guarding the buffer's pages: a
        fault (an ``mmap`` of a file truncated meanwhile) raises
        ``FaultError``, and if libmagic was inside the call the handle is
        closed (``closed`` is then True: the owner rebuilds it).

        libmagic's softmagic takes lengths and offsets as 32-bit values
        (``mget``/``mcopy`` in src/softmagic.c), so a buffer of 4 GiB or more
        gets wrong answers ("data", corrupt ELF lines).  Such a buffer is
        identified by its first ``BYTES_MAX`` bytes instead, the head
        ``file(1)`` reads of a file.
        """
        # The hot path of every identification: kept to what must run.
        # A bytes object goes to C as is: cffi passes a pointer to its own
        # storage for the call (no copy, and bytes cannot change size).
        # Anything else is exported for the call and released on every
        # path, an exception's included (its traceback would otherwise keep
        # the export alive, and the owner could not close an mmap).
        fault = self._fault
        view = data if type(data) is bytes else _from_buffer(data)
        try:
            length = len(view)
            if length > MAGIC_BUFFER_LIMIT:
                length = min(length, self.getparam(constant("MAGIC_PARAM_BYTES_MAX")))
            ptr = _mg_buffer(self._ptr, view, length, fault)
            if ptr != _NULL:  # an answer: no fault, no error
                return _string(ptr)  # type: ignore[no-any-return]
            return self._guarded_result(ptr, fault, "magic_buffer", None)
        finally:
            if view is not data:
                _release(view)

    def mapping(self, address: int, length: int, fd: int, precheck: bool,
                path: Optional[str]) -> bytes:
        """Identify mapped file bytes ``[address, address + length)`` as
        ``magic_descriptor(fd)`` would (see ``mg_mapping`` in csrc/trap.h).

        ``fd`` -1: anonymous memory, no descriptor.  ``precheck``: refuse
        with ``FaultError`` before libmagic runs when the file has shrunk.
        """
        fault = ffi.new("mg_fault *")
        ptr = lib.mg_mapping(self._ptr, ffi.cast("void *", address), length, fd,
                             1 if precheck else 0, fault)
        return self._guarded_result(ptr, fault, "magic_buffer", path)

    def _guarded_result(self, ptr: Any, fault: Any, function: str, path: Optional[str]) -> bytes:
        if fault.closed:
            self._abandon()
        if fault.faulted:
            raise fault_error(fault, function, path)
        if ptr == ffi.NULL and fault.sys_errno:
            err = int(fault.sys_errno)
            raise MagicError(_message(function, None, err, path), errno=err,
                             function=function, path=path)
        return self._result(ptr, function, path)

    # -- flags and params --------------------------------------------------

    def getflags(self) -> int:
        return int(lib.magic_getflags(self._ptr))

    def setflags(self, flags: int) -> None:
        rc = lib.magic_setflags(self._ptr, flags)
        if rc != 0:
            err = ffi.errno
            raise MagicError(
                _message("magic_setflags", f"libmagic refused flags {flags:#x}", err, None),
                errno=err, function="magic_setflags")

    def getparam(self, param: int) -> int:
        value = ffi.new("size_t *")
        if lib.magic_getparam(self._ptr, param, value) != 0:
            raise self._failure("magic_getparam", None)
        return int(value[0])

    def setparam(self, param: int, value: int) -> None:
        box = ffi.new("size_t *", value)
        if lib.magic_setparam(self._ptr, param, box) != 0:
            raise self._failure("magic_setparam", None)

    # -- databases ---------------------------------------------------------

    def _restoring_flags(self, call: Any, *args: Any) -> int:
        """Run a database call under the process lock, then put back the flags.

        Parsing a magic source sets MAGIC_CHECK on the cookie for good
        (``apprentice_load`` in src/apprentice.c): the owner's flags win.
        """
        flags = lib.magic_getflags(self._ptr)
        with _PROCESS_LOCK:
            rc = int(call(self._ptr, *args))
            lib.mg_flush_stdio()
        lib.magic_setflags(self._ptr, flags)
        return rc

    def load(self, paths: Optional[bytes], display: Optional[str]) -> None:
        """``magic_load``: a colon-separated list of files, or NULL (default)."""
        rc = self._restoring_flags(lib.magic_load, ffi.NULL if paths is None else paths)
        self._keepalive = []
        self._status(rc, "magic_load", display, DatabaseError)

    def load_buffers(self, buffers: Sequence[bytes]) -> None:
        """``magic_load_buffers`` over private, aligned copies of ``buffers``.

        libmagic keeps pointers into the buffers for the cookie's life and may
        byte-swap a foreign-endian database in place (src/apprentice.c), so it
        gets memory of its own, never the caller's.
        """
        copies = [ffi.new("char[]", bytes(b)) for b in buffers]
        pointers = ffi.new("void *[]", [ffi.cast("void *", c) for c in copies])
        sizes = ffi.new("size_t[]", [len(b) for b in buffers])
        rc = self._restoring_flags(lib.magic_load_buffers, pointers, sizes, len(copies))
        self._keepalive = [copies, pointers, sizes]
        self._status(rc, "magic_load_buffers", None, DatabaseError)

    def database_action(self, action: str, paths: Optional[bytes], display: Optional[str]) -> None:
        """``magic_compile``, ``magic_check`` or ``magic_list``."""
        function = {"compile": lib.magic_compile, "check": lib.magic_check, "list": lib.magic_list}[action]
        rc = self._restoring_flags(function, ffi.NULL if paths is None else paths)
        self._status(rc, f"magic_{action}", display, DatabaseError)


def loaded_object() -> Optional[str]:
    """Path of the shared object that provides libmagic, as the loader says.

    ``dladdr(magic_version)``: the extension itself in the bundled build, the
    system ``libmagic`` in the system build; None if the loader cannot tell.
    """
    ptr = lib.mg_libmagic_object()
    return None if ptr == ffi.NULL else os.fsdecode(ffi.string(ptr))


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
    if len(head) == 8:
        for order in ("little", "big"):
            if int.from_bytes(head[:4], order) == 0xF11E041C:
                return int.from_bytes(head[4:8], order)
    return None


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


def getpath() -> str:
    """``magic_getpath(NULL, 0)``: libmagic's default database search path."""
    with _PROCESS_LOCK:
        ptr = lib.magic_getpath(ffi.NULL, 0)
    return "" if ptr == ffi.NULL else decode(ffi.string(ptr))


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
