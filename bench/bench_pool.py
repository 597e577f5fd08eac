"""Throughput of Pool, the module helpers and python-magic against raw C.

Usage (from the repository root, in the venv with the ``bench`` extra)::

    python bench/bench_pool.py [--rounds 5] [--max-workers 4] [--limit 400]
                               [--chart bench/pool_throughput.png] [--json FILE]

Everything runs in one process over one in-memory corpus: the real files of
``tests/conftest.build_corpus`` read into ``bytes`` once.  Each "pass"
identifies every item once with ``magic_buffer``; the raw C baseline is
``bench/raw_magic.c`` compiled here against the *same* libmagic as the
extension (the bundled static archive, or ``-lmagic`` in the system build)
and the same database, given the same files.

The machine is shared and noisy, so the configurations are interleaved: each
round runs every configuration once, in a shuffled order, and the report
gives per-configuration medians and the median of *paired* per-round ratios
(both sides of a ratio measured in the same round).

Before timing, the C program's answers are compared with Pool's for every
item: the two must be identifying the same bytes the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import magicguard  # noqa: E402
from conftest import build_corpus  # noqa: E402

Pass = Callable[[], float]


def build_raw(out_dir: Path) -> Path:
    """Compile raw_magic.c against the libmagic the extension links."""
    exe = out_dir / "raw_magic"
    cmd = ["cc", "-O2", "-pthread", "-o", str(exe)]
    if magicguard.BUNDLED_LIBMAGIC:
        import build_libmagic
        built = build_libmagic.Built(build_libmagic.prefix_dir())
        cmd += ["-I", str(built.include_dir), str(ROOT / "bench" / "raw_magic.c"), str(built.static_lib)]
    else:
        cmd += [str(ROOT / "bench" / "raw_magic.c"), "-lmagic"]
    subprocess.run(cmd, check=True)
    return exe


def raw_args(exe: Path, listfile: Path) -> list[str]:
    args = [str(exe), "-l", str(listfile)]
    database = magicguard.default_database_path()
    if database is not None:
        args += ["-d", database]
    return args


def parse_kv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and "\t" not in line)


def raw_pass(exe: Path, listfile: Path, threads: int) -> Pass:
    def run() -> float:
        out = subprocess.run([*raw_args(exe, listfile), "-w", "1", "-r", "1", "-t", str(threads)],
                             check=True, capture_output=True, text=True).stdout
        kv = parse_kv(out)
        assert kv["errors"] == "0", out
        return int(kv["round_ns_median"]) / 1e9
    return run


def threaded_pass(datas: list[bytes], threads: int, make: Callable[[], Callable[[bytes], Any]]) -> Pass:
    """``threads`` threads share the items; each builds its identify function
    (e.g. its own Magic) before the clock starts."""
    def run() -> float:
        items = iter(datas)
        lock = threading.Lock()
        barrier = threading.Barrier(threads + 1)

        def work() -> None:
            fn = make()
            fn(b"warm up")
            barrier.wait()
            while True:
                with lock:
                    data = next(items, None)
                if data is None:
                    return
                fn(data)
        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        return time.perf_counter() - t0
    return run


def timed(fn: Callable[[], Any]) -> Pass:
    def run() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return run


def drain(iterator: Any) -> None:
    for _ in iterator:
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-workers", type=int, default=4)
    parser.add_argument("--limit", type=int, default=400, help="corpus files")
    parser.add_argument("--chart", default=str(ROOT / "bench" / "pool_throughput.png"))
    parser.add_argument("--json", default=None, help="also write the raw figures here")
    opts = parser.parse_args(argv)

    from magicguard.pool import default_workers
    ncpu = default_workers()
    paths = build_corpus(opts.limit)
    datas = [Path(p).read_bytes() for p in paths]
    print(f"corpus: {len(datas)} files, {sum(map(len, datas)) / 1e6:.1f} MB in memory; "
          f"libmagic {magicguard.libmagic_version()} "
          f"({'bundled' if magicguard.BUNDLED_LIBMAGIC else 'system'}); {ncpu} CPUs usable; "
          f"python {sys.version.split()[0]}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    listfile = tmp / "files.txt"
    listfile.write_text("".join(p + "\n" for p in paths))
    exe = build_raw(tmp)

    # Same bytes, same answers: raw C's -p output against Pool's.
    out = subprocess.run([*raw_args(exe, listfile), "-p", "-w", "0", "-r", "1"],
                         check=True, capture_output=True, text=True,
                         errors="surrogateescape").stdout
    c_answers = {}
    for line in out.splitlines():
        if line.startswith("result\t"):
            _, path, desc = line.split("\t", 2)
            c_answers[path] = desc
    with magicguard.Pool(1) as pool:
        ours = list(pool.map(datas))
    mismatches = sum(c_answers.get(p) != a for p, a in zip(paths, ours))
    print(f"parity: {len(paths) - mismatches}/{len(paths)} answers identical to raw C", flush=True)

    import magic as pymagic  # python-magic, over the system libmagic via ctypes

    workers = list(range(1, opts.max_workers + 1))
    pools = {n: magicguard.Pool(n) for n in workers}
    for pool in pools.values():  # build every worker's Cookie before timing
        drain(pool.map(datas[: 4 * pool.workers]))
    cookie = magicguard.Cookie()
    shared_magic = pymagic.Magic()
    n = ncpu
    configs: dict[str, Pass] = {}
    for t in workers:
        configs[f"raw C, {t} threads"] = raw_pass(exe, listfile, t)
        configs[f"Pool({t}).map"] = timed(lambda p=pools[t]: drain(p.map(datas)))
    configs["Cookie.buffer loop"] = timed(lambda: [cookie.buffer(d) for d in datas])
    configs["Pool(1).identify loop"] = timed(lambda: [pools[1].identify(d) for d in datas])
    for t in sorted({1, n}):
        configs[f"from_buffer, {t} threads"] = threaded_pass(datas, t, lambda: magicguard.from_buffer)
        configs[f"python-magic shared Magic, {t} threads"] = threaded_pass(
            datas, t, lambda: shared_magic.from_buffer)
        configs[f"python-magic Magic per thread, {t} threads"] = threaded_pass(
            datas, t, lambda: pymagic.Magic().from_buffer)
        configs[f"python-magic module from_buffer, {t} threads"] = threaded_pass(
            datas, t, lambda: pymagic.from_buffer)

    times: dict[str, list[float]] = {name: [] for name in configs}
    rng = random.Random(6)
    for r in range(opts.rounds):
        order = list(configs)
        rng.shuffle(order)
        for name in order:
            times[name].append(configs[name]())
        print(f"round {r + 1}/{opts.rounds} done", flush=True)
    for pool in pools.values():
        pool.close()

    items = len(datas)
    med = {name: statistics.median(v) for name, v in times.items()}

    def paired(a: str, b: str) -> float:
        """Median over rounds of time(a) / time(b)."""
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    print()
    print("| configuration | items/s (median) | ms per pass (median) |")
    print("|---|---:|---:|")
    for name in configs:
        print(f"| {name} | {items / med[name]:.0f} | {med[name] * 1e3:.0f} |")
    print()
    ratios = {
        "Pool(1).map time / raw C 1 thread (target <= 1.02)": paired("Pool(1).map", "raw C, 1 threads"),
        "Pool(1).identify loop time / raw C 1 thread": paired("Pool(1).identify loop", "raw C, 1 threads"),
        "Cookie.buffer loop time / raw C 1 thread": paired("Cookie.buffer loop", "raw C, 1 threads"),
    }
    for t in workers[1:]:
        ratios[f"Pool({t}) / Pool(1) throughput"] = paired("Pool(1).map", f"Pool({t}).map")
        ratios[f"raw C {t} threads / 1 thread throughput"] = paired("raw C, 1 threads", f"raw C, {t} threads")
    if n > 1:
        for label, key in (("from_buffer", "from_buffer"),
                           ("python-magic shared Magic", "python-magic shared Magic"),
                           ("python-magic Magic per thread", "python-magic Magic per thread"),
                           ("python-magic module from_buffer", "python-magic module from_buffer")):
            ratios[f"{label}: {n} threads / 1 thread throughput"] = paired(
                f"{key}, 1 threads", f"{key}, {n} threads")
    print("| ratio (median of per-round pairs) | value |")
    print("|---|---:|")
    for label, value in ratios.items():
        print(f"| {label} | {value:.3f} |")

    if opts.json:
        Path(opts.json).write_text(json.dumps({"times": times, "ratios": ratios, "items": items}, indent=1))
    if opts.chart:
        chart(opts.chart, workers, items, med, n)
        print(f"\nchart: {opts.chart}")
    return 0


def chart(path: str, workers: list[int], items: int, med: dict[str, float], n: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(workers, [items / med[f"raw C, {t} threads"] for t in workers], "o-",
            label="raw C magic_buffer (one magic_t per thread)")
    ax.plot(workers, [items / med[f"Pool({t}).map"] for t in workers], "s-",
            label="magicguard.Pool(workers).map")
    threads = sorted({1, n})
    for key, marker in (("from_buffer", "^--"),
                        ("python-magic Magic per thread", "v:"),
                        ("python-magic shared Magic", "x:"),
                        ("python-magic module from_buffer", "d:")):
        label = "magicguard.from_buffer" if key == "from_buffer" else key
        ax.plot(threads, [items / med[f"{key}, {t} threads"] for t in threads], marker,
                label=f"{label} (threads)")
    ax.axvline(n, color="grey", lw=0.8, ls="--")
    ax.text(n, ax.get_ylim()[0], f" {n} CPUs", color="grey", va="bottom")
    ax.set_xlabel("workers / threads")
    ax.set_ylabel("files identified per second")
    ax.set_xticks(workers)
    ax.set_title("Identification throughput, in-memory corpus of real files")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
