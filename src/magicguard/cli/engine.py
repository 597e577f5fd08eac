"""Where the command line gets its answers: workers, their handles, order (internal).

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

import _thread
import os
import stat

from .. import _lowlevel
from ..errors import MagicError
from .constants import Flags, Param
from .output import Result
from .record import Record
from .walk import WalkError

try:  # the C class itself: queue.py would import heapq and more at start-up
    from _queue import SimpleQueue
except ImportError:  # pragma: no cover - not CPython
    from queue import SimpleQueue

# The C modules under signal and collections, and _thread rather than
# threading: their Python wrappers (signal's enums, threading's Thread and
# Event) cost ~8M instructions of a one-file run, a fifth of its budget.
TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:  # typeshed describes the modules that wrap the C ones
    import signal as _signal
    from collections import deque
    from typing import Callable, Iterable, Iterator, Optional, TypeVar

    from .walk import Item

    _T = TypeVar("_T")
else:
    import _signal
    from _collections import deque

__all__ = ["Settings", "Worker", "identify_all", "off_main_thread", "open_handle", "running_threads"]



class Settings(Record):
    """What every handle of one run is opened and loaded with.

    ``database`` is ``-m``'s list, or None for the default, which
    :func:`open_handle` resolves as file(1) does (``$MAGIC``, else ours).

    ``flags`` and ``database`` are fixed when the first handle loads (as in
    file(1), where options given after the first ``-f`` no longer change the
    loaded database); ``params`` may differ between batches.
    """

    __slots__ = ("database", "flags", "lenient_flags", "mime_flags", "params")
    flags: int
    database: Optional[bytes]
    params: tuple[tuple[int, int], ...]
    mime_flags: Optional[int]
    """For --json: the flags of the second query, for MIME type and encoding."""
    lenient_flags: Optional[int]
    """For --json without -E: the flags to ask again with when a symbolic
    link turns out to be dangling, so that it is described as file(1)
    describes it in text mode (``broken symbolic link to ...``)."""

    def __init__(self, flags: int, database: Optional[bytes], params: tuple[tuple[int, int], ...] = (),
                 mime_flags: Optional[int] = None, lenient_flags: Optional[int] = None) -> None:
        self.flags = flags
        self.database = database
        self.params = params
        self.mime_flags = mime_flags
        self.lenient_flags = lenient_flags


def open_handle(settings: Settings) -> _lowlevel.Handle:
    """A handle loaded as ``settings`` say, through the library's one opener
    (``_lowlevel.open_handle``), with file(1)'s default: ``$MAGIC`` when set."""
    return _lowlevel.open_handle(settings.flags, settings.database, environ=True)


class Worker:
    """One libmagic handle and the code that asks it about one name."""

    def __init__(self, settings: Settings, handle: Optional[_lowlevel.Handle] = None) -> None:
        if handle is None:
            handle = open_handle(settings)
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

    def _ask_with(self, flags: int, name: bytes) -> tuple[Optional[bytes], Optional[bytes]]:
        self.handle.setflags(flags)
        return self._ask(name)

    def identify(self, item: Item) -> Result:
        """libmagic's answer for ``item`` (plus the MIME answer for --json)."""
        if isinstance(item, WalkError):
            return Result(item.name, error=item.reason)
        settings = self._settings
        if settings.mime_flags is None:
            text, error = self._ask(item)
            return Result(item, text, error)
        if item == b"-":
            return self._identify_stdin(settings)
        flags, mime_flags = settings.flags, settings.mime_flags
        text, error = self._ask_with(flags, item)
        if error is not None and settings.lenient_flags is not None and _is_link(item):
            # A dangling link: file(1) without -E describes it.
            flags = settings.lenient_flags
            mime_flags = (flags & ~int(Flags.NODESC)) | int(Flags.MIME)
            text, error = self._ask_with(flags, item)
        if error is not None:
            return Result(item, None, error)
        assert text is not None
        if text.endswith(b"no read permission"):
            reason = _unreadable(item)
            if reason is not None:
                return Result(item, None, reason)
        mime, error = self._ask_with(mime_flags, item)
        return Result(item, text, error, mime)

    def _identify_stdin(self, settings: Settings) -> Result:
        """--json for ``-``: both queries see the same bytes, read once.

        A regular file on standard input is read twice from the same offset.
        Anything else (a pipe, a terminal, a socket) is read once here as
        libmagic would read it (up to the ``bytes`` limit), and each query
        gets those bytes on a fresh pipe made standard input, so libmagic
        reads them exactly as it reads a pipe.
        """
        assert settings.mime_flags is not None
        try:
            regular = stat.S_ISREG(os.fstat(0).st_mode)
            start = os.lseek(0, 0, os.SEEK_CUR) if regular else -1
        except OSError:
            regular, start = False, -1
        answers: list[tuple[Optional[bytes], Optional[bytes]]] = []
        if regular:
            for flags in (settings.flags, settings.mime_flags):
                os.lseek(0, start, os.SEEK_SET)
                answers.append(self._ask_with(flags, b"-"))
        else:
            data = _read_stdin(self.handle.getparam(int(Param.BYTES_MAX)))
            for flags in (settings.flags, settings.mime_flags):
                self.handle.setflags(flags)
                answers.append(_on_stdin_pipe(data, lambda: self._ask(b"-")))
        (text, error), (mime, mime_error) = answers
        if error is not None:
            return Result(b"-", None, error)
        return Result(b"-", text, mime_error, mime)


