"""Where the command line gets its answers: walking, workers, order (internal).

Every answer comes from libmagic asked the way file(1) asks it: by path
through ``magic_file`` (libmagic opens the file, ``stat``s it and reads it with
``read()``), or through ``magic_file(NULL)`` for ``-`` (standard input).  No
mapping, no buffer: those can disagree with file(1).

``identify_all`` keeps at most a few items per worker in flight, so a walk of
hundreds of thousands of files holds one directory listing per level and a
small window of results, and results come out in input order whatever order
the workers finish in.
"""

from __future__ import annotations

import collections
import os
import stat
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, ContextManager, Deque, Iterable, Iterator, Optional, Union

from . import _lowlevel
from .cli_output import Result
from .errors import MagicError

__all__ = ["Settings", "WalkError", "Worker", "identify_all", "walk"]


@dataclass(frozen=True)
class Settings:
    """What every handle of one run is opened and loaded with.

    ``flags`` and ``database`` are fixed when the first handle loads (as in
    file(1), where options given after the first ``-f`` no longer change the
    loaded database); ``params`` may differ between batches.
    """

    flags: int
    database: Optional[bytes]
    params: tuple[tuple[int, int], ...] = ()
    mime_flags: Optional[int] = None
    """For --json: the flags of the second query, for MIME type and encoding."""


@dataclass(frozen=True)
class WalkError:
    """A directory -R could not list; reported as that name's error."""

    name: bytes
    reason: bytes


Item = Union[bytes, WalkError]


class Worker:
    """One libmagic handle and the code that asks it about one name."""

    def __init__(self, settings: Settings, handle: Optional[_lowlevel.Handle] = None) -> None:
        if handle is None:
            handle = _lowlevel.Handle(settings.flags)
            handle.load(settings.database, None)
        self.handle = handle
        self._params: tuple[tuple[int, int], ...] = ()
        self._settings = settings

    def apply(self, settings: Settings) -> None:
        """Set the batch's params (cheap: only when they changed)."""
        self._settings = settings
        if settings.params != self._params:
            for tag, value in settings.params:
                self.handle.setparam(tag, value)
            self._params = settings.params

    def _ask(self, name: bytes) -> tuple[Optional[bytes], Optional[bytes]]:
        try:
            if name == b"-":
                return self.handle.stdin(), None
            return self.handle.file(name, ""), None
        except MagicError:
            error = self.handle.error()
            return None, (b"(null)" if error is None else error.encode("utf-8", "surrogateescape"))

    def identify(self, item: Item) -> Result:
        """libmagic's answer for ``item`` (plus the MIME answer for --json)."""
        if isinstance(item, WalkError):
            return Result(item.name, error=item.reason)
        settings = self._settings
        if settings.mime_flags is None:
            text, error = self._ask(item)
            return Result(item, text, error)
        self.handle.setflags(settings.flags)
        text, error = self._ask(item)
        if error is not None:
            return Result(item, None, error)
        self.handle.setflags(settings.mime_flags)
        mime, error = self._ask(item)
        return Result(item, text, error, mime)


ScanDir = Callable[[bytes], ContextManager[Iterator["os.DirEntry[bytes]"]]]


def walk(
    names: Iterable[bytes],
    follow_links: bool,
    scandir: Optional[ScanDir] = None,
) -> Iterator[Item]:
    """Expand directories among ``names`` into the files below them.

    Depth first, entries sorted by their bytes, directories themselves not
    yielded.  A symbolic link to a directory is followed only with
    ``follow_links`` (-L), and then never into a directory already on the
    current path, so link loops end.  A directory that cannot be listed is
    yielded as a :class:`WalkError`.  Memory: one sorted listing per level.
    """
    for name in names:
        try:
            st = os.stat(name) if follow_links else os.lstat(name)
        except (OSError, ValueError):
            yield name
            continue
        if not stat.S_ISDIR(st.st_mode) or name == b"-":
            yield name
            continue
        yield from _walk_dir(name, (st.st_dev, st.st_ino), follow_links, scandir or os.scandir, set())


def _walk_dir(
    top: bytes,
    ident: tuple[int, int],
    follow_links: bool,
    scandir: ScanDir,
    ancestors: set[tuple[int, int]],
) -> Iterator[Item]:
    try:
        with scandir(top) as it:
            entries = sorted(((e.name, e) for e in it), key=lambda pair: pair[0])
    except OSError as exc:
        reason = f"cannot read directory `{os.fsdecode(top)}' ({os.strerror(exc.errno or 0)})"
        yield WalkError(top, reason.encode("utf-8", "surrogateescape"))
        return
    ancestors.add(ident)
    try:
        for _, entry in entries:
            path = os.path.join(top, entry.name)
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_links)
            except OSError:
                is_dir = False
            if not is_dir:
                yield path
                continue
            try:
                st = entry.stat(follow_symlinks=follow_links)
            except OSError:
                yield path
                continue
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                # A link back up the tree: report the link, don't loop.
                yield path
                continue
            yield from _walk_dir(path, key, follow_links, scandir, ancestors)
    finally:
        ancestors.discard(ident)


class _PerThread(threading.local):
    worker: Optional[Worker] = None


def identify_all(
    items: Iterable[tuple[Settings, Item]],
    jobs: int,
    first: Worker,
) -> Iterator[Result]:
    """Answers for ``items`` in their order, computed by ``jobs`` threads.

    ``first`` (already loaded by the caller, so a bad database is reported
    before any work) answers everything when ``jobs`` is 1; otherwise each
    thread opens and loads a handle of its own on first use, since a libmagic
    handle must not be shared between threads.  cffi releases the GIL inside
    libmagic, so the threads run in parallel.
    """
    if jobs <= 1:
        for settings, item in items:
            first.apply(settings)
            yield first.identify(item)
        return
    local = _PerThread()
    spare = [first]
    spare_lock = threading.Lock()

    def run(batch: list[tuple[Settings, Item]]) -> list[Result]:
        worker = local.worker
        if worker is None:
            with spare_lock:
                reuse = spare.pop() if spare else None
            worker = reuse or Worker(batch[0][0])
            local.worker = worker
        out = []
        for settings, item in batch:
            worker.apply(settings)
            out.append(worker.identify(item))
        return out

    # Small batches amortise the executor's per-task cost; a bounded window
    # of them keeps memory flat and the output in order.
    batch_size = 8
    window = jobs * 4
    pending: Deque[Future[list[Result]]] = collections.deque()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="magicguard") as pool:
        try:
            batch: list[tuple[Settings, Item]] = []
            for pair in items:
                batch.append(pair)
                if len(batch) >= batch_size:
                    pending.append(pool.submit(run, batch))
                    batch = []
                    while len(pending) >= window:
                        yield from pending.popleft().result()
            if batch:
                pending.append(pool.submit(run, batch))
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
