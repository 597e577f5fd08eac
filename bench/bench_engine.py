"""The tuned engine against stock libmagic, file(1) and python-magic, in one run.

    python bench/bench_engine.py [--files 1500] [--rounds 5] [--callgrind 200] [--cli-repeat 3]
                                 [--startup-repeat 20] [TREE ...]

Prints, each figure measured side by side in this run:

1. **Engine, per file**: CPU time of one ``magic_buffer`` call on the file's
   first ``bytes_max`` bytes, by the stock build (same sources and security
   patches, ``MAGICGUARD_LIBMAGIC_TUNING=0``) and by the tuned bundled build:
   tests/c/diff_driver.c's ``bench`` mode, the minimum of ``--rounds`` rounds,
   the builds alternating round by round.  Ratios tuned/stock per file
   (quartiles) and over the corpus (sum), for text files, binary files (as
   stock ``file --mime-encoding`` calls them) and all.  Instructions per call
   (callgrind, ``--callgrind`` files) the same way.  Beside them:
   python-magic's ``from_buffer`` (the system libmagic; Python included) and
   magicguard's ``Cookie.buffer`` (the tuned build through Python), each the
   minimum of the same number of rounds.  The floor is the CPU time of
   reading the same bytes again from the page cache.
2. **Command line**: ``file -f LIST`` (the stock build's, and the system's)
   against ``magicguard -f LIST`` with ``-j 1`` and ``-j 2`` over the same
   files, wall and CPU, median of ``--cli-repeat`` interleaved runs.
3. **Start-up**: ``python -c pass``, ``import magicguard``, ``import magic``
   (python-magic), ``magicguard /bin/ls``, ``file /bin/ls``: whole-process wall
   time, median of ``--startup-repeat`` interleaved runs.

The corpus: regular files under TREE (default /usr/share and /usr/lib), a
fixed pseudo-random sample of ``--files`` of them (at most 8 MiB each).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent


def _differential() -> ModuleType:
    sys.path.insert(0, str(ROOT / "tests"))
    import differential

    return differential


def sample(trees: Sequence[str], n: int, seed: int = 15) -> list[str]:
    """A fixed pseudo-random sample of the regular files under ``trees``."""
    paths = []
    for top in trees:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if zlib.crc32(os.fsencode(path)) % 16 or "\n" in path:
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and 0 < st.st_size <= 8 << 20 and os.access(path, os.R_OK):
                    paths.append(path)
    random.Random(seed).shuffle(paths)
    return sorted(paths[:n])


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def fmt_q(values: Sequence[float], scale: float = 1.0, digits: int = 0) -> str:
    q1, q2, q3 = quartiles([v * scale for v in values])
    return f"{q2:,.{digits}f} [{q1:,.{digits}f} – {q3:,.{digits}f}]"


# --- engine: CPU -----------------------------------------------------------------

def driver_bench(driver: Path, database: Path, paths: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """One pass of diff_driver's bench mode: path -> (cpu_ns, bytes, read_ns)."""
    out = subprocess.run([str(driver), "bench", str(database), "0", "1"], input="\n".join(paths) + "\n",
                         capture_output=True, text=True, check=True, errors="surrogateescape").stdout
    result = {}
    for line in out.splitlines():
        cpu, _instr, nbytes, read_ns, path = line.split(" ", 4)
        result[path] = (int(cpu), int(nbytes), int(read_ns))
    return result


def python_bench(code: str, paths: Sequence[str]) -> dict[str, int]:
    """Per-file CPU ns of a Python call on the file's bytes, in a child process."""
    prog = (
        "import sys, time\n" + code + "\n"
        "for p in sys.stdin.read().split('\\n'):\n"
        "    if not p: continue\n"
        "    with open(p, 'rb') as f: data = f.read(7 << 20)\n"
        "    t = time.thread_time_ns(); call(data); t = time.thread_time_ns() - t\n"
        "    print(t, p)\n"
    )
    out = subprocess.run([sys.executable, "-c", prog], input="\n".join(paths) + "\n", capture_output=True,
                         text=True, check=True, errors="surrogateescape").stdout
    return {line.split(" ", 1)[1]: int(line.split(" ", 1)[0]) for line in out.splitlines()}


def minimum(runs: Sequence[dict[str, int]]) -> dict[str, int]:
    keys = set.intersection(*(set(r) for r in runs))
    return {k: min(r[k] for r in runs) for k in keys}


