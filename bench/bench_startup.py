"""Start-up of a one-file ``magicguard`` run against ``python -c pass`` and ``file``.

    python bench/bench_startup.py [--rounds 40] [--callgrind] [--file PATH]

Whole-process wall time of, interleaved round by round (so a burst of load
on this shared machine hits every command alike):

* ``python -c pass``: the floor, the reference every ratio is taken to;
* ``python -c "import magicguard"``: the package import (its names come on
  first use), and ``from magicguard import Cookie``: what identifying costs;
* ``import magic``: python-magic's import, when it is installed;
* ``magicguard FILE``: the console script as the installer of this venv
  wrote it (pip's imports ``re`` before magicguard: ~25M instructions);
* ``magicguard FILE (no re)``: the same entry point through a wrapper that
  imports nothing itself, as uv writes console scripts;
* ``python -m magicguard FILE`` (runpy imports ``functools`` and more);
* ``file FILE``: the reference file(1) of the same libmagic (as the tests find it).

Every Python command runs with the compiled bytecode an installed wheel has
(pip writes it at install): a private ``PYTHONPYCACHEPREFIX`` warmed up
once before timing, so no run compiles source (this environment sets
``PYTHONDONTWRITEBYTECODE``, which would charge every run for compiling the
package).  Printed: median and quartiles per command, and the ratio of
medians to ``python -c pass`` (target: ``magicguard FILE`` <= 2.0).

``--callgrind`` also counts the instructions of one run of each (valgrind
--tool=callgrind, user space, the whole process): deterministic, where the
wall times on a loaded machine are not.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import find_reference_file  # noqa: E402

# A console-script wrapper that imports nothing but the entry point (uv's
# template since 0.5.19; pip's, from distlib, imports re first).
PLAIN_WRAPPER = """import sys
from magicguard.cli import console_main
if __name__ == "__main__":
    sys.exit(console_main())
"""


def commands(target: str, reference: str | None, workdir: str) -> dict[str, list[str]]:
    """The commands compared, by label."""
    script = shutil.which("magicguard", path=os.path.dirname(sys.executable)) or "magicguard"
    plain = os.path.join(workdir, "wrapper", "magicguard")  # a directory of its own: it is sys.path[0]
    os.makedirs(os.path.dirname(plain))
    with open(plain, "w") as f:
        f.write(PLAIN_WRAPPER)
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import magicguard": [sys.executable, "-c", "import magicguard"],
        "from magicguard import Cookie": [sys.executable, "-c", "from magicguard import Cookie"],
    }
    if importlib.util.find_spec("magic") is not None:
        found["import magic (python-magic)"] = [sys.executable, "-c", "import magic"]
    found.update({
        "magicguard FILE": [script, target],
        "magicguard FILE (no re)": [sys.executable, plain, target],
        "python -m magicguard FILE": [sys.executable, "-m", "magicguard", target],
    })
    if reference is not None:
        found["file FILE"] = [reference, target]
    return found


def environment(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MAGIC")}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def instructions(cmd: list[str], env: dict[str, str]) -> int | None:
    """User-space instructions of one run of ``cmd`` (callgrind), or None."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:"):
                    return int(line.split()[1])
    return None


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--file", default="/bin/ls")
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mg-pyc-") as cache:
        env = environment(os.path.join(cache, "pyc"))
        cmds = commands(args.file, find_reference_file(), cache)
        for cmd in cmds.values():  # warm up: bytecode written, page cache filled
            wall(cmd, env)
            wall(cmd, env)
        times: dict[str, list[float]] = {label: [] for label in cmds}
        for _ in range(args.rounds):
            for label, cmd in cmds.items():
                times[label].append(wall(cmd, env))
        base = statistics.median(times["python -c pass"])
        load = os.getloadavg()
        print(f"{args.rounds} interleaved rounds, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, FILE = {args.file}")
        print(f"{'command':30s} {'median ms':>10s} {'q1 ms':>8s} {'q3 ms':>8s} {'x pass':>7s}"
              + (f" {'Minstr':>8s} {'x pass':>7s}" if args.callgrind else ""))
        base_ins = instructions(cmds["python -c pass"], env) if args.callgrind else None
        for label, values in times.items():
            q1, med, q3 = quartiles(values)
            row = f"{label:30s} {med * 1e3:10.1f} {q1 * 1e3:8.1f} {q3 * 1e3:8.1f} {med / base:7.2f}"
            if args.callgrind:
                count = instructions(cmds[label], env)
                if count is not None and base_ins:
                    row += f" {count / 1e6:8.1f} {count / base_ins:7.2f}"
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
