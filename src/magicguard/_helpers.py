"""One-line helpers over a Cookie cached per thread.

Each thread gets its own Cookies (one for descriptions, one for MIME types),
so the helpers run in parallel across threads instead of queueing on one
shared, locked instance.
"""

from __future__ import annotations

import _thread

from .cookie import Buffer, Cookie, StrPath
from .flags import Flags

__all__ = ["from_buffer", "from_file"]


class _PerThread(_thread._local):  # = threading.local, without importing threading.py
    def __init__(self) -> None:
        self.cookies: dict[bool, Cookie] = {}


_local = _PerThread()


def _cookie(mime: bool) -> Cookie:
    cookie = _local.cookies.get(mime)
    if cookie is None or cookie.closed:
        cookie = Cookie(Flags.MIME_TYPE if mime else Flags.NONE)
        _local.cookies[mime] = cookie
    return cookie


def from_file(path: StrPath, mime: bool = False) -> str:
    """Identify a file: its description, or its MIME type with ``mime=True``.

    Same rules and errors as ``Cookie.file``.
    """
    return _cookie(bool(mime)).file(path)


def from_buffer(data: Buffer, mime: bool = False) -> str:
    """Identify bytes-like data: its description, or its MIME type with ``mime=True``.

    Same rules and errors as ``Cookie.buffer``.
    """
    return _cookie(bool(mime)).buffer(data)
