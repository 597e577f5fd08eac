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
cost of one call, start-up cancelled (PYTHONHASHSEED fixed).  The reference
there is a *bare* C loop of ``magic_buffer`` (nothing else per call), on the
PNG header and on empty input, each binding against its own libmagic.

Run just the instruction counts:  python bench/bench_cookie.py --instructions-only

Run:  python bench/bench_cookie.py [--rounds 15] [--corpus 400] [--no-instructions]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import magicguard
from _raw import build_raw, run_raw

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
    parser.add_argument("--instructions-only", action="store_true",
                        help="only the callgrind instruction counts")
    opts = parser.parse_args(argv)
    if opts.instructions_only:
        tmp = Path(tempfile.mkdtemp(prefix="mg-bench-"))
        instruction_counts(tmp, tmp, tmp, magicguard.default_database_path())
        return 0

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
# No collection inside the loop: where the collector's runs fall differs
# between the two lengths of run and would count as a per-call cost (a run
# of gen-0 collections is ~1M instructions); no call creates cycles.
import gc
gc.disable()
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


# The reference for instruction counts: nothing but magic_buffer in a loop
# (bench/raw_magic.c also times, and copies each answer, which costs ~10K
# instructions per call more than libmagic itself: 304K vs 294K on the PNG
# header, so ratios against it flattered the bindings).
_BARE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <magic.h>
int main(int argc, char **argv) {
    static char buf[1 << 16];
    FILE *f = fopen(argv[1], "rb");
    size_t len = fread(buf, 1, sizeof(buf), f);
    long i, n = atol(argv[2]);
    magic_t ms = magic_open(0);
    fclose(f);
    if (magic_load(ms, argc > 3 ? argv[3] : NULL) != 0) return 1;
    for (i = 0; i <= n; i++)
        if (magic_buffer(ms, buf, len) == NULL) return 1;
    magic_close(ms);
    return 0;
}
"""


def build_bare(out_dir: Path, *, system: bool) -> Path:
    """Compile the bare magic_buffer loop against the bundled or system libmagic."""
    import subprocess

    src = out_dir / "bare.c"
    src.write_text(_BARE_C)
    exe = out_dir / ("bare_system" if system else "bare")
    cmd = ["cc", "-O2", "-o", str(exe), str(src)]
    if magicguard.BUNDLED_LIBMAGIC and not system:
        import build_libmagic

        built = build_libmagic.Built(build_libmagic.prefix_dir())
        cmd[2:2] = ["-I", str(built.include_dir)]
        cmd.append(str(built.static_lib))
    else:
        cmd.append("-lmagic")
    subprocess.run(cmd, check=True)
    return exe


def instruction_counts(tmp: Path, raw: Path, raw_system: Path, database: str | None) -> None:
    """Instructions per call on the PNG header and on empty input: a bare C
    loop of magic_buffer, Cookie.buffer over the same libmagic, and
    python-magic over the system libmagic against a bare loop on that one."""
    low, high = 100, 400
    bare = build_bare(tmp, system=False)
    bare_system = build_bare(tmp, system=True)

    def per_call(make: Callable[[int], list[str]]) -> float:
        return (_callgrind(make(high)) - _callgrind(make(low))) / (high - low)

    for name, data in (("PNG header, 64 B", PNG_HEADER), ("empty input", b"")):
        path = tmp / "input.bin"
        path.write_bytes(data)

        def c_loop(exe: Path, db: str | None) -> Callable[[int], list[str]]:
            return lambda n: [str(exe), str(path), str(n), *([db] if db else [])]  # noqa: B023 - called in this iteration, before path changes

        def py_loop(which: str) -> Callable[[int], list[str]]:
            return lambda n: [sys.executable, "-c", _PY_LOOP, which, str(path), str(n)]  # noqa: B023 - called in this iteration, before path changes

        bare_c = per_call(c_loop(bare, database))
        ours = per_call(py_loop("magicguard"))
        bare_c_system = per_call(c_loop(bare_system, None))
        theirs = per_call(py_loop("python-magic"))
        print(f"\nbuffer: {name}: instructions per call (callgrind, {high}-{low} calls)")
        print(f"  bare C loop (bundled) {bare_c:12,.0f}")
        print(f"  magicguard            {ours:12,.0f}   {ours / bare_c:.4f}x bare C, "
              f"added {ours - bare_c:+,.0f}")
        print(f"  bare C loop (system)  {bare_c_system:12,.0f}")
        print(f"  python-magic          {theirs:12,.0f}   {theirs / bare_c_system:.4f}x bare C, "
              f"added {theirs - bare_c_system:+,.0f}")


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
