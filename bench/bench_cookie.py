"""Cookie.buffer and Cookie.file against raw C and python-magic 0.4.27.

For each case, every round runs each contender once, interleaved, so that
load on a shared machine hits them alike; the figure of a round is the mean
time per call, and the report gives medians over rounds and their ratios:

* raw C: bench/raw_magic.c calling magic_buffer / magic_file in a loop,
  built against the same libmagic as the extension (and again against the
  system's libmagic, the one python-magic loads through ctypes);
* magicguard: ``Cookie.buffer`` / ``Cookie.file``;
* python-magic: ``magic.Magic().from_buffer`` / ``from_file``.

"added" is a binding's cost per call over raw C of its own libmagic.

Wall time on a shared 2-core machine cannot resolve a few per cent, so the
PNG-header case is also counted in instructions with valgrind's callgrind,
which is repeatable whatever else runs: each program runs twice with
different call counts, and the difference divided by the extra calls is the
cost of one call, start-up cancelled (PYTHONHASHSEED fixed).

Run:  python bench/bench_cookie.py [--rounds 15] [--corpus 400] [--no-instructions]
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import magicguard  # noqa: E402
from _raw import build_raw, run_raw  # noqa: E402

PNG_HEADER = (bytes.fromhex("89504e470d0a1a0a0000000d4948445200000100000001000806000000"
                            "5c72a866") + b"\0" * 64)[:64]
TEXT_4K = (b"The quick brown fox jumps over the lazy dog again and again.\n" * 80)[:4096]


def per_call(fn: Callable[[Any], Any], items: list[Any]) -> float:
    """Mean seconds per call of ``fn`` over ``items``."""
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items)


def report(name: str, rows: dict[str, list[float]]) -> dict[str, float]:
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n{name}: median per call over {len(next(iter(rows.values())))} rounds")
    for key, value in med.items():
        print(f"  {key:<22} {value * 1e6:10.2f} us")
    ours = med["magicguard"] / med["raw C (bundled)"]
    print(f"  magicguard / raw C           {ours:.4f}x")
    if "python-magic" in med:
        pm = med["python-magic"] / med["raw C (system)"]
        ours_added = med["magicguard"] - med["raw C (bundled)"]
        pm_added = med["python-magic"] - med["raw C (system)"]
        print(f"  python-magic / raw C (system) {pm:.4f}x")
        print(f"  added per call: magicguard {ours_added * 1e6:+.2f} us, "
              f"python-magic {pm_added * 1e6:+.2f} us")
    return med


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--corpus", type=int, default=400, help="corpus files for the file case")
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip the callgrind instruction counts")
    opts = parser.parse_args(argv)

    import magic as python_magic  # python-magic 0.4.27, the test extra

    from conftest import build_corpus

    tmp = Path(tempfile.mkdtemp(prefix="mg-bench-"))
    raw = build_raw(tmp)
    raw_system = build_raw(tmp, system=True)
    database = magicguard.default_database_path()
    print(f"magicguard {magicguard.__version__}, libmagic {magicguard.libmagic_version()} "
          f"({'bundled' if magicguard.BUNDLED_LIBMAGIC else 'system'}); "
          f"python-magic {version('python-magic')} on libmagic {python_magic.version()}")

    cookie = magicguard.Cookie()
    pm = python_magic.Magic()

    cases = [("PNG header, 64 B", PNG_HEADER, 2000), ("ASCII text, 4 KiB", TEXT_4K, 60)]
    for name, data, calls in cases:
        path = tmp / "input"
        path.write_bytes(data)
        items = [data] * calls
        rows: dict[str, list[float]] = {k: [] for k in
                                        ("raw C (bundled)", "magicguard", "raw C (system)", "python-magic")}
        assert cookie.buffer(data) == run_raw_result(raw, path, database)
        for _ in range(opts.rounds):
            figures = run_raw(raw, [str(path)] * calls, database=database)
            rows["raw C (bundled)"].append(int(figures["round_ns_median"]) / 1e9 / calls)
            rows["magicguard"].append(per_call(cookie.buffer, items))
            figures = run_raw(raw_system, [str(path)] * calls)
            rows["raw C (system)"].append(int(figures["round_ns_median"]) / 1e9 / calls)
            rows["python-magic"].append(per_call(pm.from_buffer, items))
        report(f"buffer: {name}", rows)

    if not opts.no_instructions and shutil.which("valgrind"):
        instruction_counts(tmp, raw, raw_system, database)

    paths = build_corpus(opts.corpus)
    rows = {k: [] for k in ("raw C (bundled)", "magicguard", "raw C (system)", "python-magic")}
    for _ in range(max(3, opts.rounds // 3)):
        figures = run_raw(raw, paths, mode="file", database=database)
        rows["raw C (bundled)"].append(int(figures["round_ns_median"]) / 1e9 / len(paths))
        rows["magicguard"].append(per_call(cookie.file, paths))
        figures = run_raw(raw_system, paths, mode="file")
        rows["raw C (system)"].append(int(figures["round_ns_median"]) / 1e9 / len(paths))
        rows["python-magic"].append(per_call(pm.from_file, paths))
    report(f"file: {len(paths)} real files (corpus)", rows)
    return 0


_PY_LOOP = """
import sys
data = open(sys.argv[2], "rb").read()
n = int(sys.argv[3])
if sys.argv[1] == "magicguard":
    import magicguard
    fn = magicguard.Cookie().buffer
