"""The ``magicguard`` command: file(1)'s answers, plus JSON, recursion and jobs.

``magicguard`` prints what ``file`` of the same libmagic and database prints,
byte for byte and with the same exit status, for file(1)'s options (names and
meanings from file/file ``src/file_opts.h``): the name, the separator and the
padding to the widest name, ``ERROR:`` lines under ``-E``, ``-0``/``-00``,
``-f`` lists, ``-`` for standard input, ``-P`` limits, ``-c``/``-C``/``-l``.
Only the program's name differs in messages (``magicguard: ...``).

Beyond file(1):

``--json``
    One JSON object per input, one per line, in input order, written as the
    answers arrive; strict UTF-8.  Keys: ``name``, ``description``,
    ``mime_type``, ``encoding``, ``error`` (always), and ``name_base64`` (and
    the like for the other texts) only when that text is not UTF-8.  An input
    that cannot be examined (missing, not readable, libmagic failed) is an
    error; a dangling symbolic link is described as in text mode.  Standard
    input is read once.  ``-b``, ``-N``, ``-F``, ``-0`` do not apply.  The
    schema is in docs/cli.md.
``-R``, ``--recursive``
    Directory operands (and directories named in ``-f`` lists) are replaced
    by the files below them, depth first, sorted by name; a symbolic link to
    a directory is followed only with ``-L``.  Names are not padded (the
    widest name is not known before the walk ends; memory stays bounded).
``-j N``, ``--jobs N``
    Identify with N threads (default: every usable core), one libmagic handle
    each; output stays in input order.
``--no-progress``
    A progress bar is drawn on standard error when it is a terminal,
    standard output is not, and the work is long (``-R``, or at least
    ``PROGRESS_MIN_INPUTS`` inputs); never otherwise.  This turns it off.

Exit status: file(1)'s for its own options (1 for usage errors, bad ``-P``,
an unreadable ``-f`` list, a database that does not load, and for any input
libmagic failed on, which without ``-E`` is rare).  With ``--json`` or ``-R``,
1 as well when any input failed (libmagic error, or a directory that could
not be listed).  A closed standard output ends the run quietly with status
32 (EPIPE); an interrupt with 130, at once: libmagic runs on worker threads
(with ``-j 1`` too), so the main thread takes SIGINT whatever libmagic is
doing, flushes what was printed, and does not wait for a busy worker.
"""

from __future__ import annotations

import errno
import os
import sys

from .command import Exit, Run
from .engine import running_threads
from .progress import PROGRESS_MIN_INPUTS

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import NoReturn, Optional

__all__ = ["PROGRESS_MIN_INPUTS", "console_main", "main"]


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the final flush is silent."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _interrupted(exit_now: bool) -> None:
    """After Ctrl-C: flush what was printed, then, when run as the command
    (``exit_now``) and a worker thread is still inside libmagic, leave at
    once with status 130 instead of waiting for it.

    As the command, a second Ctrl-C then kills the process (the default
    action) at any point; called as a function (``main(argv)``), the
    caller's SIGINT handler is left alone.  The flush runs on a helper
    thread and is given a short time: a reader that stopped reading must
    not hold the exit up either.
    """
    import signal
    import threading

    if exit_now:
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        except ValueError:  # pragma: no cover - not the main thread
            pass

    def flush() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass

    helper = threading.Thread(target=flush, name="magicguard-flush", daemon=True)
    helper.start()
    helper.join(0.2)
    # Worker threads are bare _thread ones (engine.py), which threading
    # does not count; the stdin feeder and this helper are threading's.
    if exit_now and (helper.is_alive() or running_threads() > 0 or threading.active_count() > 1):
        os._exit(130)


def main(argv: Optional[list[str]] = None) -> int:
    """Run ``magicguard`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    words = [os.fsencode(a) for a in (sys.argv[1:] if argv is None else argv)]
    # `magicguard --check ...`: upload verdicts (check.py), argparse's conventions.
    if b"--check" in words[:words.index(b"--") if b"--" in words else len(words)]:
        from .check import main as check_main

        return check_main([os.fsdecode(w) for w in words])
    try:
        return Run(words).run()
    except Exit as stop:
        return stop.status
    except BrokenPipeError:
        _quiet_stdout()
        return errno.EPIPE
    except KeyboardInterrupt:
        _interrupted(argv is None)
        return 130
    except OSError as exc:
        # Standard output failed (EBADF when closed, ENOSPC, EIO): file(1)
        # stops printing and exits 1.  Say why, but no traceback; what is
        # still buffered goes to /dev/null, so the exit flush cannot fail.
        _quiet_stdout()
        if exc.errno != errno.EBADF:
            Run.warn_static(f"cannot write the output: {os.strerror(exc.errno or 0)}")
        return 1


def console_main() -> NoReturn:
    """The ``magicguard`` program (the console script, ``python -m magicguard``):
    :func:`main` with the process's arguments, then the process ends with its
    status.

    Once standard output and error are flushed it ends at once (``os._exit``),
    skipping the interpreter's teardown: a last garbage collection and the
    unloading of every module, ~8M instructions (~2 ms), a fifth of a
    one-file run (bench/RESULTS.md, "CLI start-up").  Nothing of the
    command's needs it: its output is flushed here and by :func:`main`, its
    worker threads hold nothing to release.  When an ``atexit`` handler is
    registered (coverage measuring the run, a ``sitecustomize`` hook), the
    process ends the usual way so that it runs.
    """
    status = main()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(status)  # the interpreter's flush at exit reports it, as it always did
    import atexit

    if atexit._ncallbacks() == 0:
        os._exit(status)
    sys.exit(status)
