"""``Sandbox``: identification in worker processes that a hostile file can
kill, hang or bloat without touching the caller.

libmagic parses untrusted bytes in C.  A ``Sandbox`` runs it in worker
processes, each a fresh interpreter (never a fork of the caller) with an
address-space limit (``RLIMIT_AS``) and, on Linux, ``PR_SET_NO_NEW_PRIVS``.
It has ``Pool``'s methods (``identify``, ``submit``, ``map``, ``aidentify``,
``amap``, from ``magicguard._batch``) and gives an in-process ``Cookie``'s
answers; what it adds is what happens when an item goes wrong:

* it runs past ``timeout``: its worker is killed, the item raises
  ``magicguard.TimeoutError``, and a fresh worker takes the slot;
* its worker dies (a signal, an abort, the memory limit): the item raises
  ``WorkerCrashed`` naming the signal or status, and the slot heals;
* no other item is lost or answered twice: a worker holds one item at a
  time, and a worker found dead while idle is replaced before it gets one
  (one killed from outside at the very moment it is handed an item fails
  that item with ``WorkerCrashed``: its death cannot be told apart from a
  death while working on it).

How items reach a worker (``_sandbox_protocol`` has the wire protocol,
``_sandbox_process`` the worker processes):

* data up to ``INLINE_MAX`` bytes goes through the worker's Unix socket;
  larger data is copied once into a shared-memory segment (a sealed
  ``memfd`` on Linux) that the worker maps read-only and reuses;
* descriptors and file objects are passed as descriptors (``SCM_RIGHTS``):
  the worker reads the caller's open file itself, nothing is copied;
* paths are passed as names (with the caller's working directory as a
  descriptor when relative), so links, devices and permissions are judged
  exactly as ``Cookie.file`` judges them.

Replies are parsed as plain bytes and JSON, never unpickled: a compromised
worker can fail its item, not run code in the caller.
"""

from __future__ import annotations

import functools
import os
import pickle
import stat
import threading
import weakref
from typing import Any, Mapping, Optional, Union

from . import _sandbox_protocol as proto
from ._batch import BatchIdentifier, Future, Item, Kind, cancel_queued, join_others, serve
from ._sandbox_process import MIN_SEGMENT, Segment, Slots
from ._validate import (
    align_offset,
    check_database,
    check_descriptor,
    check_flags,
    check_max_size,
    check_params,
    check_workers,
    contiguous,
    default_workers,
    descriptor_of,
    fspath,
    no_descriptor_hint,
    refuse_larger,
)
from .cookie import Database
from .flags import Flags, Param

__all__ = ["INLINE_MAX", "UNTRUSTED_PARAMS", "Sandbox"]

INLINE_MAX = 32 << 10
"""Data up to this many bytes is sent through the socket; larger data goes
through shared memory."""

UNTRUSTED_PARAMS: Mapping[Param, int] = {
    Param.INDIR_MAX: 15,
    Param.NAME_MAX: 50,
    Param.ELF_PHNUM_MAX: 128,
    Param.ELF_SHNUM_MAX: 1024,
    Param.ELF_NOTES_MAX: 64,
    Param.REGEX_MAX: 8192,
    Param.BYTES_MAX: 7 << 20,
    Param.ENCODING_MAX: 65536,
    **({Param.ELF_SHSIZE_MAX: 16 << 20} if Param.ELF_SHSIZE_MAX.supported else {}),
}
"""libmagic params for untrusted input, the ``Sandbox``'s default: each
bounds the work one file can cause.  Pass them as ``params=`` to ``Pool`` or
``Cookie`` too.

Compared with the bundled libmagic 5.47's defaults they lower the recursion
and parser-loop bounds that only a crafted file reaches (indirect offsets 50
-> 15, named-rule uses 150 -> 50, ELF program headers 2048 -> 128, section
headers 32768 -> 1024, notes 256 -> 64, largest ELF section 128 -> 16 MiB)
and pin the others (regex 8 KiB, file head 7 MiB, encoding scan 64 KiB), so
an older or newer system libmagic bounds work alike.  Over 805 real files
(the 205 of the test corpus, 600 ELF programs and libraries of this
machine; bundled 5.47) one answer differs from libmagic's defaults': an ELF
file with more notes than the limit says ``too many notes (64)`` instead of
``(256)``.  ``BYTES_MAX`` stays
at 7 MiB: at 1 MiB, a 1.2 MiB zip archive already reads as ``data`` (its
central directory is at the end).  See docs/choosing.md.
"""