def _is_link(name: bytes) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name).st_mode)
    except (OSError, ValueError):
        return False


def _unreadable(name: bytes) -> Optional[bytes]:
    """Why ``name`` cannot be opened for reading, or None if it can.

    libmagic describes a file it may not open as ``... no read permission``
    (without an error, even with MAGIC_ERROR); --json reports it as an error.
    Called only for such a description, so the extra open is rare; a FIFO
    or device is never opened (O_NONBLOCK, and libmagic opens those only
    with -s anyway).
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        reason = f"cannot open `{os.fsdecode(name)}' ({os.strerror(exc.errno or 0)})"
        return reason.encode("utf-8", "surrogateescape")
    os.close(fd)
    return None


def _read_stdin(limit: int) -> bytes:
    """Up to ``limit`` bytes of standard input: until end of file or the limit,
    as libmagic reads standard input when it is a pipe."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        try:
            chunk = os.read(0, min(limit - total, 1 << 20))
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _on_stdin_pipe(data: bytes, ask: Callable[[], tuple[Optional[bytes], Optional[bytes]]]
                   ) -> tuple[Optional[bytes], Optional[bytes]]:
    """Run ``ask`` with standard input replaced by a pipe that yields ``data``."""
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)

    def feed() -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
        except OSError:
            pass  # the reader stopped early: nothing more is needed
        finally:
            os.close(write_end)

    import threading  # only for `-` with --json (see _start)

    feeder = threading.Thread(target=feed, name="magicguard-stdin", daemon=True)
    feeder.start()
    try:
        return ask()
    finally:
        # libmagic read to end of file or to the limit (= len(data)); if it
        # stopped earlier, closing our end lets the feeder see EPIPE and end.
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        feeder.join()


class _Done:
    """A one-shot event: :meth:`set` once by a worker, :meth:`wait` by the
    main thread -- a lock born held, released when done.

    ``threading.Event`` is the same lock under a Condition; waiting here is
    interrupted by Ctrl-C the same way (a lock acquire is, on POSIX, and
    KeyboardInterrupt is raised in the waiting main thread).
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self) -> None:
        self._lock.acquire()
        self._lock.release()  # a second wait() returns at once too


class _Slot:
    """One batch's answers, filled by a worker thread, read in input order."""

    __slots__ = ("done", "failure", "results")

    def __init__(self) -> None:
        self.done = _Done()
        self.results: list[Result] = []
        self.failure: Optional[BaseException] = None


# Worker threads (started by _start) not yet ended: after Ctrl-C the command
# leaves at once when one is left, rather than wait for it inside libmagic.
# A list, so that append/pop are atomic under the GIL without a lock.
_running: list[None] = []