# --- engine: instructions --------------------------------------------------------

def callgrind_instructions(driver: Path, database: Path, paths: Sequence[str], work: Path) -> list[int]:
    """Instructions of each magic_buffer call (callgrind, one dump per call)."""
    outdir = Path(tempfile.mkdtemp(dir=work, prefix="cg-"))
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=magic_buffer",
                    "--dump-after=magic_buffer", f"--callgrind-out-file={outdir}/cg.out",
                    str(driver), "bench", str(database), "0", "1"],
                   input="\n".join(paths) + "\n", capture_output=True, text=True, check=True,
                   errors="surrogateescape")
    dumps = []
    for f in outdir.iterdir():
        suffix = f.name.rsplit(".", 1)[-1]
        if not suffix.isdigit():
            continue
        totals = [line for line in f.read_text(errors="replace").splitlines() if line.startswith("totals:")]
        dumps.append((int(suffix), int(totals[0].split()[1]) if totals else 0))
    shutil.rmtree(outdir, ignore_errors=True)
    return [n for _, n in sorted(dumps)]


# --- command line and start-up ---------------------------------------------------

def timed(cmd: Sequence[str], env: Optional[dict[str, str]] = None) -> tuple[float, float]:
    """Wall and CPU (user + system of the child) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(commands: dict[str, Sequence[str]], repeat: int,
                env: Optional[dict[str, str]] = None) -> dict[str, tuple[list[float], list[float]]]:
    """Run each command once per round, rounds in alternating order."""
    results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in commands}
    names = list(commands)
    for r in range(repeat):
        for name in (names if r % 2 == 0 else names[::-1]):
            wall, cpu = timed(commands[name], env)
            results[name][0].append(wall)
            results[name][1].append(cpu)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", default=["/usr/share", "/usr/lib"])
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callgrind", type=int, default=200, help="files measured by callgrind (0: none)")
    parser.add_argument("--cli-repeat", type=int, default=3)
    parser.add_argument("--startup-repeat", type=int, default=20)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mg-bench-engine-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    diff = _differential()
    stock, tuned = diff.builds(work)
    paths = sample(args.trees, args.files)
    listing = work / "files.txt"
    listing.write_text("\n".join(paths) + "\n", errors="surrogateescape")
    print(f"corpus: {len(paths)} files from {', '.join(args.trees)}; stock {stock.prefix.name}, "
          f"tuned {tuned.prefix.name}")

    # text or binary, as the stock file(1) says
    enc = subprocess.run([str(stock.prefix / "bin" / "file"), "-m", str(stock.database), "-b",
                          "--mime-encoding", "-f", str(listing)], capture_output=True, text=True,
                         errors="surrogateescape", check=True).stdout.splitlines()
    kind = {p: ("binary" if e.strip() == "binary" else "text") for p, e in zip(paths, enc)}

    # 1. CPU per file, rounds alternating between the builds
    runs: dict[str, list[dict[str, int]]] = {"stock": [], "tuned": [], "read": []}
    for r in range(args.rounds):
        order = (stock, tuned) if r % 2 == 0 else (tuned, stock)
        for build in order:
            res = driver_bench(build.driver, build.database, paths)
            runs[build.name].append({p: v[0] for p, v in res.items()})
            runs["read"].append({p: v[2] for p, v in res.items()})
    cpu = {name: minimum(r) for name, r in runs.items()}
    py_runs: dict[str, list[dict[str, int]]] = {"python-magic": [], "magicguard": []}
    py_code = {
        "python-magic": "import magic\nm = magic.Magic()\ncall = m.from_buffer",
        "magicguard": "import magicguard\nc = magicguard.Cookie()\ncall = c.buffer",
    }
    for _ in range(max(1, args.rounds // 2)):
        for name, code in py_code.items():
            try:
                py_runs[name].append(python_bench(code, paths))
            except subprocess.CalledProcessError as exc:
                print(f"  ({name} not measured: {exc.stderr.strip().splitlines()[-1:]})")
    py_cpu = {name: minimum(r) for name, r in py_runs.items() if r}

    print("\n## Engine: CPU per file (µs; median [Q1 – Q3]), tuned/stock ratios")
    print("| files | n | stock | tuned | tuned/stock per file | tuned/stock total | floor (read) "
          "| tuned/floor total |" + "".join(f" {k} |" for k in py_cpu))
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(py_cpu))
    for group in ("text", "binary", "all"):
        keys = [p for p in paths if p in cpu["stock"] and p in cpu["tuned"]
                and (group == "all" or kind.get(p) == group)]
        if not keys:
            continue
        s = [cpu["stock"][k] for k in keys]
        t = [cpu["tuned"][k] for k in keys]
        rd = [cpu["read"][k] for k in keys]
        ratio = [b / a for a, b in zip(s, t) if a > 0]
        extra = "".join(f" {fmt_q([py_cpu[n][k] for k in keys if k in py_cpu[n]], 1e-3, 1)} |"
                        for n in py_cpu)
        print(f"| {group} | {len(keys)} | {fmt_q(s, 1e-3, 1)} | {fmt_q(t, 1e-3, 1)} | {fmt_q(ratio, 1, 3)} "
              f"| {sum(t) / sum(s):.3f} | {fmt_q(rd, 1e-3, 1)} | {sum(t) / max(1, sum(rd)):.1f}× |{extra}")

    if args.callgrind:
        subset = random.Random(1).sample(paths, min(args.callgrind, len(paths)))
        subset.sort()
        instr = {b.name: callgrind_instructions(b.driver, b.database, subset, work) for b in (stock, tuned)}
        print(f"\n## Engine: instructions per magic_buffer call (callgrind, {len(subset)} files; "
              f"thousands, median [Q1 – Q3])")
        print("| files | n | stock | tuned | tuned/stock per file | tuned/stock total |")
        print("|---|---|---|---|---|---|")
        if len(instr["stock"]) == len(instr["tuned"]) == len(subset):
            for group in ("text", "binary", "all"):
                idx = [i for i, p in enumerate(subset) if group == "all" or kind.get(p) == group]
                if not idx:
                    continue
                s = [instr["stock"][i] for i in idx]
                t = [instr["tuned"][i] for i in idx]
                print(f"| {group} | {len(idx)} | {fmt_q(s, 1e-3)} | {fmt_q(t, 1e-3)} | "
                      f"{fmt_q([b / a for a, b in zip(s, t)], 1, 3)} | {sum(t) / sum(s):.3f} |")
        else:
            print(f"(callgrind dumps: {len(instr['stock'])} stock, {len(instr['tuned'])} tuned, "
                  f"for {len(subset)} files: not compared)")

    # 2. command line over the same files
    mg = shutil.which("magicguard", path=str(Path(sys.executable).parent)) or "magicguard"
    sys_file = shutil.which("file")
    commands: dict[str, list[str]] = {
        "file (stock build)": [str(stock.prefix / "bin" / "file"), "-m", str(stock.database), "-N",
                               "-f", str(listing)],
        "magicguard -j 1": [mg, "-N", "-j", "1", "-f", str(listing)],
        "magicguard -j 2": [mg, "-N", "-j", "2", "-f", str(listing)],
    }
    if sys_file:
        commands["file (system)"] = [sys_file, "-N", "-f", str(listing)]
    cli = interleaved(commands, args.cli_repeat)
    base = statistics.median(cli["file (stock build)"][0])
    print(f"\n## Command line over the same {len(paths)} files (median of {args.cli_repeat})")
    print("| command | wall s | CPU s | wall vs file (stock build) |")
    print("|---|---|---|---|")
    for name, (walls, cpus) in cli.items():
        w = statistics.median(walls)
        print(f"| `{name}` | {w:.2f} | {statistics.median(cpus):.2f} | {w / base:.2f}× |")

    # 3. start-up
    py = sys.executable
    startup = {
        "python -c pass": [py, "-c", "pass"],
        "import magicguard": [py, "-c", "import magicguard"],
        "import magic (python-magic)": [py, "-c", "import magic"],
        "magicguard /bin/ls": [mg, "/bin/ls"],
        "file /bin/ls (stock build)": [str(stock.prefix / "bin" / "file"), "-m", str(stock.database),
                                       "/bin/ls"],
    }
    st = interleaved(startup, args.startup_repeat)
    bare = statistics.median(st["python -c pass"][0])
    print(f"\n## Start-up, whole process (median of {args.startup_repeat})")
    print("| command | wall ms | minus `python -c pass` | × `python -c pass` |")
    print("|---|---|---|---|")
    for name, (walls, _cpus) in st.items():
        w = statistics.median(walls)
        print(f"| `{name}` | {w * 1e3:.1f} | {(w - bare) * 1e3:+.1f} | {w / bare:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
