"""Read the head and the tail of an upload, whatever holds it, in bounded memory.

A verdict needs the first bytes (what libmagic reads: its ``BYTES_MAX``) and
the last ones (where a ZIP's end-of-central-directory record sits, so a ZIP
appended to a JPEG shows).  ``sample`` gets both from a path, a bytes-like
object, a ``magicguard.Mapping``, a descriptor, a binary file-like object or
an iterator of chunks; ``asample`` from an async file-like object (such as
Starlette's ``UploadFile``) or an async iterator of chunks.

Memory is bounded by ``head_size + TAIL_SIZE`` plus one chunk, whatever the
size of the input.  Seekable inputs are read at two places only, and their
position is restored (descriptors of regular files are read with ``pread``
and never move).  Inputs that cannot seek are read to their end, keeping a
rolling tail, so their size is known; reading stops as soon as ``max_size``
is exceeded.
"""

from __future__ import annotations

import inspect as _pyinspect
import io
import os
import stat
from dataclasses import dataclass
from typing import Any, AsyncIterable, Iterable, Optional

__all__ = ["CHUNK", "TAIL_SIZE", "Sample", "asample", "is_async_source", "sample", "source_name"]

#: The tail kept: a ZIP end-of-central-directory record (22 bytes) with the
#: longest comment (65535 bytes), and some slack.
TAIL_SIZE = 65536 + 1024

#: The size of each read from a stream.
CHUNK = 1 << 20


@dataclass(frozen=True)
class Sample:
    """What was read from an input.

    Attributes:
        head: its first bytes (at most ``head_size``).
        tail: its last bytes after the head (at most ``TAIL_SIZE``; empty when
            the head holds it all).
        tail_offset: the offset of ``tail[0]`` in the input.
        size: the input's size in bytes; when ``over_limit``, how many bytes
            were seen before reading stopped (or the size from ``fstat``).
        over_limit: the input is larger than ``max_size``.  Its head (and, when
            it can seek, its tail) is still read, so a verdict names its type; a
            stream that cannot seek is not read past ``max_size + 1`` bytes.
        position_restored: a seekable stream was put back where it was.
        at_end: ``tail`` ends where the input ends (False for a stream whose
            reading stopped at ``max_size``).
    """

    head: bytes
    tail: bytes
    tail_offset: int
    size: int
    over_limit: bool = False
    position_restored: bool = False
    at_end: bool = True


class _Collector:
    """Keeps the head and a rolling tail of a stream fed chunk by chunk."""

    def __init__(self, head_size: int, max_size: Optional[int]) -> None:
        self.head_size = head_size
        self.max_size = max_size
        self.head = bytearray()
        self.tail = bytearray()
        self.size = 0
        self.over = False

    def feed(self, chunk: Any) -> bool:
        """Take one chunk; False once reading should stop (``max_size`` exceeded)."""
        if isinstance(chunk, str):
            raise TypeError("a stream of str: pass a binary stream (bytes chunks), "
                            "e.g. open(name, 'rb')")
        try:
            view = memoryview(chunk)
        except TypeError:
            raise TypeError(f"each chunk must be bytes-like, not {type(chunk).__name__}") from None
        with view:
            flat = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
            with flat:
                n = len(flat)
                self.size += n
                room = self.head_size - len(self.head)
                if room > 0:
                    self.head += flat[:room]
                    rest = flat[room:]
                else:
                    rest = flat
                if len(rest):
                    self.tail += rest[-TAIL_SIZE:]
                    if len(self.tail) > TAIL_SIZE:
                        del self.tail[:-TAIL_SIZE]
                rest.release()
        if self.max_size is not None and self.size > self.max_size:
            self.over = True
            return False
        return True

    def result(self) -> Sample:
        return Sample(bytes(self.head), bytes(self.tail), self.size - len(self.tail), self.size,
                      over_limit=self.over, at_end=not self.over)


def source_name(source: object) -> Optional[str]:
    """A file name for ``source`` when it has one (a path, a file object's ``name``)."""
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "filename", None) or getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return os.fsdecode(name)
    return None


def _read_exact(read: Any, n: int) -> bytes:
    """Up to ``n`` bytes from a ``read`` callable, looping over short reads."""
    parts = []
    while n > 0:
        data = read(min(n, CHUNK))
        if data is None:  # a non-blocking stream with nothing ready
            raise BlockingIOError("the stream has no data ready (non-blocking); "
                                  "pass a blocking stream")
        if isinstance(data, str):
            raise TypeError("the stream is a text stream; open it in binary mode ('rb')")
        if not data:
            break
        parts.append(bytes(data))
        n -= len(data)
    return b"".join(parts)


