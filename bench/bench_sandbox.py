"""Sandbox against Pool (and one in-process Cookie) on the same corpus.

The corpus is tests/conftest.py's: real files of many types from this
machine.  Cases:

* ``small data``: the bytes of the corpus files of at most 16 KiB, in memory
  (sent inline through the worker's socket);
* ``larger data``: the files of 64 KiB to 4 MiB, in memory (shared memory);
* ``small paths``: the same small files by name.

For each case, every round runs each contender once, interleaved (so load
on the shared machine hits them alike):

* throughput: ``list(x.map(items))`` with N workers (items per second);
* latency: ``x.identify(item)`` one at a time (mean per call in a round).

The report gives medians over rounds and Sandbox / Pool ratios (target for
throughput on small files: >= 0.7).  Startup costs are measured apart.

Run:  python bench/bench_sandbox.py [--rounds 7] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import magicguard
from conftest import build_corpus
from magicguard.pool import Pool
from magicguard.sandbox import Sandbox


def throughput(x: Any, items: list[Any]) -> float:
    start = time.perf_counter()
    out = list(x.map(items))
    assert len(out) == len(items)
    return len(items) / (time.perf_counter() - start)


def latency(fn: Callable[[Any], Any], items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    paths = build_corpus()
    sized = [(p, os.path.getsize(p)) for p in paths]
    small_paths = [p for p, size in sized if size <= 16 << 10]
    larger_paths = [p for p, size in sized if size >= 64 << 10]
    small = [Path(p).read_bytes() for p in small_paths]
    larger = [Path(p).read_bytes() for p in larger_paths]
    cases = {"small data (<= 16 KiB)": small, "small paths (<= 16 KiB)": small_paths,
             "larger data (64 KiB - 4 MiB)": larger}
    print(f"libmagic {magicguard.libmagic_version()} "
          f"({'bundled' if magicguard.BUNDLED_LIBMAGIC else 'system'}), Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, workers={args.workers}, "
          f"rounds={args.rounds}")
    for name, items in cases.items():
        total = sum(len(i) if isinstance(i, bytes) else os.path.getsize(i) for i in items)
        print(f"  {name}: {len(items)} items, {total / len(items) / 1024:.1f} KiB mean")

    start = time.perf_counter()
    sandbox = Sandbox(args.workers)
    start_sandbox = time.perf_counter() - start
    start = time.perf_counter()
    pool = Pool(args.workers)
    pool.identify(b"warm")
    start_pool = time.perf_counter() - start
    cookie = magicguard.Cookie()
    print(f"\nstartup: Sandbox({args.workers}) {start_sandbox * 1e3:.0f} ms "
          f"(worker processes ready), Pool({args.workers}) {start_pool * 1e3:.0f} ms")

    try:
        for name, items in cases.items():
            buffer = isinstance(items[0], bytes)
            single = cookie.buffer if buffer else cookie.file
            for x in (pool, sandbox):  # warm up: every worker has built its state
                list(x.map(items))
            rows: dict[str, list[float]] = {k: [] for k in (
                "Pool map", "Sandbox map", "Cookie loop", "Pool identify", "Sandbox identify")}
            for _ in range(args.rounds):
                rows["Pool map"].append(throughput(pool, items))
                rows["Sandbox map"].append(throughput(sandbox, items))
                rows["Cookie loop"].append(1 / latency(single, items))
                rows["Pool identify"].append(latency(pool.identify, items))
                rows["Sandbox identify"].append(latency(sandbox.identify, items))
            med = {k: statistics.median(v) for k, v in rows.items()}
            print(f"\n{name}: medians over {args.rounds} rounds")
            print(f"  throughput  Pool({args.workers}).map     {med['Pool map']:9.0f} items/s")
            print(f"  throughput  Sandbox({args.workers}).map  {med['Sandbox map']:9.0f} items/s")
            print(f"  throughput  one Cookie, loop    {med['Cookie loop']:9.0f} items/s")
            print(f"  Sandbox / Pool throughput       {med['Sandbox map'] / med['Pool map']:9.3f}x")
            print(f"  latency     Pool.identify       {med['Pool identify'] * 1e6:9.1f} us")
            print(f"  latency     Sandbox.identify    {med['Sandbox identify'] * 1e6:9.1f} us")
            print(f"  Sandbox - Pool per call         "
                  f"{(med['Sandbox identify'] - med['Pool identify']) * 1e6:+9.1f} us")
    finally:
        sandbox.close()
        pool.close()
        cookie.close()


if __name__ == "__main__":
    main()
