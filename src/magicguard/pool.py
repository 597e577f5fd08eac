"""``Pool``: identify on every core, one Cookie per worker thread.

libmagic is single-threaded per handle, and cffi releases the GIL for every
C call, so N threads each owning a Cookie identify N items at once.  The
batch front (``identify``, ``submit``, ``map``, ``aidentify``, ``amap``), the
item rule and the per-item error design are ``magicguard._batch``'s, shared
with ``Sandbox``.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from typing import Any, Mapping, Optional, Union

from ._batch import BatchIdentifier, Future, Item, Kind, cancel_queued, identify_with, join_others, serve
from ._validate import check_workers, default_workers
from .cookie import Cookie, Database
from .flags import Flags, Param

__all__ = ["Pool", "default_workers"]


_Work = Optional[tuple["Future[str]", Kind, Item]]


class _Current(threading.local):
    """Which Pool (its ``_Workers``) the current thread works for, if any."""

    workers: Optional[_Workers] = None


_current = _Current()


#: Every Pool's state, for the fork child (``_after_fork_in_child``).
_LIVE: weakref.WeakSet[_Workers] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a child of ``fork()``: a Pool restarts its workers on first use.

    The parent's worker threads do not exist in the child, and a lock one of
    them held would stay held.  Each open Pool gets a fresh lock and queue
    and no threads; the Cookies its workers used become spares (their C
    state is re-initialised by the shim's own fork handler).  Items queued
    in the parent are the parent's: they are not carried over.
    """
    for state in list(_LIVE):
        state.lock = threading.Lock()
        state.queue = queue.SimpleQueue()
        state.threads = []
        state.idle = 0
        state.spare = [c for c in state.cookies if not c.closed]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Workers:
    """A Pool's threads and what they share.  Threads reference this, never
    the Pool, so that an unclosed Pool can be garbage-collected."""

    def __init__(self, size: int, first: Cookie) -> None:
        self.size = size
        # The first Cookie's checked configuration: what every worker's
        # Cookie (and an unpickled Pool) is built from.
        self.config: tuple[Any, ...] = first.config_args()
        self.spare: list[Cookie] = [first]
        self.cookies: list[Cookie] = [first]  # every Cookie built, to check they are freed
        self.queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.idle = 0  # items finished and not yet matched by a submission (under lock)
        self.closed = False
        _LIVE.add(self)

    def start(self, kind: Kind, item: Item) -> Future[str]:
        fut: Future[str] = Future()
        with self.lock:
            if self.closed:
                raise RuntimeError("cannot identify with a closed Pool")
            self.queue.put((fut, kind, item))
            # Start a thread only when none is idle (as ThreadPoolExecutor
            # does): a Pool used for one item at a time keeps one Cookie.
            if self.idle:
                self.idle -= 1
            elif len(self.threads) < self.size:
                thread = threading.Thread(target=self.work, daemon=True,
                                          name=f"magicguard-pool-{len(self.threads)}")
                thread.start()
                self.threads.append(thread)
        return fut

    def cookie(self) -> Cookie:
        with self.lock:
            if self.spare:
                return self.spare.pop()
        cookie = Cookie(*self.config)
        with self.lock:
            self.cookies.append(cookie)
        return cookie

    def work(self) -> None:
        _current.workers = self
        cookie: Optional[Cookie] = None
        lock = self.lock

        def identify(kind: Kind, item: Item) -> str:
            nonlocal cookie
            if cookie is None:  # built on the first item, kept for the rest
                cookie = self.cookie()
            return identify_with(cookie, kind, item)

        def idle() -> None:
            with lock:
                self.idle += 1

        try:
            serve(self.queue, identify, idle)
        finally:
            if cookie is not None:
                cookie.close()

    def stop(self, cancel_pending: bool) -> None:
        """Refuse new items and send every thread its stop signal, after the
        queued items (or cancelling them first)."""
        with self.lock:
            first = not self.closed
            self.closed = True
            if first:
                if cancel_pending:
                    cancel_queued(self.queue)
                for _ in self.threads:
                    self.queue.put(None)
            spare, self.spare = self.spare, []
        for cookie in spare:
            cookie.close()

    def join(self) -> None:
        with self.lock:
            threads = list(self.threads)
        join_others(threads)


