"""Identifying files through a Mapping against Cookie.file and python-magic.

Contenders, each identifying a file by path:

* ``Mapping``: ``Mapping.open(p)`` then ``Cookie.buffer(m)``, then close
  (libmagic reads the head of the mapping in place, at most BYTES_MAX);
* ``Cookie.file``: ``magic_file`` (libmagic ``read()``s BYTES_MAX bytes);
* python-magic ``from_file`` (0.4.27, the test extra; system libmagic);
* python-magic ``from_buffer(open(p, 'rb').read())`` (reads the whole file).

Cases: one big text file (2 GiB by default, written once to a temporary
directory) and a set of small real files (the test corpus).  Times are
medians over rounds, each round running every contender once, interleaved,
so load on a shared machine hits them alike.  "warm": the file is in the
page cache; "cold": it is dropped from the cache (posix_fadvise DONTNEED)
before each call.  Peak RSS: each contender identifies the big file once
in a fresh interpreter, after identifying a 64 KiB file of the same text;
the figure is the growth of its peak RSS (VmHWM).

Run:  python bench/bench_mapping.py [--big-gib 2] [--rounds 9] [--corpus 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import magicguard
from magicguard import Cookie, Mapping

LINE = b"2024-05-01T12:00:00Z INFO request served path=/api/v1/items/12345 status=200 ms=17\n"


def make_big(directory: Path, gib: float) -> Path:
    path = directory / "big.log"
    chunk = LINE * ((1 << 20) // len(LINE))
    remaining = int(gib * (1 << 30))
    with open(path, "wb") as f:
        while remaining > 0:
            part = chunk[:remaining]
            f.write(part)
            remaining -= len(part)
    return path


def drop_cache(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def contenders() -> dict[str, Callable[[str], str]]:
    import magic as python_magic  # python-magic 0.4.27

    cookie = Cookie()
    pm = python_magic.Magic()

    def via_mapping(path: str) -> str:
        with Mapping.open(path) as m:
            return cookie.buffer(m)

    def pm_read(path: str) -> str:
        with open(path, "rb") as f:
            return str(pm.from_buffer(f.read()))

    return {
        "Mapping": via_mapping,
        "Cookie.file": cookie.file,
        "python-magic from_file": lambda p: str(pm.from_file(p)),
        "python-magic from_buffer(read())": pm_read,
    }


def timed_rounds(funcs: dict[str, Callable[[str], str]], paths: list[str], rounds: int,
                 cold: bool) -> dict[str, list[float]]:
    """Per-file seconds per call, one list entry per round."""
    rows: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(rounds):
        for name, fn in funcs.items():
            total = 0.0
            for path in paths:
                if cold:
                    drop_cache(path)
                start = time.perf_counter()
                fn(path)
                total += time.perf_counter() - start
            rows[name].append(total / len(paths))
    return rows


def peak_rss(name: str, path: str, warm_path: str) -> int:
    """Peak RSS growth (bytes) of a fresh interpreter identifying ``path``.

    VmHWM, the high-water mark of this process's own address space, not
    ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of
    this (large) process would start from the parent's peak.
    """
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from bench_mapping import contenders
        def hwm():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
        fn = contenders()[{name!r}]
        fn({warm_path!r})
        before = hwm()
        fn({path!r})
        print(hwm() - before)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout)


def report(title: str, rows: dict[str, list[float]]) -> dict[str, float]:
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n{title}: median seconds per file over {len(next(iter(rows.values())))} rounds")
    for key, value in med.items():
        print(f"  {key:<34} {value * 1e3:10.3f} ms")
    base = med["python-magic from_file"]
    for key in ("Mapping", "Cookie.file", "python-magic from_buffer(read())"):
        print(f"  {key} / python-magic from_file  {med[key] / base:8.3f}x")
    return med


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-gib", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--big-read-rounds", type=int, default=3,
                        help="rounds for from_buffer(read()) of the big file (seconds each)")
    parser.add_argument("--corpus", type=int, default=200)
    opts = parser.parse_args(argv)

    from conftest import build_corpus

    print(f"magicguard {magicguard.__version__}, libmagic {magicguard.libmagic_version()} "
          f"({'bundled' if magicguard.BUNDLED_LIBMAGIC else 'system'}); python-magic uses the "
          f"system libmagic; {os.cpu_count()} CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="mg-bench-mapping-"))
    try:
        big = str(make_big(tmp, opts.big_gib))
        small = build_corpus(opts.corpus)
        funcs = contenders()
        answers = {name: fn(big) for name, fn in funcs.items()}
        print(f"big file: {os.path.getsize(big) / (1 << 30):.2f} GiB of text; answers: {answers}")

        slow = {"python-magic from_buffer(read())": funcs["python-magic from_buffer(read())"]}
        fast = {k: v for k, v in funcs.items() if k not in slow}
        for cold in (False, True):
            label = "cold" if cold else "warm"
            rows = timed_rounds(fast, [big], opts.rounds, cold)
            rows.update(timed_rounds(slow, [big], opts.big_read_rounds, cold))
            report(f"big file, {label}", rows)
        report("small files (corpus), warm", timed_rounds(funcs, small, opts.rounds, False))

        print("\nbig file, peak RSS growth in a fresh interpreter")
        # Warm up on a 64 KiB file of the same text, so that what libmagic
        # builds once per kind of file (its regex cache) is not counted.
        warm = tmp / "warm.log"
        with open(big, "rb") as f:
            warm.write_bytes(f.read(1 << 16))
        rss = {name: peak_rss(name, big, str(warm)) for name in funcs}
        for name, value in rss.items():
            print(f"  {name:<34} {value / (1 << 20):10.1f} MiB")
    finally:
        for child in tmp.iterdir():
            child.unlink()
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
