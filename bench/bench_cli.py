"""Wall time of ``magicguard -R -j N`` against ``file`` over a real tree.

    python bench/bench_cli.py [--repeat 3] [--jobs N] [--write] [TREE ...]

The trees default to a bounded part of /usr/share (about 9,000 files of many
kinds: documentation, compressed files, Perl, Vim scripts, time zones,
locales).  ``file`` has no recursion, so it is given the exact names
``magicguard -R`` visits, in the same order, as a ``-f`` list prepared before
timing (which favours ``file``: it does not walk).  Both use the same
libmagic and database (the reference ``file`` of this build, found as the
tests find it), print unpadded (``-N``), and their outputs are checked to be
identical before any timing counts.

Reported: the median wall time of each command over ``--repeat`` runs, the
ratio file / ``-j 1`` (>= 1 means magicguard on one thread is at least as fast)
and the speedup ``-j 1`` / ``-j N`` (target: >= 0.8 N).  ``--write`` puts the
table under "## CLI" in bench/RESULTS.md, replacing that section only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import find_reference_file  # noqa: E402
from magicguard.cli.walk import WalkError, walk  # noqa: E402

DEFAULT_TREES = ["/usr/share/doc", "/usr/share/perl", "/usr/share/vim", "/usr/share/zoneinfo",
                 "/usr/share/i18n", "/usr/share/X11"]


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall seconds, CPU seconds (user + system, the child's) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*", default=DEFAULT_TREES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=_usable_cores())
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    reference = find_reference_file()
    if reference is None:
        print("no reference file(1) of this libmagic found", file=sys.stderr)
        return 1
    names = [item for item in walk([os.fsencode(t) for t in args.trees], follow_links=False)
             if not isinstance(item, WalkError)]
    env = {k: v for k, v in os.environ.items() if k not in ("MAGIC", "POSIXLY_CORRECT")}
    mg = [sys.executable, "-m", "magicguard"]
    with tempfile.NamedTemporaryFile(suffix=".list") as listing:
        listing.write(b"".join(n + b"\n" for n in names))
        listing.flush()
        commands = {
            "file": [reference, "-N", "-f", listing.name],
            "magicguard -j 1": [*mg, "-R", "-N", "-j", "1", *args.trees],
            f"magicguard -j {args.jobs}": [*mg, "-R", "-N", "-j", str(args.jobs), *args.trees],
        }
        # Same answers first, or the timing means nothing.
        outputs = {label: timed(cmd, env)[2] for label, cmd in commands.items()}
        baseline = outputs["file"]
        for label, out in outputs.items():
            if out != baseline:
                print(f"{label}: output differs from file(1)'s", file=sys.stderr)
                return 1
        times: dict[str, list[float]] = {label: [] for label in commands}
        cpus: dict[str, list[float]] = {label: [] for label in commands}
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            for label, cmd in commands.items():  # interleaved, so load drifts hit all alike
                wall, cpu, _ = timed(cmd, env)
                times[label].append(wall)
                cpus[label].append(cpu)
        load_after = os.getloadavg()[0]
    medians = {label: statistics.median(t) for label, t in times.items()}
    cpu_medians = {label: statistics.median(t) for label, t in cpus.items()}
    j1 = medians["magicguard -j 1"]
    jn = medians[f"magicguard -j {args.jobs}"]
    speed_j1 = medians["file"] / j1
    speedup = j1 / jn
    rows = [
        "## CLI",
        "",
        f"`python bench/bench_cli.py --repeat {args.repeat} --jobs {args.jobs}"
        + ("" if args.trees == DEFAULT_TREES else " " + " ".join(args.trees)) + "`",
        "",
        (f"Tree: {', '.join(args.trees)} ({len(names)} files, walked as `-R` walks); "
         f"{_usable_cores()} usable cores; libmagic and database of `{os.path.relpath(reference, ROOT)}`. "
         "Outputs checked identical before timing. `file` gets the walked names as a prepared `-f` list."),
        (f"Load average (1 min) {load_before:.1f} before, {load_after:.1f} after: wall times and the -j speedup"
         " only mean something when it is below the core count; CPU time (user + system) does not depend on it."),
        "",
        "| command | median wall s | wall runs | median CPU s |",
        "|---|---|---|---|",
    ]
    for label, cmd in commands.items():
        shown = " ".join(os.path.basename(c) if c == reference else c for c in cmd)
        shown = shown.replace(sys.executable, "python").replace(listing.name, "LIST")
        runs = ", ".join(f"{t:.2f}" for t in times[label])
        rows.append(f"| `{shown}` | {medians[label]:.2f} | {runs} | {cpu_medians[label]:.2f} |")
    rows += [
        "",
        (f"- file / magicguard -j 1 = **{speed_j1:.2f}** wall (target >= 1.00); "
         f"CPU: {cpu_medians['file'] / cpu_medians['magicguard -j 1']:.2f}"),
        (f"- magicguard -j 1 / -j {args.jobs} = **{speedup:.2f}** "
         f"(target >= {0.8 * args.jobs:.2f}, i.e. 0.8 x {args.jobs})"),
        "",
    ]
    text = "\n".join(rows)
    print(text)
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        old = results.read_text() if results.exists() else "# Benchmarks\n\n"
        start = old.find("## CLI")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            old = old[:start] + (old[end + 1:] if end >= 0 else "")
        results.write_text(old.rstrip("\n") + "\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