def _from_buffer(data: Any, head_size: int, max_size: Optional[int]) -> Sample:
    view = memoryview(data)
    with view:
        flat = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        with flat:
            n = len(flat)
            head = bytes(flat[:head_size])
            start = max(head_size, n - TAIL_SIZE)
            tail = bytes(flat[start:]) if n > head_size else b""
    return Sample(head, tail, start if tail else n, n, over_limit=_over(n, max_size))


def _over(size: int, max_size: Optional[int]) -> bool:
    return max_size is not None and size > max_size


def _from_pread(fd: int, size: int, head_size: int, max_size: Optional[int]) -> Sample:
    def pread(n: int, offset: int) -> bytes:
        parts = []
        while n > 0:
            data = os.pread(fd, min(n, CHUNK), offset)
            if not data:
                break
            parts.append(data)
            n -= len(data)
            offset += len(data)
        return b"".join(parts)

    head = pread(min(head_size, size), 0)
    tail = b""
    start = max(head_size, size - TAIL_SIZE)
    if size > head_size:
        tail = pread(size - start, start)
    size = max(size, len(head) + len(tail))
    return Sample(head, tail, start if tail else len(head), size, over_limit=_over(size, max_size))


def _from_seekable(fileobj: Any, head_size: int, max_size: Optional[int]) -> Sample:
    start = fileobj.tell()
    try:
        end = fileobj.seek(0, io.SEEK_END)
        if end is None:  # some file-likes return None from seek()
            end = fileobj.tell()
        size = max(0, end - start)
        fileobj.seek(start)
        head = _read_exact(fileobj.read, min(head_size, size))
        tail = b""
        tail_start = max(head_size, size - TAIL_SIZE)
        if size > head_size:
            fileobj.seek(start + tail_start)
            tail = _read_exact(fileobj.read, size - tail_start)
    finally:
        fileobj.seek(start)
    return Sample(head, tail, tail_start if tail else len(head), size,
                  over_limit=_over(size, max_size), position_restored=True)


def _seekable(fileobj: Any) -> bool:
    try:
        return bool(fileobj.seekable()) if hasattr(fileobj, "seekable") else (
            hasattr(fileobj, "seek") and hasattr(fileobj, "tell"))
    except (OSError, ValueError):
        return False


def _collect(chunks: Iterable[Any], head_size: int, max_size: Optional[int]) -> Sample:
    collector = _Collector(head_size, max_size)
    for chunk in chunks:
        if not collector.feed(chunk):
            break
    return collector.result()


def _stream_chunks(read: Any) -> Iterable[bytes]:
    while True:
        data = read(CHUNK)
        if data is None:
            raise BlockingIOError("the stream has no data ready (non-blocking); "
                                  "pass a blocking stream")
        if not data:
            return
        yield data


def _descriptor(fd: int, head_size: int, max_size: Optional[int]) -> Sample:
    if fd < 0:
        raise ValueError(f"descriptor must be a non-negative int, got {fd}")
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, f"Is a directory: descriptor {fd}")
    if stat.S_ISREG(st.st_mode):
        return _from_pread(fd, st.st_size, head_size, max_size)
    return _collect(_stream_chunks(lambda n: os.read(fd, n)), head_size, max_size)


def _path(path: Any, head_size: int, max_size: Optional[int]) -> Sample:
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError(f"path contains a NUL byte: {os.fsdecode(raw)!r}")
    if not raw:
        raise ValueError("path is empty")
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
    fd = os.open(raw, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", os.fsdecode(raw))
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{os.fsdecode(raw)!r} is not a regular file; an upload verdict "
                             f"reads regular files (pass a descriptor or a stream for others)")
        return _from_pread(fd, st.st_size, head_size, max_size)
    finally:
        os.close(fd)


def _is_mapping(source: object) -> bool:
    from .mapping import Mapping

    return isinstance(source, Mapping)


