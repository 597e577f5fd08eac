"""compat.from_buffer and compat.Magic().from_buffer against python-magic's.

Both bindings identify the same inputs in one run, each input by both back
to back (which one goes first alternates by round), so that machine noise
hits both alike; per binding, the median over the rounds of a pass's CPU
time (and wall time) and the ratio compat / python-magic (below 1: compat
is faster) are printed.

python-magic 0.4.27 runs on the *same* libmagic and database as magicguard
(tests/pm_same_lib.py: in the bundled build, python-magic's code bound to a
shared copy of the bundled libmagic), so the ratio measures the bindings,
not two libmagic versions.  ``--installed`` uses python-magic as installed
(system libmagic) instead.

Inputs: the heads (``--head`` bytes, default 2048 as python-magic's README
recommends) of ``--files`` files of the test corpus (tests/conftest.py);
then their first 16 bytes; then 1-byte inputs, which libmagic answers at
once ("very short file"), so that the bindings' own per-call cost shows.

    python bench/bench_compat.py [--rounds 15] [--files 200] [--head 2048]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402
import magicguard  # noqa: E402
import pm_same_lib  # noqa: E402
from magicguard import compat  # noqa: E402


def python_magic(installed: bool) -> types.ModuleType:
    if installed:
        import magic

        return magic
    return pm_same_lib.load(Path(tempfile.mkdtemp(prefix="bench-compat-")))


def paired_pass(ours: Callable[[Any], str], theirs: Callable[[Any], str], inputs: list[bytes],
                ours_first: bool) -> tuple[float, float, float, float]:
    """One pass over the inputs, each identified by both bindings back to back.

    Returns (ours CPU, theirs CPU, ours wall, theirs wall) in seconds.  CPU
    time is this thread's (``time.thread_time``): libmagic runs in the
    calling thread for both bindings, and on a shared machine CPU time is
    far less disturbed than wall time by other processes.
    """
    cpu = time.thread_time
    wall = time.perf_counter
    o_cpu = t_cpu = o_wall = t_wall = 0.0
    for data in inputs:
        for which in ((0, 1) if ours_first else (1, 0)):
            fn = ours if which == 0 else theirs
            c0, w0 = cpu(), wall()
            fn(data)
            c1, w1 = cpu(), wall()
            if which == 0:
                o_cpu += c1 - c0
                o_wall += w1 - w0
            else:
                t_cpu += c1 - c0
                t_wall += w1 - w0
    return o_cpu, t_cpu, o_wall, t_wall


def layers(pm: types.ModuleType, inputs: list[bytes], rounds: int) -> int:
    """Each layer against the one below, sharing one libmagic handle, so that
    a ratio is that layer's own cost: compat.Magic over Cookie over the cffi
    raw layer, python-magic's Magic over its ctypes call, and the two raw
    layers against each other."""
    from magicguard import Cookie, Param

    cookie = Cookie(params={Param.NAME_MAX: 100})
    handle = cookie._handle
    assert handle is not None
    ours = compat.Magic()
    theirs = pm.Magic()
    theirs.setparam(pm.MAGIC_PARAM_NAME_MAX, 100)

    def ctypes_raw(data: bytes) -> Any:
        return pm.magic_buffer(theirs.cookie, data)

    pairs: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = [
        ("compat.Magic / Cookie", ours.from_buffer, cookie.buffer),
        ("Cookie / cffi raw", cookie.buffer, handle.buffer),
        ("python-magic Magic / ctypes raw", theirs.from_buffer, ctypes_raw),
        ("cffi raw / ctypes raw", handle.buffer, ctypes_raw),
    ]
    print(f"layers, libmagic {compat.version()}; {len(inputs)} inputs, {rounds} rounds")
    for label, upper, lower in pairs:
        timed = [paired_pass(upper, lower, inputs, ours_first=bool(n % 2)) for n in range(rounds)]
        u, low = (statistics.median(r[i] for r in timed) for i in range(2))
        per = 1e6 / len(inputs)
        print(f"{label:32} CPU {u * per:8.1f} / {low * per:8.1f} us/call, ratio {u / low:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--head", type=int, default=2048)
    parser.add_argument("--installed", action="store_true",
                        help="compare with python-magic on the system libmagic")
    parser.add_argument("--layers", action="store_true",
                        help="instead, time each layer against the one below it on the same handle")
    args = parser.parse_args(argv)

    pm = python_magic(args.installed)
    corpus = conftest.build_corpus()
    step = max(1, len(corpus) // args.files)
    inputs = []
    for path in corpus[::step][: args.files]:
        with open(path, "rb") as f:
            inputs.append(f.read(args.head))

    if args.layers:
        return layers(pm, inputs, args.rounds)

    ours_magic, theirs_magic = compat.Magic(), pm.Magic()
    # python-magic lowers MAGIC_PARAM_NAME_MAX to 64, compat keeps libmagic's
    # default when higher (100 in 5.46): this pair runs both with compat's
    # value, to tell the binding's cost from the param's.
    theirs_same_params = pm.Magic()
    theirs_same_params.setparam(pm.MAGIC_PARAM_NAME_MAX, ours_magic.getparam(compat.MAGIC_PARAM_NAME_MAX))
    tiny = [data[:16] for data in inputs]
    cases: list[tuple[str, Callable[[Any], str], Callable[[Any], str], list[bytes]]] = [
        ("from_buffer(mime=False)", compat.from_buffer, pm.from_buffer, inputs),
        ("from_buffer(mime=True)", lambda d: compat.from_buffer(d, mime=True),
         lambda d: pm.from_buffer(d, mime=True), inputs),
        ("Magic().from_buffer", ours_magic.from_buffer, theirs_magic.from_buffer, inputs),
        ("  same NAME_MAX", ours_magic.from_buffer, theirs_same_params.from_buffer, inputs),
        ("  16-byte inputs", ours_magic.from_buffer, theirs_same_params.from_buffer, tiny),
        # libmagic answers "very short file (no magic)" at once: the time
        # is the bindings' own per-call cost.
        ("  1-byte inputs", ours_magic.from_buffer, theirs_same_params.from_buffer, [b"x"] * 2000),
        ("  1-byte, module function", compat.from_buffer, pm.from_buffer, [b"x"] * 2000),
    ]
    build = "bundled" if magicguard.BUNDLED_LIBMAGIC else "system"
    print(f"magicguard {build} build, libmagic {compat.version()}; python-magic 0.4.27 on libmagic "
          f"{pm.version()} ({'installed' if args.installed else 'same library'}); "
          f"{len(inputs)} inputs of <= {args.head} bytes, {args.rounds} rounds")
    for label, ours, theirs, data in cases:
        # Same answers first: a faster wrong answer would be no result.
        assert [ours(d) for d in data] == [theirs(d) for d in data] or args.installed, label
        rounds = [paired_pass(ours, theirs, data, ours_first=bool(n % 2)) for n in range(args.rounds)]
        per = 1e6 / len(data)
        o_cpu, t_cpu, o_wall, t_wall = (statistics.median(r[i] for r in rounds) for i in range(4))
        print(f"{label:26} CPU: compat {o_cpu * per:7.1f} us/call, python-magic {t_cpu * per:7.1f} us/call, "
              f"ratio {o_cpu / t_cpu:.3f}   wall: ratio {o_wall / t_wall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