def running_threads() -> int:
    """How many of this module's worker threads have not ended."""
    return len(_running)


if TYPE_CHECKING:
    _Task = Optional[tuple[_Slot, list[tuple[Settings, Item]]]]


def _start(run: Callable[[], None]) -> None:
    """Run ``run()`` on a new thread with SIGINT blocked in it (the mask is
    inherited), counted in :func:`running_threads` until it returns.

    The kernel then delivers Ctrl-C to the main thread, whose wait it
    interrupts at once, whatever the workers are doing inside libmagic.
    A SIGINT arriving while it is blocked here stays pending and is
    delivered to the main thread when the mask is restored.  The thread is
    a bare ``_thread`` one: like a daemon thread, the interpreter does not
    wait for it at exit.
    """

    def counted() -> None:
        try:
            run()
        finally:
            _running.pop()

    _running.append(None)
    if not hasattr(_signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        _thread.start_new_thread(counted, ())
        return
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
    try:
        _thread.start_new_thread(counted, ())
    except BaseException:
        _running.pop()
        raise
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old)


def off_main_thread(call: Callable[[], _T]) -> _T:
    """``call()`` run on a worker thread (SIGINT blocked) while this thread
    waits: its result, or its exception re-raised here.

    For libmagic's long calls outside identification (loading a large magic
    source, ``-c``, ``-C``, ``-l``), so Ctrl-C interrupts the wait at once.
    """
    outcome: list[tuple[bool, object]] = []
    done = _Done()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome.append((False, exc))
        finally:
            done.set()

    _start(run)
    done.wait()
    ok, value = outcome[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]


def identify_all(
    items: Iterable[tuple[Settings, Item]],
    jobs: int,
    first: Worker,
    batch_size: int = 8,
) -> Iterator[Result]:
    """Answers for ``items`` in their order, computed by ``jobs`` threads.

    libmagic always runs on worker threads (daemon threads with SIGINT
    blocked), never on the calling thread, so the caller stays free to take
    Ctrl-C at once even while libmagic is stuck in a slow rule; a worker
    still inside libmagic then does not hold the process up.

    ``first`` (already loaded by the caller, so a bad database is reported
    before any work) serves one thread; every other thread opens and loads a
    handle of its own on first use, since a libmagic handle must not be
    shared between threads.  cffi releases the GIL inside libmagic, so the
    threads run in parallel.  Items go out in batches of ``batch_size``
    (amortising the hand-over), at most ``4 * jobs`` batches ahead of the
    output, so memory stays flat.
    """
    jobs = max(1, jobs)
    tasks: SimpleQueue[_Task] = SimpleQueue()
    spare = [first]
    spare_lock = _thread.allocate_lock()

    def work() -> None:
        worker: Optional[Worker] = None
        while True:
            task = tasks.get()
            if task is None:
                return
            slot, batch = task
            try:
                if worker is None:
                    with spare_lock:
                        reuse = spare.pop() if spare else None
                    worker = reuse or Worker(batch[0][0])
                for settings, item in batch:
                    worker.apply(settings)
                    slot.results.append(worker.identify(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                slot.failure = exc
            finally:
                slot.done.set()

    threads = 0
    pending: deque[_Slot] = deque()
    window = jobs * 4

    def submit(batch: list[tuple[Settings, Item]]) -> None:
        nonlocal threads
        if threads < jobs and threads < len(pending) + 1:
            _start(work)
            threads += 1
        slot = _Slot()
        pending.append(slot)
        tasks.put((slot, batch))

    def collect() -> list[Result]:
        slot = pending.popleft()
        slot.done.wait()
        if slot.failure is not None:
            raise slot.failure
        return slot.results

    try:
        batch: list[tuple[Settings, Item]] = []
        for pair in items:
            batch.append(pair)
            if len(batch) >= batch_size:
                submit(batch)
                batch = []
                while len(pending) >= window:
                    yield from collect()
        if batch:
            submit(batch)
        while pending:
            yield from collect()
    finally:
        # Idle workers end; one still busy (an interrupted run) is a
        # daemon thread and ends with the process.
        for _ in range(threads):
            tasks.put(None)
