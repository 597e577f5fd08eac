"""Streams: bounded memory on a 4 GiB input, positions restored, async sources."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import zipfile
from typing import Any, AsyncGenerator

import pytest

from magicguard import Policy, ainspect, inspect

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus

# The child builds a 4 GiB input two ways -- a generator of 1 MiB chunks and a
# seekable file-like object whose bytes are made on demand (no disk) -- with a
# JPEG at its start and a ZIP at its end, and reports peak RSS before and after.
FOUR_GIB_CHILD = r'''
import io, json, random, resource, sys, time, zipfile
sys.path.insert(0, sys.argv[1])
import verdict_corpus as corpus
import magicguard

SIZE = 4 << 30
CHUNK = 1 << 20
head = corpus.jpeg(random.Random(1))
z = io.BytesIO()
with zipfile.ZipFile(z, "w") as zf:
    zf.writestr("payload.txt", "hello")
tail = z.getvalue()
# The zip's directory offsets are relative to its own start: fine appended anywhere.
zero = bytes(CHUNK)

def rss():  # ru_maxrss: KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024

def chunks():
    yield head
    left = SIZE - len(head) - len(tail)
    while left > 0:
        n = min(CHUNK, left)
        yield zero if n == CHUNK else zero[:n]
        left -= n
    yield tail

class Synthetic(io.RawIOBase):
    def __init__(self):
        self.pos = 0
        self.reads = 0
    def readable(self): return True
    def seekable(self): return True
    def tell(self): return self.pos
    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (self.pos + off if whence == 1 else SIZE + off)
        return self.pos
    def readinto(self, b):
        n = min(len(b), SIZE - self.pos)
        if n <= 0:
            return 0
        out = bytearray(n)
        for start, blob in ((0, head), (SIZE - len(tail), tail)):
            lo, hi = max(self.pos, start), min(self.pos + n, start + len(blob))
            if lo < hi:
                out[lo - self.pos:hi - self.pos] = blob[lo - start:hi - start]
        b[:n] = out
        self.pos += n
        self.reads += n
        return n

magicguard.inspect(b"warm up")
base = rss()
t = time.perf_counter()
v1 = magicguard.inspect(chunks(), filename="big.jpg")
t1 = time.perf_counter() - t
peak1 = rss()
f = Synthetic()
f.seek(0)
t = time.perf_counter()
v2 = magicguard.inspect(f, filename="big.jpg")
t2 = time.perf_counter() - t
print(json.dumps({"base": base, "peak_generator": peak1, "peak_seekable": rss(),
                  "seconds_generator": t1, "seconds_seekable": t2,
                  "gen": v1.to_dict(), "seek": v2.to_dict(), "seekable_pos": f.tell(),
                  "seekable_read": f.reads}))
'''


def test_four_gib_stream_bounded_memory() -> None:
    """4 GiB through a generator and a seekable stream: memory stays bounded, the
    polyglot at the end is found, the size is right, the position restored."""
    out = subprocess.run([sys.executable, "-c", FOUR_GIB_CHILD, os.path.dirname(__file__)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    print(f"\n4 GiB: baseline RSS {r['base'] >> 20} MiB, peak after the generator "
          f"{r['peak_generator'] >> 20} MiB ({r['seconds_generator']:.1f} s), after the seekable "
          f"stream {r['peak_seekable'] >> 20} MiB ({r['seconds_seekable']:.2f} s, "
          f"{r['seekable_read'] >> 20} MiB read)")
    for v in (r["gen"], r["seek"]):
        assert v["size"] == 4 << 30
        assert v["label"] == "jpeg"
        assert "multiple_formats" in {f["code"] for f in v["findings"]}
    assert r["peak_generator"] - r["base"] < 64 << 20
    assert r["peak_seekable"] - r["base"] < 64 << 20
    assert r["seekable_pos"] == 0
    assert r["seekable_read"] < 16 << 20  # the head and the tail, not 4 GiB


def test_max_size_stops_reading_a_stream() -> None:
    """Past max_size a chunk iterator is read no further, and the verdict refuses."""
    consumed = []

    def chunks() -> Any:
        for i in range(1000):
            consumed.append(i)
            yield b"\0" * 1024

    v = inspect(chunks(), policy=Policy(max_size=10 * 1024))
    assert not v.allowed and "too_large" in v.codes
    assert len(consumed) == 11


def test_max_size_on_a_path_reads_only_the_head(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "big.png")
    import random

    with open(path, "wb") as f:
        f.write(corpus.png(random.Random(3)))
        f.write(bytes(1 << 20))
    v = inspect(path, policy=Policy(max_size=1000))
    assert v.label == "png" and "too_large" in v.codes and not v.allowed
    assert any("more than max_size=1000" in f.message for f in v.findings)


class AsyncReader:
    """An async file-like object without seek (like a request body)."""

    def __init__(self, data: bytes) -> None:
        self.f = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self.f.read(n)


class AsyncSeekable(AsyncReader):
    async def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    async def tell(self) -> int:
        return self.f.tell()


async def _aiter(data: bytes) -> AsyncGenerator[bytes, None]:
    for i in range(0, len(data), 1000):
        yield data[i:i + 1000]


def _polyglot() -> bytes:
    import random

    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a", "b")
    return corpus.gif(random.Random(2)) + z.getvalue()


@pytest.mark.parametrize("kind", ["reader", "seekable", "aiter", "bytes", "upload"])
def test_ainspect_sources(kind: str) -> None:
    data = _polyglot()
    expected = inspect(data, filename="a.gif")

    async def run() -> Any:
        if kind == "reader":
            return await ainspect(AsyncReader(data), filename="a.gif"), None
        if kind == "seekable":
            src = AsyncSeekable(data)
            src.f.seek(0)
            v = await ainspect(src, filename="a.gif")
            return v, src.f.tell()
        if kind == "aiter":
            return await ainspect(_aiter(data), filename="a.gif"), None
        if kind == "bytes":
            return await ainspect(data, filename="a.gif"), None
        from starlette.datastructures import Headers, UploadFile

        upload = UploadFile(io.BytesIO(data), filename="a.gif",
                            headers=Headers({"content-type": "image/gif"}))
        v = await ainspect(upload)
        return v, upload.file.tell()

    v, position = asyncio.run(run())
    assert (v.label, v.size, v.codes) == (expected.label, expected.size, expected.codes)
    assert "multiple_formats" in v.codes
    if position is not None:
        assert position == 0


def test_sync_inspect_refuses_async_sources() -> None:
    with pytest.raises(TypeError, match=r"use magicguard\.ainspect"):
        inspect(AsyncReader(b"x"))
    agen = _aiter(b"x")
    with pytest.raises(TypeError, match=r"use magicguard\.ainspect"):
        inspect(agen)
    asyncio.run(agen.aclose())


def test_over_limit_file_still_shows_its_trailing_zip(tmp_path: Any) -> None:
    """A path over max_size is refused, and its head and tail are still judged."""
    path = os.path.join(tmp_path, "big.jpg")
    with open(path, "wb") as f:
        f.write(_polyglot())
    v = inspect(path, policy=Policy(max_size=10))
    assert {"too_large", "multiple_formats"} <= v.codes
    # A stream cut at max_size has no known end: no claim about its tail.
    data = _polyglot()
    v = inspect(iter([data[:20], data[20:]]), policy=Policy(max_size=10))
    assert "too_large" in v.codes and "multiple_formats" not in v.codes
