"""The wire protocol between a ``Sandbox`` and its worker processes: the
message format, the ops, and how an exception crosses it (encoded by the
worker as JSON, rebuilt by the caller from an allowlist).  No I/O here: the
caller's side speaks it in ``_sandbox_process``, the worker's in
``_sandbox_worker``.

A worker is a fresh interpreter (``python -I -c ...``, never a fork of the
caller).  It reads its configuration (a pickle: socket descriptor, Cookie
configuration, memory limit) from stdin -- the one thing it ever unpickles,
written by its parent -- then builds one Cookie, lowers its own privileges
and limits, says it is ready and serves requests on a Unix stream socket
until the parent closes it.

Every message either way is a 5-byte header (one op byte, a little-endian
u32 payload length) and the payload.  Descriptors travel with the header as
``SCM_RIGHTS``.

Requests (parent -> worker):

* ``B`` + bytes: identify these bytes (small data, sent inline).
* ``S`` + u64 length, optionally one descriptor: identify the first
  ``length`` bytes of the shared-memory segment; a descriptor with it is a
  new (read-only) segment replacing the previous one.
* ``F`` + path bytes, optionally one descriptor: ``Cookie.file(path)``; the
  descriptor is the caller's working directory, for a relative path.
* ``D`` + nothing, one descriptor: ``Cookie.descriptor(fd)``.

Replies (worker -> parent), never a pickle (the parent does not trust them):

* ``R`` + JSON: ready (``{"pid": ...}``), after the Cookie was built.
* ``O`` + description bytes (``surrogateescape``-encoded).
* ``E`` + JSON: the exception the Cookie raised (type name and fields).
* ``M`` + JSON: the worker ran out of memory under its limit; it then exits.
"""

from __future__ import annotations

import errno as errno_module
import json
import os
import struct
from typing import Any

from .errors import DatabaseError, MagicError

HEADER = struct.Struct("<cI")
LENGTH = struct.Struct("<Q")

OP_BUFFER = b"B"
OP_SHARED = b"S"
OP_PATH = b"F"
OP_DESCRIPTOR = b"D"

REPLY_READY = b"R"
REPLY_OK = b"O"
REPLY_ERROR = b"E"
REPLY_MEMORY = b"M"

#: Most descriptors one request carries.
MAX_FDS = 1
#: Largest request payload a worker accepts (inline data is far smaller).
MAX_REQUEST = 1 << 20
#: A segment larger than this is dropped by both sides after the item that
#: needed it, so one huge input does not pin its memory for the worker's life.
KEEP_SEGMENT = 16 << 20
#: Exit status of a worker leaving after it ran out of memory.
EXIT_MEMORY = 3
#: Exit status of a worker whose configuration could not be read.
EXIT_CONFIG = 4


def encode_exception(exc: BaseException) -> bytes:
    """The JSON an ``E`` reply carries: the type's name and its fields."""
    fields: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for name in ("errno", "function", "path", "strerror"):
        value = getattr(exc, name, None)
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            fields[name] = value
    filename = getattr(exc, "filename", None)
    if isinstance(filename, (str, bytes)):
        fields["filename"] = os.fsdecode(filename)
    return json.dumps(fields).encode("ascii")


def is_out_of_memory(exc: BaseException) -> bool:
    """A failed allocation: Python's MemoryError or an ENOMEM from C."""
    if isinstance(exc, MemoryError):
        return True
    return getattr(exc, "errno", None) == errno_module.ENOMEM


_ERROR_TYPES: dict[str, type[Exception]] = {
    "MagicError": MagicError,
    "DatabaseError": DatabaseError,
    "ValueError": ValueError,
    "TypeError": TypeError,
}


def rebuild_exception(fields: Any) -> Exception:
    """The caller-side exception for a worker's ``E`` reply (an allowlist:
    anything unexpected becomes a MagicError carrying the text)."""
    if not isinstance(fields, dict) or not isinstance(fields.get("type"), str):
        raise ValueError("malformed error reply")
    name = fields["type"]
    message = str(fields.get("message", ""))
    err = fields.get("errno")
    err = err if isinstance(err, int) else 0
    if name in ("MagicError", "DatabaseError"):
        function = fields.get("function")
        path = fields.get("path")
        cls = DatabaseError if name == "DatabaseError" else MagicError
        return cls(message, errno=err,
                   function=function if isinstance(function, str) else None,
                   path=path if isinstance(path, str) else None)
    if name in _ERROR_TYPES:
        return _ERROR_TYPES[name](message)
    if name == "OSError" or (name.endswith("Error") and err):
        strerror = fields.get("strerror")
        filename = fields.get("filename")
        if err and isinstance(strerror, str):
            if isinstance(filename, str):
                return OSError(err, strerror, filename)
            return OSError(err, strerror)
        return OSError(message)
    return MagicError(f"the sandbox worker raised {name}: {message}", errno=err)
