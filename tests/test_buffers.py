"""buffer() takes any bytes-like object, zero-copy where the memory is contiguous."""

from __future__ import annotations

import array
import mmap
import sys
from pathlib import Path

import numpy as np
import pytest

from magicguard import Cookie

# A PNG header (33 bytes) and one byte of padding, so 2-D shapes fit.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff61") + b"\0"
EXPECTED = "PNG image data, 16 x 16, 8-bit/color RGBA, non-interlaced"


@pytest.fixture(scope="module")
def cookie() -> Cookie:
    return Cookie()


@pytest.mark.parametrize("make", [
    bytes,
    bytearray,
    memoryview,
    lambda b: memoryview(b"xx" + b + b"yy")[2:-2],
    lambda b: array.array("B", b),
    lambda b: np.frombuffer(b, dtype=np.uint8),
    lambda b: np.frombuffer(b, dtype=np.uint8).reshape(2, -1),
    lambda b: memoryview(bytearray(b)).cast("B", (2, len(b) // 2)),
], ids=["bytes", "bytearray", "memoryview", "sliced-memoryview", "array", "numpy", "numpy-2d",
        "memoryview-2d"])
def test_contiguous_buffers(cookie: Cookie, make: object) -> None:
    assert cookie.buffer(make(PNG)) == EXPECTED  # type: ignore[operator]


def test_strided_buffers_are_read_in_logical_order(cookie: Cookie) -> None:
    """A non-contiguous view is identified by its logical bytes."""
    doubled = bytes(b for pair in zip(PNG, b"\0" * len(PNG)) for b in pair)
    assert cookie.buffer(memoryview(doubled)[::2]) == EXPECTED
    arr = np.frombuffer(doubled, dtype=np.uint8)[::2]
    assert not arr.flags.c_contiguous
    assert cookie.buffer(arr) == EXPECTED  # type: ignore[arg-type]  # numpy's stubs here lack PEP 688 __buffer__


def test_mmap(cookie: Cookie, tmp_path: Path) -> None:
    path = tmp_path / "img.png"
    path.write_bytes(PNG)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert cookie.buffer(m) == EXPECTED


def test_empty(cookie: Cookie) -> None:
    assert cookie.buffer(b"") == "empty"
    assert cookie.buffer(bytearray()) == "empty"


def test_bytearray_cannot_be_resized_during_identify(cookie: Cookie) -> None:
    """The buffer stays exported while libmagic reads it (no use-after-free):
    another thread's resize fails with BufferError instead."""
    import threading

    # A large JSON array: libmagic parses all of it, so calls take a while.
    data = bytearray(b"[" + b"1," * (2 << 20) + b"1]")
    errors: list[BaseException] = []
    stop = threading.Event()

    def resize() -> None:
        while not stop.is_set():
            try:
                data.extend(b" ")  # trailing white space: still the same JSON
                del data[-1:]
            except BufferError as exc:
                errors.append(exc)

    thread = threading.Thread(target=resize)
    thread.start()
    try:
        for _ in range(20):
            assert cookie.buffer(data) == "JSON text data"
    finally:
        stop.set()
        thread.join()
    assert errors, "the resizing thread never ran into an exported buffer"


def test_buffer_is_not_modified(cookie: Cookie) -> None:
    data = bytearray(PNG)
    cookie.buffer(data)
    assert bytes(data) == PNG


def test_buffer_over_4_gib_is_identified_by_its_head(tmp_path: Path) -> None:
    """libmagic's 32-bit offsets give wrong answers past 4 GiB (an ELF file
    extended with zeros reads as "data"); such a buffer is identified by its
    BYTES_MAX head, as file(1) reads the file, in bounded time and memory."""
    import resource
    import time

    # The corpus's x86-64 ELF file (/bin/ls is Mach-O on macOS).
    elf = (Path(__file__).parent / "corpus" / "files" / "elf-pie").read_bytes()
    path = tmp_path / "sparse"
    with open(path, "wb") as f:
        f.write(elf)
        f.truncate((4 << 30) + 8)  # sparse: no disk used
    with Cookie() as cookie:
        head_answer = cookie.buffer(elf)
        with open(path, "rb") as src, mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as m:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            answer = cookie.buffer(m)
            elapsed = time.perf_counter() - started
            grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    if sys.platform == "darwin":
        grown_kib //= 1024  # ru_maxrss is in bytes there, KiB on Linux
    assert answer == head_answer
    assert answer.startswith("ELF 64-bit LSB")
    assert elapsed < 5
    assert grown_kib < 64 << 10  # far below the 4 GiB a full scan would touch



def test_failed_call_releases_the_buffer(tmp_path: Path) -> None:
    """When a call fails, the exception (and its traceback) must not keep the
    buffer exported: the caller can close its mmap while still holding the
    error.  The failure is a real one -- an mmap of a file truncated before
    identification -- so the check runs in a child process."""
    from conftest import run_python

    path = tmp_path / "data"
    path.write_bytes(b"hello world\n" * 4096)
    code = f"""
import mmap, os, magicguard
with open({str(path)!r}, "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
os.truncate({str(path)!r}, 0)
try:
    magicguard.Cookie().buffer(m)
except magicguard.FaultError as exc:
    error = exc
    m.close()
    print("closed", m.closed, type(error).__name__)
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "closed True FaultError"