else:
    import magic
    fn = magic.Magic().from_buffer
fn(data)
for _ in range(n):
    fn(data)
"""


def _callgrind(args: list[str]) -> int:
    """Instructions executed by ``args`` under callgrind."""
    import os
    import re
    import subprocess

    env = dict(os.environ, PYTHONHASHSEED="0")
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args],
                         capture_output=True, text=True, env=env, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))  # type: ignore[union-attr]


def instruction_counts(tmp: Path, raw: Path, raw_system: Path, database: str | None) -> None:
    """Instructions per Cookie.buffer call on the PNG header, against a C loop
    of magic_buffer on the same libmagic; python-magic against its own."""
    path = tmp / "png"
    path.write_bytes(PNG_HEADER)
    low, high = 100, 400

    def per_call(make: Callable[[int], list[str]]) -> float:
        return (_callgrind(make(high)) - _callgrind(make(low))) / (high - low)

    def c_loop(exe: Path, db: str | None) -> Callable[[int], list[str]]:
        return lambda n: [str(exe), "-r", "1", "-w", "0", *(["-d", db] if db else []), *[str(path)] * n]

    def py_loop(which: str) -> Callable[[int], list[str]]:
        return lambda n: [sys.executable, "-c", _PY_LOOP, which, str(path), str(n)]

    raw_c = per_call(c_loop(raw, database))
    ours = per_call(py_loop("magicguard"))
    raw_c_system = per_call(c_loop(raw_system, None))
    theirs = per_call(py_loop("python-magic"))
    print("\nbuffer: PNG header, 64 B: instructions per call (callgrind)")
    print(f"  raw C (bundled)      {raw_c:12,.0f}")
    print(f"  magicguard           {ours:12,.0f}   {ours / raw_c:.4f}x raw C, added {ours - raw_c:+,.0f}")
    print(f"  raw C (system)       {raw_c_system:12,.0f}")
    print(f"  python-magic         {theirs:12,.0f}   {theirs / raw_c_system:.4f}x raw C, "
          f"added {theirs - raw_c_system:+,.0f}")


def run_raw_result(exe: Path, path: Path, database: str | None) -> str:
    """raw_magic's answer for one file (-p), to check both sides agree."""
    import subprocess

    args = [str(exe), "-p", "-r", "1", "-w", "0", str(path)]
    if database is not None:
        args[1:1] = ["-d", database]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if "\t" in line)
    return line.split("\t", 2)[2]


if __name__ == "__main__":
    sys.exit(main())
