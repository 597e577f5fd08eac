"""The progress bar a long run draws on standard error (internal).

Drawn with rich (the ``magicguard[cli]`` extra) when it is installed, only
when standard error is a terminal and standard output is not; never
otherwise.
"""

from __future__ import annotations

import sys

from .output import Result

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Iterator, Optional

__all__ = ["PROGRESS_MIN_INPUTS", "with_progress"]

PROGRESS_MIN_INPUTS = 100
"""Without -R, this many inputs make a run long enough for a progress bar."""


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def with_progress(results: Iterator[Result], total: Optional[int]) -> Iterator[Result]:
    """Draw a rich progress bar on stderr while ``results`` are consumed.

    Only when standard error is a terminal and standard output is not (on a
    terminal the answers themselves show the progress, and a bar would be
    torn by them), and rich is installed (``magicguard[cli]``).
    """
    if not _is_tty(sys.stderr) or _is_tty(sys.stdout):
        yield from results
        return
    try:  # rich comes with the [cli] extra; without it, no bar
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:
        yield from results
        return

    console = Console(file=sys.stderr)
    columns = [SpinnerColumn(), TextColumn("identifying"), BarColumn()]
    columns += [MofNCompleteColumn() if total is not None else TextColumn("{task.completed} files")]
    columns += [TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("identify", total=total)
        done = 0
        for result in results:
            yield result
            done += 1
            if done % 32 == 0:
                progress.update(task, completed=done)
        progress.update(task, completed=done)