_Work = Optional[tuple["Future[str]", Kind, Item]]


class _Core(Slots):
    """What the worker threads share; holds no reference to the ``Sandbox``,
    so a forgotten Sandbox is collected and its finalizer stops the workers."""

    def __init__(self, size: int, config: bytes, flags: int, timeout: Optional[float],
                 memory_limit: Optional[int], max_size: Optional[int]) -> None:
        import queue

        super().__init__(size, config, flags, timeout, memory_limit, max_size)
        self.queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []

    # -- one item ----------------------------------------------------------------

    def identify(self, slot: int, kind: Kind, item: Item) -> str:
        if kind is Kind.DATA:
            return self._data(slot, item)
        if kind is Kind.PATH:
            return self._path(slot, item)
        return self._descriptor(slot, item)

    def _mapping(self, slot: int, item: Any) -> str:
        """A Mapping: its descriptor goes to the worker, which identifies the
        file from its start as ``Cookie.buffer(mapping)`` does (libmagic reads
        through the descriptor, never the caller's memory); a Mapping with no
        descriptor (anonymous memory) goes as a copy of its bytes."""
        refuse_larger(len(item), self.max_size, "the Mapping", item.path)
        display = item.path if item.path is not None else "a Mapping"
        with item.lend_descriptor() as fd:
            if fd < 0:
                return self._data(slot, item.read())
            before = os.lseek(fd, 0, os.SEEK_CUR)
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                return self.call(slot, proto.OP_DESCRIPTOR, b"", None,
                                  f"identifying {display}", fds=(fd,))
            finally:
                os.lseek(fd, before, os.SEEK_SET)

    def _data(self, slot: int, item: Item) -> str:
        from .mapping import Mapping

        if isinstance(item, Mapping):
            return self._mapping(slot, item)
        flat_source = contiguous(item)
        with memoryview(flat_source) as view, view.cast("B") as flat:
            size = flat.nbytes
            refuse_larger(size, self.max_size, "the buffer")
            if size <= INLINE_MAX:
                return self.call(slot, proto.OP_BUFFER, flat, None, "identifying a buffer")
            segment = self.segments[slot]
            if segment is None or segment.size < size:
                if segment is not None:
                    segment.close()
                    self.segments[slot] = None
                segment = Segment(max(MIN_SEGMENT, 1 << (size - 1).bit_length()))
                self.segments[slot] = segment
            segment.map[:size] = flat
        try:
            return self.call(slot, proto.OP_SHARED, proto.LENGTH.pack(size), segment,
                              f"identifying a {size}-byte buffer")
        finally:
            if segment.size > proto.KEEP_SEGMENT:
                # The worker drops it too (same rule): free the memory now.
                segment.close()
                self.segments[slot] = None
                worker = self.workers[slot]
                if worker is not None:
                    worker.segment = None

    def _path(self, slot: int, item: Item) -> str:
        raw = fspath(item)
        display = os.fsdecode(raw)
        if self.max_size is not None:
            follow = bool(self.flags & Flags.SYMLINK)
            try:
                st = os.stat(raw) if follow else os.lstat(raw)
            except OSError:
                pass  # the worker reports it exactly as Cookie.file does
            else:
                if stat.S_ISREG(st.st_mode):
                    refuse_larger(st.st_size, self.max_size, display, display)
        cwd: Optional[int] = None
        if not os.path.isabs(raw):
            cwd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_CLOEXEC)
        try:
            return self.call(slot, proto.OP_PATH, raw, None, f"identifying {display!r}",
                              fds=() if cwd is None else (cwd,))
        finally:
            if cwd is not None:
                os.close(cwd)

    def _descriptor(self, slot: int, item: Item) -> str:
        try:
            number, fileobj = descriptor_of(item)
        except OSError as exc:
            hint = no_descriptor_hint(item, exc, any_object=True)
            if hint is not None:
                raise hint from None
            raise
        check_descriptor(number, self.max_size)
        try:
            before: Optional[int] = os.lseek(number, 0, os.SEEK_CUR)
        except OSError:
            before = None
        restore = align_offset(fileobj, number)
        try:
            return self.call(slot, proto.OP_DESCRIPTOR, b"", None,
                              f"identifying descriptor {number}", fds=(number,))
        finally:
            # libmagic seeks back itself, unless its worker died mid-read.
            final = restore if restore is not None else before
            if final is not None:
                os.lseek(number, final, os.SEEK_SET)

    # -- threads -------------------------------------------------------------------

    def run(self, slot: int) -> None:
        try:
            serve(self.queue, functools.partial(self.identify, slot))
        finally:
            self.release(slot)

    def shutdown(self, cancel_pending: bool = False) -> None:
        if os.getpid() != self.pid:
            # A fork child: the workers are the parent's; leave them be (the
            # lock may be held by a thread that does not exist here).
            self.closed = True
            return
        with self.lock:
            first = not self.closed
            self.closed = True
            if first:
                if cancel_pending:
                    cancel_queued(self.queue)
                for _ in self.threads:
                    self.queue.put(None)
            threads = list(self.threads)
        join_others(threads)
        if not threads:
            for slot in range(self.size):
                self.release(slot)


