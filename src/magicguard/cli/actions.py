"""The options that end the run instead of identifying (internal).

``-c``, ``-C``, ``-l`` (check, compile or list a database), ``-v``,
``--help`` and ``--doctor``: each acts on the ``Run`` as it stands when the
option is met, as file(1) does.
"""

from __future__ import annotations

import os
import sys

from .. import _lowlevel
from ..errors import MagicError
from .constants import Flags
from .engine import off_main_thread
from .options import PROG, help_text
from .output import stdout

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Optional

    from .command import Run

__all__ = ["database_action", "doctor", "print_version", "show_help"]


def database_action(run: Run) -> int:
    """-c, -C, -l: check, compile or list the database (-m or default)."""
    assert run.action is not None
    try:
        handle = _lowlevel.Handle(run.flags | int(Flags.CHECK))
    except MagicError as exc:
        run.warn("Can't create magic", exc.errno or 0)
        return 1
    paths = run.magic_file
    if paths is None:
        # -m, else $MAGIC (libmagic reads it), else ours: the rule of open_handle.
        default = _lowlevel.default_database(environ=True)
        if default is not None:
            if run.action == "compile":
                # libmagic's compiled-in default names the build tree;
                # a wheel ships the compiled database only.
                handle.close()
                run.warn("-C needs -m <magic source>: this installation has only "
                         f"the compiled database {os.fsdecode(default)}")
                return 1
            paths = default
    sys.stdout.flush()
    action = run.action

    def act() -> Optional[str]:
        # On a worker thread, as load(); the handle is closed there too,
        # never under a call still running after Ctrl-C.
        try:
            handle.database_action(action, paths, None)
            return None
        except MagicError:
            return handle.error() or "(null)"
        finally:
            handle.close()

    failure = off_main_thread(act)
    if failure is not None:
        run.warn(failure)
        return 1
    return 0


def print_version(run: Run) -> None:
    """-v: the versions and the database a run would load (-m, $MAGIC or ours)."""
    path: Optional[str]
    if run.magic_file is not None:
        path = os.fsdecode(run.magic_file)
    else:
        default = _lowlevel.default_database(environ=True)
        path = _lowlevel.getpath() if default is None else os.fsdecode(default)
    from .. import __version__

    libmagic = f"{run.version // 100}.{run.version % 100:02d}"
    text = f"{PROG}-{__version__} (libmagic {libmagic})\nmagic file from {path}\n"
    stdout().write(text.encode("utf-8", "surrogateescape"))
    stdout().flush()


def show_help(run: Run) -> None:
    """--help: print the help text."""
    stdout().write(_help_text(run).encode())
    stdout().flush()


def _help_text(run: Run) -> str:
    """file(1)'s --help for this libmagic, then magicguard's own options."""
    handle = _lowlevel.Handle(0)
    try:
        defaults = {
            p.name: handle.getparam(int(p.tag)) for p in run.param_table()
        }
    finally:
        handle.close()
    return help_text(run.tests(), run.param_table(), defaults, run.posixly)


def doctor() -> int:
    """--doctor: run the installation check (imported only when asked for)."""
    from ..doctor import main as doctor_main

    return int(doctor_main())