def sample(source: Any, head_size: int, max_size: Optional[int] = None) -> Sample:
    """Read the head and tail of ``source`` (see the module's docstring).

    Raises:
        TypeError: ``source`` is none of the accepted kinds, or a text stream.
        ValueError, OSError: a bad path or descriptor (named in the message).
    """
    if isinstance(source, bool):
        raise TypeError("source must be a path, bytes-like data, a Mapping, a descriptor, "
                        "a binary file object or an iterable of bytes chunks, not bool")
    if isinstance(source, (str, os.PathLike)):
        return _path(source, head_size, max_size)
    if isinstance(source, int):
        return _descriptor(source, head_size, max_size)
    if _is_mapping(source):
        size = len(source)
        head = source.read(0, min(head_size, size))
        start = max(head_size, size - TAIL_SIZE)
        tail = source.read(start, size - start) if size > head_size else b""
        return Sample(head, tail, start if tail else size, size, over_limit=_over(size, max_size))
    if isinstance(source, io.TextIOBase):
        raise TypeError("source is a text stream; open it in binary mode ('rb')")
    if hasattr(source, "read"):
        if _pyinspect.iscoroutinefunction(source.read):
            raise TypeError(f"{type(source).__name__}.read is async: use magicguard.ainspect()")
        if _seekable(source):
            return _from_seekable(source, head_size, max_size)
        return _collect(_stream_chunks(source.read), head_size, max_size)
    try:
        memoryview(source)
    except TypeError:
        pass
    else:
        return _from_buffer(source, head_size, max_size)
    if hasattr(source, "__aiter__"):
        raise TypeError(f"{type(source).__name__} is an async iterable: use magicguard.ainspect()")
    if hasattr(source, "__iter__"):
        return _collect(source, head_size, max_size)
    raise TypeError(f"source must be a path, bytes-like data, a Mapping, a descriptor, a binary "
                    f"file object or an iterable of bytes chunks, not {type(source).__name__}")


def is_async_source(source: object) -> bool:
    """Whether ``source`` must be read with ``await`` (async ``read`` or ``__aiter__``)."""
    read = getattr(source, "read", None)
    if read is not None and _pyinspect.iscoroutinefunction(read):
        return True
    return hasattr(source, "__aiter__") and not hasattr(source, "__iter__")


async def _aread_exact(read: Any, n: int) -> bytes:
    parts = []
    while n > 0:
        data = await read(min(n, CHUNK))
        if not data:
            break
        if isinstance(data, str):
            raise TypeError("the stream gives str; an upload verdict needs bytes")
        parts.append(bytes(data))
        n -= len(data)
    return b"".join(parts)


async def asample(source: Any, head_size: int, max_size: Optional[int] = None) -> Sample:
    """``sample`` for async inputs: an object whose ``read(n)`` is a coroutine
    function (seekable if it also has async ``seek`` and ``tell``), or an async
    iterable of bytes chunks."""
    read = getattr(source, "read", None)
    if read is not None and _pyinspect.iscoroutinefunction(read):
        seek = getattr(source, "seek", None)
        tell = getattr(source, "tell", None)
        if (seek is not None and tell is not None and _pyinspect.iscoroutinefunction(seek)
                and _pyinspect.iscoroutinefunction(tell)):
            return await _afrom_seekable(source, head_size, max_size)
        collector = _Collector(head_size, max_size)
        while True:
            data = await read(CHUNK)
            if not data or not collector.feed(data):
                break
        return collector.result()
    if hasattr(source, "__aiter__"):
        collector = _Collector(head_size, max_size)
        aiterable: AsyncIterable[Any] = source
        async for chunk in aiterable:
            if not collector.feed(chunk):
                break
        return collector.result()
    raise TypeError(f"an async source has an async read(n) or is an async iterable of "
                    f"bytes chunks; {type(source).__name__} is neither")


async def _afrom_seekable(fileobj: Any, head_size: int, max_size: Optional[int]) -> Sample:
    start = await fileobj.tell()
    try:
        end = await fileobj.seek(0, io.SEEK_END)
        if end is None:
            end = await fileobj.tell()
        size = max(0, end - start)
        await fileobj.seek(start)
        head = await _aread_exact(fileobj.read, min(head_size, size))
        tail = b""
        tail_start = max(head_size, size - TAIL_SIZE)
        if size > head_size:
            await fileobj.seek(start + tail_start)
            tail = await _aread_exact(fileobj.read, size - tail_start)
    finally:
        await fileobj.seek(start)
    return Sample(head, tail, tail_start if tail else len(head), size,
                  over_limit=_over(size, max_size), position_restored=True)

