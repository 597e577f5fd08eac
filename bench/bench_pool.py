"""Throughput of Pool, the module helpers and python-magic against raw C.

Usage (from the repository root, in a venv with the ``test`` and ``bench``
extras)::

    python bench/bench_pool.py [--rounds 15] [--max-workers 4] [--limit 150]
                               [--chart bench/pool_throughput.png] [--json FILE]

Everything runs over one in-memory corpus: the real files of
``tests/conftest.build_corpus`` read into ``bytes`` once.  A "pass"
identifies every item once with ``magic_buffer``.  The raw C baseline is
``bench/raw_magic.c`` compiled against the *same* libmagic as the extension
(the bundled static archive, or ``-lmagic`` in the system build) with the
same database, over the same files (``bench/_raw.py``).  python-magic loads
the *system* libmagic, so raw C is also built against that one
(``raw C (system libmagic)``) to put its figures in context.

The machine is shared and noisy, so every ratio is measured as a pair of
passes run back to back (in a random order), once per round, and reported as
the median (and quartiles) over rounds; both sides of a pair see the same
outside load.  Every configuration gets one untimed warm-up pass first;
raw_magic, a new process each time, runs its own warm-up pass (-w 1) before
its timed one.  Besides wall time, each pass records the
CPU time the process used (``time.process_time``; raw_magic's
CLOCK_PROCESS_CPUTIME_ID): per-item CPU cost is much less disturbed by other
load than wall time, and is what "overhead over raw C" means.

Before timing, raw C's answers are compared with Pool's for every item.
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
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import magicguard  # noqa: E402
from _raw import build_raw, run_raw  # noqa: E402
from conftest import build_corpus  # noqa: E402

Pass = Callable[[], "tuple[float, float]"]
"""One timed pass: (wall seconds, process CPU seconds)."""


def raw_pass(exe: Path, paths: list[str], threads: int, database: Optional[str]) -> Pass:
    """One pass of raw_magic over ``paths`` (after its own untimed warm-up pass)."""
    def run() -> tuple[float, float]:
        figures = run_raw(exe, paths, threads=threads, rounds=1, warmup=1, database=database)
        return int(figures["round_ns_median"]) / 1e9, int(figures["round_cpu_ns_median"]) / 1e9
    return run


def threaded(datas: list[bytes], threads: int, make: Callable[[], Callable[[bytes], Any]]) -> Callable[[], None]:
    """``threads`` threads share the items; each builds its identify function
    (e.g. its own Magic) and warms it up before the items are released."""
    def run() -> None:
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
        for t in pool:
            t.join()
    return run


def timed(fn: Callable[[], Any]) -> Pass:
    """One timed pass: wall and process CPU seconds."""
    def run() -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w0, time.process_time() - c0
    return run


def drain(iterator: Any) -> None:
    for _ in iterator:
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--max-workers", type=int, default=4)
    parser.add_argument("--limit", type=int, default=150, help="corpus files")
    parser.add_argument("--chart", default=str(ROOT / "bench" / "pool_throughput.png"))
    parser.add_argument("--json", default=None, help="also write the raw figures here")
    opts = parser.parse_args(argv)

    import magic as pymagic  # python-magic 0.4.27, over the system libmagic via ctypes

    from magicguard.pool import default_workers
    ncpu = default_workers()
    paths = build_corpus(opts.limit)
    datas = [Path(p).read_bytes() for p in paths]
    print(f"corpus: {len(datas)} files, {sum(map(len, datas)) / 1e6:.1f} MB in memory; "
          f"libmagic {magicguard.libmagic_version()} "
          f"({'bundled' if magicguard.BUNDLED_LIBMAGIC else 'system'}); python-magic on libmagic "
          f"{pymagic.version()}; {ncpu} CPUs usable; python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    listfile = tmp / "files.txt"
    listfile.write_text("".join(p + "\n" for p in paths))
    exe = build_raw(tmp)
    exe_system = build_raw(tmp, system=True)
    database = magicguard.default_database_path()

    # Same bytes, same answers: raw C's -p output against Pool's.
    args = [str(exe), "-p", "-w", "0", "-r", "1", "-l", str(listfile)]
    if database is not None:
        args += ["-d", database]
    out = subprocess.run(args, check=True, capture_output=True, text=True,
                         errors="surrogateescape").stdout
    c_answers = {}
    for line in out.splitlines():
        if line.startswith("result\t"):
            _, path, desc = line.split("\t", 2)
            c_answers[path] = desc
    with magicguard.Pool(1) as pool:
        ours = list(pool.map(datas))
    same = sum(c_answers.get(p) == a for p, a in zip(paths, ours))
    print(f"parity: {same}/{len(paths)} answers identical to raw C", flush=True)

    workers = list(range(1, opts.max_workers + 1))
    pools = {n: magicguard.Pool(n) for n in workers}
    cookie = magicguard.Cookie()
    shared_magic = pymagic.Magic()
    n = ncpu
    configs: dict[str, Pass] = {}
    for t in workers:
        configs[f"raw C, {t} threads"] = raw_pass(exe, paths, t, database)
        configs[f"Pool({t}).map"] = timed(lambda p=pools[t]: drain(p.map(datas)))
    configs["Cookie.buffer loop"] = timed(lambda: [cookie.buffer(d) for d in datas])
    configs["Pool(1).identify loop"] = timed(lambda: [pools[1].identify(d) for d in datas])
    threads = sorted({1, n})
    for t in threads:
        configs[f"raw C (system libmagic), {t} threads"] = raw_pass(exe_system, paths, t, None)
        configs[f"from_buffer, {t} threads"] = timed(threaded(datas, t, lambda: magicguard.from_buffer))
        configs[f"python-magic shared Magic, {t} threads"] = timed(
            threaded(datas, t, lambda: shared_magic.from_buffer))
        configs[f"python-magic Magic per thread, {t} threads"] = timed(
            threaded(datas, t, lambda: pymagic.Magic().from_buffer))
        configs[f"python-magic module from_buffer, {t} threads"] = timed(
            threaded(datas, t, lambda: pymagic.from_buffer))

    # Each comparison is a pair of configurations run back to back (in a
    # random order) every round: the ratio of the two is taken within a
    # second or two, under the same outside load.
    comparisons: dict[str, tuple[str, str, str]] = {
        "Pool(1).map / raw C 1 thread, wall time (target <= 1.02)":
            ("Pool(1).map", "raw C, 1 threads", "wall"),
        "Pool(1).map / raw C 1 thread, CPU time": ("Pool(1).map", "raw C, 1 threads", "cpu"),
        "Cookie.buffer loop / raw C 1 thread, wall time": ("Cookie.buffer loop", "raw C, 1 threads", "wall"),
        "Cookie.buffer loop / raw C 1 thread, CPU time": ("Cookie.buffer loop", "raw C, 1 threads", "cpu"),
        "Pool(1).identify loop / raw C 1 thread, wall time":
            ("Pool(1).identify loop", "raw C, 1 threads", "wall"),
    }
    for t in workers[1:]:
        comparisons[f"Pool({t}) / Pool(1) throughput"] = ("Pool(1).map", f"Pool({t}).map", "wall")
        comparisons[f"raw C {t} threads / 1 thread throughput"] = ("raw C, 1 threads",
                                                                   f"raw C, {t} threads", "wall")
    if n > 1:
        for key in ("raw C (system libmagic)", "from_buffer", "python-magic shared Magic",
                    "python-magic Magic per thread", "python-magic module from_buffer"):
            comparisons[f"{key}: {n} threads / 1 thread throughput"] = (
                f"{key}, 1 threads", f"{key}, {n} threads", "wall")
    comparisons["python-magic Magic per thread, 1 thread / raw C (system libmagic), CPU time"] = (
        "python-magic Magic per thread, 1 threads", "raw C (system libmagic), 1 threads", "cpu")

    for run in configs.values():  # one untimed warm-up pass each
        run()
    wall: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    pairs: dict[str, list[float]] = {label: [] for label in comparisons}
    measured: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    rng = random.Random(6)
    for r in range(opts.rounds):
        order = list(comparisons)
        rng.shuffle(order)
        for label in order:
            a, b, clock = comparisons[label]
            pair = (a, b)
            if pair not in measured:  # wall and CPU ratios of one pair share its runs
                got: dict[str, tuple[float, float]] = {}
                for name in rng.sample([a, b], 2):
                    got[name] = configs[name]()
                    wall[name].append(got[name][0])
                    cpu[name].append(got[name][1])
                measured[pair] = got
            index = 0 if clock == "wall" else 1
            pairs[label].append(measured[pair][a][index] / measured[pair][b][index])
        measured.clear()
        print(f"round {r + 1}/{opts.rounds} done", flush=True)
    for pool in pools.values():
        pool.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), "
          f"{os.getloadavg()[1]:.2f} (5 min)", flush=True)

    items = len(datas)
    med = {name: statistics.median(v) for name, v in wall.items()}
    print()
    print("| configuration | items/s (median) | ms per pass, wall (median) | "
          "ms per pass, CPU (median) | cores got (CPU/wall) | passes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in configs:
        got = statistics.median(c / w for c, w in zip(cpu[name], wall[name]))
        print(f"| {name} | {items / med[name]:.0f} | {med[name] * 1e3:.0f} | "
              f"{statistics.median(cpu[name]) * 1e3:.0f} | {got:.2f} | {len(wall[name])} |")
    print()
    ratios = {label: statistics.median(v) for label, v in pairs.items()}
    print("| ratio (median of back-to-back pairs) | value | quartiles |")
    print("|---|---:|---:|")
    for label, value in ratios.items():
        q = statistics.quantiles(pairs[label], n=4) if len(pairs[label]) > 1 else [value, value, value]
        print(f"| {label} | {value:.3f} | {q[0]:.2f}-{q[2]:.2f} |")

    if opts.json:
        Path(opts.json).write_text(json.dumps({"wall": wall, "cpu": cpu, "pairs": pairs,
                                               "ratios": ratios, "items": items}, separators=(",", ":")))
    if opts.chart:
        chart(opts.chart, workers, items, wall, cpu, n, os.getloadavg()[1])
        print(f"\nchart: {opts.chart}")
    return 0


def chart(path: str, workers: list[int], items: int, wall: dict[str, list[float]],
          cpu: dict[str, list[float]], n: int, load: float) -> None:
    """Throughput against workers (left) and the cores the process actually
    got, CPU time over wall time (right): on a shared machine the second
    says whether the first could scale at all."""
    import matplotlib as mpl
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    med = {name: statistics.median(v) for name, v in wall.items()}
    cores = {name: statistics.median(c / w for c, w in zip(cpu[name], wall[name])) for name in wall}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=110,
                                  gridspec_kw={"width_ratios": [3, 2]})
    threads = sorted({1, n})
    series = [("raw C, {} threads", workers, "o-", "raw C magic_buffer, one magic_t per thread"),
              ("Pool({}).map", workers, "s-", "magicguard.Pool(workers).map"),
              ("from_buffer, {} threads", threads, "^--", "magicguard.from_buffer (threads)"),
              ("raw C (system libmagic), {} threads", threads, "o:", "raw C, system libmagic (threads)"),
              ("python-magic Magic per thread, {} threads", threads, "v:",
               "python-magic, Magic per thread"),
              ("python-magic shared Magic, {} threads", threads, "x:", "python-magic, shared Magic"),
              ("python-magic module from_buffer, {} threads", threads, "d:",
               "python-magic module from_buffer")]
    for pattern, xs, style, label in series:
        ax.plot(xs, [items / med[pattern.format(t)] for t in xs], style, label=label)
        ax2.plot(xs, [cores[pattern.format(t)] for t in xs], style, label=label)
    for a in (ax, ax2):
        a.axvline(n, color="grey", lw=0.8, ls="--")
        a.set_xticks(workers)
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
        a.set_xlabel(f"workers / threads ({n} CPUs usable: dashed line)")
    ax.set_ylabel("files identified per second (median pass)")
    ax.set_title("Throughput, in-memory corpus of real files", fontsize=10)
    ax2.set_ylim(0, n + 0.2)
    ax2.set_ylabel("CPU seconds per wall second")
    ax2.set_title(f"Cores the process got (load average {load:.1f})", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
