"""``magicguard --check [--policy FILE] [--json] [-R] [-j N] PATHS...``: upload verdicts.

One line per file, the verdict and its findings (with ``--json``, one JSON
object per line: the path, then ``Verdict.to_dict()``).  Exit status 0 when
every file passes, 1 when any is refused or cannot be read, 2 on bad usage.
Without ``--policy`` the default ``Policy()`` applies: a file whose
extension does not fit its content, or that is several formats at once, is
refused.  ``-R`` walks directories (symbolic links are not followed into);
``-j N`` judges N files at once (default: the usable cores).  ``-`` reads
standard input.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import errno
import json
import os
import sys
from typing import Iterator, Optional, TextIO

from ..policy import Policy
from ..verdict import Verdict, inspect

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="magicguard --check",
        description="Judge uploads: is each file what its name says, and does the policy let it in?")
    parser.add_argument("--check", action="store_true", required=True,
                        help="judge the files (this mode)")
    parser.add_argument("--policy", metavar="FILE",
                        help="a TOML policy (see docs/uploads.md); default: refuse an extension "
                             "mismatch and several formats at once")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("-R", "--recursive", action="store_true", help="walk directories")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", default=None,
                        help="how many files to judge at once (default: the usable cores)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files (or '-' for stdin)")
    return parser


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _walk(paths: list[str], recursive: bool) -> Iterator[tuple[str, Optional[str]]]:
    """(path, error) pairs: every file to judge, or why an operand is not one."""
    for path in paths:
        if path != "-" and os.path.isdir(path) and not os.path.islink(path):
            if not recursive:
                yield path, "is a directory (use -R to walk it)"
                continue
            for top, dirs, files in os.walk(path, onerror=None, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    yield os.path.join(top, name), None
        else:
            yield path, None


def _judge(path: str, policy: Policy) -> tuple[str, Optional[Verdict], Optional[str]]:
    try:
        if path == "-":
            return path, inspect(sys.stdin.buffer, filename=None, policy=policy), None
        return path, inspect(path, policy=policy), None
    except (OSError, ValueError, TypeError) as exc:
        return path, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a worker crash or timeout: this file fails, the rest go on
        return path, None, f"{type(exc).__name__}: {exc}"


def _line(path: str, verdict: Optional[Verdict], error: Optional[str],
          as_json: bool) -> tuple[str, bool]:
    if error is not None or verdict is None:
        if as_json:
            return json.dumps({"path": path, "allowed": False, "error": error}), False
        return f"{path}: ERROR {error}", False
    if as_json:
        return json.dumps({"path": path, **verdict.to_dict()}, ensure_ascii=False), verdict.allowed
    state = "ALLOWED" if verdict.allowed else "REFUSED"
    text = f"{path}: {state} {verdict.label} ({verdict.mime_type})"
    notes = [f"{f.code}: {f.message}" for f in verdict.findings if f.code != "refused_by_policy"]
    if notes:
        text += " -- " + "; ".join(notes)
    return text, verdict.allowed


def main(argv: Optional[list[str]] = None, out: Optional[TextIO] = None) -> int:
    """Run ``magicguard --check`` with ``argv``; return the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    stdout = out if out is not None else sys.stdout
    try:
        policy = Policy.from_toml(args.policy) if args.policy else Policy()
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"magicguard --check: bad policy: {exc}", file=sys.stderr)
        return 2
    jobs = args.jobs if args.jobs is not None else _cores()
    if jobs < 1:
        print(f"magicguard --check: -j wants a positive number, got {jobs}", file=sys.stderr)
        return 2
    status = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            window: list[concurrent.futures.Future[tuple[str, Optional[Verdict], Optional[str]]]] = []

            def emit(item: tuple[str, Optional[Verdict], Optional[str]]) -> None:
                nonlocal status
                text, ok = _line(item[0], item[1], item[2], args.json)
                if not ok:
                    status = 1
                stdout.write(text + "\n")

            for path, error in _walk(args.paths, args.recursive):
                if error is not None:
                    fut: concurrent.futures.Future[tuple[str, Optional[Verdict], Optional[str]]] = \
                        concurrent.futures.Future()
                    fut.set_result((path, None, error))
                else:
                    fut = pool.submit(_judge, path, policy)
                window.append(fut)
                while len(window) > 4 * jobs:  # bounded memory, output in order
                    emit(window.pop(0).result())
            for fut in window:
                emit(fut.result())
        stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return errno.EPIPE
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