class Pool(BatchIdentifier):
    """A thread pool in which each worker owns a Cookie, built once and reused.

    Args:
        workers: how many threads (and Cookies); ``None`` means
            ``default_workers()``, the CPUs this process may use.
        flags, database, params, max_size: as for ``Cookie``; every worker's
            Cookie is built from them (``max_size``: larger inputs fail with
            ``LimitError``, unread, and the rest of the batch goes on).  They are checked here, by building the first
            worker's Cookie: a bad database raises ``DatabaseError`` now, not
            on the first item.

    Items and errors follow ``magicguard._batch``: ``str``/``os.PathLike`` are
    file names, ``int`` and file objects descriptors, anything with the
    buffer protocol (``bytes`` included) data; ``kind="path"`` (or
    ``os.fsdecode``) passes a bytes file name.  ``map(errors="return")``
    yields a ``Result`` per item instead of raising.

    >>> with Pool(2) as pool:
    ...     pool.identify(b"%PDF-1.7\\n")
    'PDF document, version 1.7'

    After ``os.fork()`` (``multiprocessing``'s default start method on Linux
    before Python 3.14) a Pool inherited by the child works there: it starts
    fresh worker threads on first use, reusing the Cookies' configuration.

    A Pool is a context manager; see ``close()``.  Pickling it pickles its
    configuration (workers as given, flags, params, database), never a
    thread or a Cookie: unpickling builds a fresh Pool.
    """

    def __init__(
        self,
        workers: Optional[int] = None,
        flags: Union[Flags, int] = Flags.NONE,
        database: Database = None,
        params: Optional[Mapping[Param, int]] = None,
        max_size: Optional[int] = None,
    ) -> None:
        self._workers_arg = check_workers(workers)
        first = Cookie(flags, database, params, max_size=max_size)
        self._state = _Workers(default_workers() if workers is None else workers, first)
        # A Pool dropped without close(): its threads get their stop signal
        # (they hold only the state, never the Pool, so it can be collected).
        self._finalizer = weakref.finalize(self, self._state.stop, False)

    # -- BatchIdentifier ------------------------------------------------------

    @property
    def workers(self) -> int:
        """The number of worker threads (each with its own Cookie)."""
        return self._state.size

    @property
    def closed(self) -> bool:
        """True once ``close()`` has begun."""
        return self._state.closed

    def _start(self, kind: Kind, item: Item) -> Future[str]:
        return self._state.start(kind, item)

    def _check_may_wait(self) -> None:
        if _current.workers is self._state:
            raise RuntimeError("identify()/map() called on one of this Pool's own worker threads "
                               "(a Future's done callback?) would wait for itself; use submit()")

    # -- lifecycle --------------------------------------------------------------

    def close(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting items, then wait until every worker has finished.

        Items already submitted are all answered first (nothing in flight is
        lost); with ``cancel_pending=True`` those not yet started are
        cancelled instead (their Futures raise ``CancelledError``), and only
        the running ones -- at most one per worker -- are waited for.  Each
        worker then frees its Cookie.  Idempotent; safe from a Future's done
        callback (a worker never waits for itself).  Later ``submit``/``map``
        raise ``RuntimeError``.

        A Pool that is garbage-collected unclosed stops its threads the same
        way, without waiting; its threads are daemons, so an unclosed Pool
        never keeps the interpreter from exiting.
        """
        self._state.stop(cancel_pending)
        self._state.join()

    # -- internals (tests look at them) ----------------------------------------

    @property
    def _config(self) -> tuple[Any, ...]:
        return self._state.config

    @property
    def _cookies(self) -> list[Cookie]:
        return self._state.cookies

    def __enter__(self) -> Pool:
        super().__enter__()
        return self

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<magicguard.Pool {state} workers={self.workers} flags={Flags(self._config[0])!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the configuration (workers as given, flags, database,
        params), never threads or C state."""
        return (Pool, (self._workers_arg, *self._config))
