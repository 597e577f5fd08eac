"""A Cookie shared between threads serialises its calls and answers as alone;
separate Cookies run in parallel with the GIL released."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import magicguard
from magicguard import Cookie, Flags


def test_shared_cookie_many_threads(corpus: list[str]) -> None:
    """8 threads x thousands of calls on one Cookie: every answer equals the
    single-threaded one."""
    sample = corpus[::4]
    blobs = [Path(p).read_bytes()[:65536] for p in sample]
    with Cookie() as cookie:
        expected_files = [cookie.file(p) for p in sample]
        expected_bufs = [cookie.buffer(b) for b in blobs]

        def work(seed: int) -> int:
            mismatches = 0
            for i in range(400):
                k = (seed * 7919 + i) % len(sample)
                if i % 2:
                    mismatches += cookie.file(sample[k]) != expected_files[k]
                else:
                    mismatches += cookie.buffer(blobs[k]) != expected_bufs[k]
            return mismatches

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(work, range(8))) == 0


def test_flags_changed_by_one_thread_are_atomic_for_others() -> None:
    """Changing flags while other threads identify never mixes half states:
    every answer is one of the two valid ones."""
    data = b"%PDF-1.7\n"
    valid = {"PDF document, version 1.7", "application/pdf"}
    with Cookie() as cookie:
        stop = threading.Event()
        seen: set[str] = set()

        def flip() -> None:
            while not stop.is_set():
                cookie.flags = Flags.MIME_TYPE
                cookie.flags = Flags.NONE

        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            for _ in range(2000):
                seen.add(cookie.buffer(data))
        finally:
            stop.set()
            flipper.join()
    assert seen <= valid and seen


def test_helpers_use_a_cookie_per_thread() -> None:
    """from_buffer in different threads uses different Cookies."""
    ids: list[int] = []
    # All three threads hold their Cookie at the same time: a thread's Cookie
    # is freed when the thread ends, and id() of a later one may then reuse
    # its address (seen under qemu-user, where a thread can end before the
    # next one has started).
    together = threading.Barrier(3, timeout=60)

    def grab() -> None:
        magicguard.from_buffer(b"x")
        from magicguard import _helpers

        ids.append(id(_helpers._cookie(False)))
        together.wait()

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 3


def test_gil_is_released_during_libmagic() -> None:
    """While one thread is inside a long libmagic call, another thread's Python
    code keeps running (it would starve if the GIL were held)."""
    big = b"[" + b"1," * (8 << 20) + b"1]"  # 16 MiB of JSON: libmagic parses it all
    with Cookie() as cookie:
        started = time.perf_counter()
        cookie.buffer(big)
        alone = time.perf_counter() - started
        ticks = 0
        done = threading.Event()

        def run() -> None:
            cookie.buffer(big)
            done.set()

        worker = threading.Thread(target=run)
        worker.start()
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)
        worker.join()
    assert alone > 0.02, "the input is too small to show anything"
    assert ticks >= 5


def test_no_memory_grows_per_thread_over_20000_threads() -> None:
    """The allocation tracker's per-thread list is freed at thread exit (a
    pthread key destructor). Before: +528 bytes for every thread that made
    a guarded call, +10.5 MB over 20,000 threads."""
    from conftest import QEMU_THREAD_RSS, emulator, run_python

    if emulator() is not None:
        pytest.skip(f"under {emulator()}: {QEMU_THREAD_RSS}")
    proc = run_python(r"""
import gc, threading, magicguard
c = magicguard.Cookie()
data = memoryview(bytearray(b"%PDF-1.7\n" + b"x" * 100))  # a guarded (tracked) call
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
def run(n):
    for _ in range(n):
        t = threading.Thread(target=c.buffer, args=(data,))
        t.start()
        t.join()
run(2000)
gc.collect()
before = rss()
run(20000)
gc.collect()
print(rss() - before)
""", timeout=300)
    assert proc.returncode == 0, proc.stderr
    growth = int(proc.stdout.split()[-1])
    # 528 B/thread would be 10.5 MB; allow allocator noise well below that.
    assert growth < 1_000_000, f"RSS grew {growth} bytes over 20,000 threads"