class Sandbox(BatchIdentifier):
    """Identify in worker processes: a bad file costs its own answer, never
    the caller.

    Args:
        workers: how many worker processes; None: the CPUs this process may
            use (as ``Pool``).
        flags, database: as for ``Cookie``; every worker's Cookie is built
            from them.
        params: as for ``Cookie``; None means ``UNTRUSTED_PARAMS`` (pass
            ``{}`` for libmagic's own defaults).
        timeout: seconds one item may take in its worker (None: no limit).
            Past it the worker is killed, the item raises
            ``magicguard.TimeoutError`` and a fresh worker takes its place.
        memory_limit: each worker's address-space limit in bytes
            (``RLIMIT_AS``; None: none).  A worker that runs out of memory
            under it is replaced and its item raises ``WorkerCrashed``
            (``reason == "memory"``).  The worker maps data items larger
            than ``INLINE_MAX``, so data must fit in it with the interpreter
            (~40 MiB) to spare.
        max_size: refuse inputs larger than this many bytes with
            ``LimitError``, in the caller, before any is read or sent.

    Raises:
        TypeError, ValueError: a bad argument (named in the message).
        DatabaseError: the database could not be loaded (by the first worker).
        WorkerCrashed: a worker could not be started.

    Items, ``map``'s ordering and error modes are ``Pool``'s (see
    ``magicguard._batch``).  Each item may raise, besides what the matching
    ``Cookie`` method raises: ``TimeoutError``, ``WorkerCrashed``,
    ``LimitError``.

    >>> with Sandbox(1, timeout=5) as sandbox:
    ...     sandbox.identify(b"%PDF-1.7\\n")
    'PDF document, version 1.7'

    A Sandbox is a context manager; ``close()`` stops its workers.  A Sandbox
    that is garbage-collected unclosed stops them too.  Pickling it pickles
    its configuration, never a process.

    A Sandbox inherited by a child of ``os.fork()`` raises ``RuntimeError``
    on first use there (its worker processes and threads belong to the
    parent, whose Sandbox keeps working); ``close()`` in the child only marks
    it closed.  Create a new Sandbox in the child.
    """

    def __init__(
        self,
        workers: Optional[int] = None,
        flags: Union[Flags, int] = Flags.NONE,
        database: Database = None,
        params: Optional[Mapping[Param, int]] = None,
        timeout: Optional[float] = 10.0,
        memory_limit: Optional[int] = 512 << 20,
        max_size: Optional[int] = None,
    ) -> None:
        check_workers(workers)
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, "
                                f"not {type(timeout).__name__}")
            if not timeout > 0 or timeout != timeout or timeout == float("inf"):  # noqa: PLR0124 - NaN is the one value unequal to itself
                raise ValueError(f"timeout must be a positive, finite number of seconds, "
                                 f"got {timeout!r}")
        if memory_limit is not None:
            if isinstance(memory_limit, bool) or not isinstance(memory_limit, int):
                raise TypeError(f"memory_limit must be an int (bytes) or None, "
                                f"not {type(memory_limit).__name__}")
            if memory_limit < 16 << 20:
                raise ValueError(f"memory_limit must be at least 16 MiB (an interpreter "
                                 f"needs that much to start), got {memory_limit}")
        checked_max = check_max_size(max_size)
        flags_value = check_flags(flags)
        checked_params = check_params(UNTRUSTED_PARAMS if params is None else params)
        db = check_database(database)
        kind, items = db
        config_db: Database
        if kind == "default":
            config_db = None
        elif kind == "paths":
            # Absolute, so a worker started after the caller's chdir finds them.
            cwd = os.fsencode(os.getcwd())
            config_db = [os.fsdecode(p if os.path.isabs(p) else os.path.join(cwd, p)) for p in items]
        else:
            config_db = list(items)
        self._args = (workers, flags_value, config_db, dict(checked_params), timeout,
                      memory_limit, checked_max)
        size = default_workers() if workers is None else workers
        config = pickle.dumps((flags_value, config_db, dict(checked_params), memory_limit))
        core = _Core(size, config, flags_value, None if timeout is None else float(timeout),
                     memory_limit, checked_max)
        self._core = core
        self._finalizer = weakref.finalize(self, core.shutdown)
        try:
            for slot in range(size):
                core.spawn(slot)
            for slot in range(size):
                core.ready_worker(slot)
        except BaseException:
            self._finalizer()
            raise
        for slot in range(size):
            thread = threading.Thread(target=core.run, args=(slot,), daemon=True,
                                      name=f"magicguard-sandbox-{slot}")
            thread.start()
            core.threads.append(thread)

    # -- BatchIdentifier ------------------------------------------------------------

    @property
    def workers(self) -> int:
        """The number of worker processes."""
        return self._core.size

    @property
    def closed(self) -> bool:
        """True once ``close()`` has begun."""
        return self._core.closed

    @property
    def pids(self) -> list[int]:
        """The process ids of the current workers (for monitoring)."""
        with self._core.lock:
            return [w.pid for w in self._core.workers if w is not None]

    @property
    def replaced(self) -> int:
        """How many workers were started to replace a dead or killed one."""
        return self._core.replaced

    @property
    def timeout(self) -> Optional[float]:
        """Seconds an item may take (None: no limit)."""
        return self._core.timeout

    @property
    def memory_limit(self) -> Optional[int]:
        """Each worker's address-space limit in bytes (None: none)."""
        return self._core.memory_limit

    @property
    def max_size(self) -> Optional[int]:
        """The largest input accepted, in bytes (None: no limit)."""
        return self._core.max_size

    @property
    def params(self) -> dict[Param, int]:
        """The libmagic params every worker's Cookie was given."""
        return dict(self._args[3])

    def _start(self, kind: Kind, item: Item) -> Future[str]:
        fut: Future[str] = Future()
        core = self._core
        core.check_process()
        with core.lock:
            if core.closed:
                raise RuntimeError("cannot identify with a closed Sandbox")
            core.queue.put((fut, kind, item))
        return fut

    # -- lifecycle --------------------------------------------------------------------

    def close(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting items, answer those submitted, then stop every worker.

        With ``cancel_pending=True`` items not yet started are cancelled
        instead.  Each worker is asked to leave and reaped (killed if it
        lingers); its shared memory is freed.  Idempotent.
        """
        self._core.shutdown(cancel_pending)
        self._finalizer.detach()

    def __enter__(self) -> Sandbox:
        super().__enter__()
        return self

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (f"<magicguard.Sandbox {state} workers={self.workers} "
                f"timeout={self.timeout} memory_limit={self.memory_limit}>")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the configuration, never processes."""
        return (Sandbox, self._args)
