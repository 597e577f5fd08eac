"""What every batch identifier shares: the item rule, per-item results, and
ordered, bounded, asyncio-friendly ``map``.

``Pool`` (threads, one Cookie each) and ``Sandbox`` (worker processes) differ
only in *where* an item is identified.  Everything else lives here, once:

* ``classify``: the one rule telling a path from a descriptor from data.
* ``identify_with``: how a classified item is handed to a ``Cookie``.
* ``Result``: one item's outcome in ``map(..., errors="return")``.
* ``BatchIdentifier``: an abstract base implementing ``identify``,
  ``submit``, ``map``, ``aidentify`` and ``amap`` on top of a single
  ``_start(kind, item) -> concurrent.futures.Future[str]`` that a subclass
  provides, plus ``workers``, ``closed`` and ``close()``.

The item rule
-------------
Checked in this order (``kind=`` overrides it, see ``Kind``):

1. ``str`` or ``os.PathLike`` -> ``Kind.PATH``: a file name (``Cookie.file``).
2. ``int`` (not ``bool``) -> ``Kind.DESCRIPTOR``: an open descriptor
   (``Cookie.descriptor``); the caller keeps it open until the item is done.
3. anything with the buffer protocol -> ``Kind.DATA``: bytes in memory
   (``Cookie.buffer``, zero-copy): ``bytes``, ``bytearray``, ``memoryview``,
   ``mmap.mmap``, ``array.array``, NumPy arrays, ``magicguard.Mapping``.
   Data wins over ``fileno()``: an object that is both is read in memory.
4. an object with ``fileno()`` -> ``Kind.DESCRIPTOR``: a file object, read
   from its current position (``tell()``), never closed.
5. anything else -> ``TypeError`` naming the type.

``bytes`` is *data*, never a file name -- as in ``Cookie(database=bytes)``,
and because a bytes upload is the common case in a service.  To pass a file
name you hold as bytes, either decode it losslessly with ``os.fsdecode(name)``
(``os.fsencode`` gives the same bytes back, undecodable ones included) or say
``kind="path"`` for the call (or for a whole ``map``).  ``io.BytesIO`` has a
``fileno()`` that fails: pass ``bio.getbuffer()`` instead.

Errors
------
An exception about one item belongs to that item: ``identify`` raises it,
``submit``'s Future holds it (a bad item *type* is refused by ``submit`` at
once, with ``TypeError``; inside ``map``/``amap`` it is that item's
``TypeError``), and ``map``/``amap`` either raise it at that
item's place in the output (``errors="raise"``, the default: the loop ends,
like ``Executor.map``) or yield a ``Result`` carrying it and go on with the
rest of the batch (``errors="return"``).  Problems of the executor itself
(closed, broken) are raised by every method, never attached to an item.
``identify`` and ``map`` refuse (``RuntimeError``) to wait on one of the
executor's own worker threads -- in a Future's done callback, say -- where
they would wait for themselves; ``submit`` is allowed there.

Backpressure
------------
``map`` and ``amap`` pull from the input lazily, only as results are taken:
at most ``in_flight`` items (default ``BatchIdentifier.IN_FLIGHT_PER_WORKER``
per worker) have been read from the input and not yet yielded, whatever the
input's length -- an endless generator is fine.  When the loop is left early
(``break``, an exception, ``aclose()``), items not started are cancelled and
those already running are waited for, so no worker still reads an item of
that loop afterwards.

Length (over ~450 lines): ``map`` and ``amap`` (ordered and unordered,
bounded windows, the asyncio bridge) are one mechanism shared by Pool and
Sandbox; much of the file is their overloads and docstrings.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import concurrent.futures
import enum
import functools
import os
import queue
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Literal,
    NamedTuple,
    Optional,
    Union,
    cast,
    overload,
)

from ._validate import is_buffer, no_descriptor_hint
from .cookie import Cookie

if TYPE_CHECKING:
    from .cookie import Buffer, StrPath
from .mapping import Mapping

__all__ = ["BatchIdentifier", "ErrorMode", "Item", "Kind", "Result", "classify", "identify_with"]

if TYPE_CHECKING:
    from typing import Protocol

    from typing_extensions import Buffer as BytesLike

    class HasFileno(Protocol):
        """A file object: anything with ``fileno()``."""

        def fileno(self) -> int: ...

    Item = Union[str, "os.PathLike[str]", "os.PathLike[bytes]", bytes, int, HasFileno, BytesLike, Mapping]
else:  # the name exists at run time for annotations elsewhere and __all__
    Item = object
"""What the batch methods take: a path (str, bytes or os.PathLike), a
descriptor or file object, bytes-like data, or a Mapping (see ``classify``
for the rule)."""

ErrorMode = Literal["raise", "return"]
"""``map``/``amap``'s ``errors=``: raise an item's exception, or yield a ``Result``."""

Future = concurrent.futures.Future


class Kind(str, enum.Enum):
    """How an item is identified.  Pass one (or its value) as ``kind=`` to
    override ``classify``'s rule, e.g. ``kind="path"`` for a bytes file name."""

    PATH = "path"
    """A file name, identified by ``Cookie.file`` (``magic_file``)."""
    DESCRIPTOR = "descriptor"
    """An int descriptor or a file object, ``Cookie.descriptor`` (``magic_descriptor``)."""
    DATA = "data"
    """Bytes-like data, ``Cookie.buffer`` (``magic_buffer``), zero-copy."""


def _has_buffer(item: object) -> bool:
    # A Mapping has no buffer protocol of its own: Cookie.buffer reads it
    # through the SIGBUS trap.
    return isinstance(item, Mapping) or is_buffer(item)


def _check_kind(kind: Union[Kind, str, None]) -> Optional[Kind]:
    if kind is None or isinstance(kind, Kind):
        return kind
    if isinstance(kind, str):
        try:
            return Kind(kind)
        except ValueError:
            pass
    raise ValueError(f"kind must be one of {', '.join(repr(k.value) for k in Kind)} or None, "
                     f"not {kind!r}")


def classify(item: Item, kind: Union[Kind, str, None] = None) -> Kind:
    """The ``Kind`` of ``item`` by the module's rule, or ``kind`` when given.

    With ``kind`` given, the item must be able to be that kind (a bytes or
    str name for PATH, an int or file object for DESCRIPTOR, a buffer for
    DATA); the value itself is checked where it is used.

    Raises:
        TypeError: ``item`` is none of a path, a descriptor, a file object or
            bytes-like data (or not of the ``kind`` asked for).
        ValueError: ``kind`` is not a ``Kind``.
    """
    forced = _check_kind(kind)
    if isinstance(item, bool):
        raise TypeError("an item must be a path, a descriptor, a file object or bytes-like "
                        "data, not bool")
    if forced is Kind.PATH:
        if isinstance(item, (str, bytes, os.PathLike)):
            return forced
        raise TypeError(f"kind='path' takes str, bytes or os.PathLike, not {type(item).__name__}")
    if forced is Kind.DESCRIPTOR:
        if isinstance(item, int) or hasattr(item, "fileno"):
            return forced
        raise TypeError(f"kind='descriptor' takes an int or a file object, "
                        f"not {type(item).__name__}")
    if forced is Kind.DATA:
        if not isinstance(item, str) and _has_buffer(item):
            return forced
        raise TypeError(f"kind='data' takes a bytes-like object, not {type(item).__name__}")
    if isinstance(item, (str, os.PathLike)):
        return Kind.PATH
    if isinstance(item, int):
        return Kind.DESCRIPTOR
    if _has_buffer(item):
        return Kind.DATA
    if hasattr(item, "fileno"):
        return Kind.DESCRIPTOR
    raise TypeError(f"an item must be a path (str, os.PathLike), a descriptor (int), a file "
                    f"object or bytes-like data, not {type(item).__name__}")


def identify_with(cookie: Cookie, kind: Kind, item: Item) -> str:
    """Identify a classified item with ``cookie`` (any thread, any process)."""
    # classify() checked the item against its kind; the casts say so to mypy.
    if kind is Kind.DATA:
        return cookie.buffer(cast("Buffer", item))
    if kind is Kind.PATH:
        return cookie.file(cast("StrPath", item))
    try:
        return cookie.descriptor(item)
    except OSError as exc:
        # io.BytesIO and friends: fileno() exists but there is no descriptor.
        hint = no_descriptor_hint(item, exc)
        if hint is not None:
            raise hint from None
        raise


class Result(NamedTuple):
    """One item's outcome in ``map(..., errors="return")`` / ``amap``.

    Exactly one of ``value`` and ``error`` is None.  ``position`` is the
    item's index in the input (useful with ``ordered=False``); ``item`` is
    the item itself, as passed.  Unpacks as ``position, item, value, error``.
    """

    position: int
    item: Item
    value: Optional[str]
    error: Optional[BaseException]

    @property
    def ok(self) -> bool:
        """True when the item was identified."""
        return self.error is None

    def unwrap(self) -> str:
        """The description, or raise the item's exception."""
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


_Entry = tuple[int, Item, "Future[str]"]


def _failed(exc: BaseException) -> Future[str]:
    fut: Future[str] = Future()
    fut.set_exception(exc)
    return fut


def _outcome(index: int, item: Item, fut: Future[str]) -> Result:
    try:
        return Result(index, item, fut.result(), None)
    except concurrent.futures.CancelledError as exc:
        return Result(index, item, None, exc)
    except Exception as exc:  # noqa: BLE001 - the item's failure becomes its Result
        return Result(index, item, None, exc)


def _check_errors(errors: object) -> None:
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")


class BatchIdentifier(abc.ABC):
    """The shared front of ``Pool`` and ``Sandbox``.

    A subclass provides ``workers``, ``closed``, ``close()`` and
    ``_start(kind, item)``; this class builds ``identify``, ``submit``,
    ``map``, ``aidentify``, ``amap`` and the context manager on them.
    """

    IN_FLIGHT_PER_WORKER = 4
    """Default bound of ``map``/``amap``: items read and not yet yielded, per worker."""

    # -- what a subclass provides -------------------------------------------

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """How many items can be identified at once."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once ``close()`` has begun."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop accepting items, finish those submitted, free the workers."""

    @abc.abstractmethod
    def _start(self, kind: Kind, item: Item) -> Future[str]:
        """Begin identifying ``item`` (already classified as ``kind``).

        Returns a Future resolved with the description or the item's own
        exception.  Raises only for problems of the executor (``RuntimeError``
        once closed), never for the item: those go into the Future.
        """

    def _check_may_wait(self) -> None:  # noqa: B027 - a hook: executors whose workers may not wait override it
        """Raise RuntimeError if the calling thread must not wait for this
        executor's results (one of its own workers: it would wait for
        itself).  Called by ``identify`` and when ``map`` starts."""

    # -- single items --------------------------------------------------------

    def submit(self, item: Item, *, kind: Union[Kind, str, None] = None) -> Future[str]:
        """Start identifying ``item``; a Future of its description.

        Raises:
            TypeError: ``item`` is not a path, descriptor, file object or data.
            RuntimeError: the executor is closed.
        """
        return self._start(classify(item, kind), item)

    def identify(self, item: Item, *, kind: Union[Kind, str, None] = None) -> str:
        """Identify one item on a worker and wait for the answer.

        Raises what the matching ``Cookie`` method raises for the item
        (``Cookie.file``, ``descriptor`` or ``buffer``), and as ``submit``.
        """
        self._check_may_wait()
        return self.submit(item, kind=kind).result()

    async def aidentify(self, item: Item, *, kind: Union[Kind, str, None] = None) -> str:
        """``identify`` for asyncio: the work runs on the executor's workers,
        the event loop only waits.  Cancelling the await cancels the item if
        it has not started."""
        return await asyncio.wrap_future(self.submit(item, kind=kind))

    # -- batches -------------------------------------------------------------

    def _window(self, in_flight: Optional[int]) -> int:
        if in_flight is None:
            return max(1, self.workers * self.IN_FLIGHT_PER_WORKER)
        if isinstance(in_flight, bool) or not isinstance(in_flight, int):
            raise TypeError(f"in_flight must be an int, not {type(in_flight).__name__}")
        if in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, got {in_flight}")
        return in_flight

    def _start_entry(self, index: int, item: Item, kind: Optional[Kind]) -> _Entry:
        try:
            classified = classify(item, kind)
        except TypeError as exc:
            return (index, item, _failed(exc))
        return (index, item, self._start(classified, item))

    @overload
    def map(self, items: Iterable[Item], *, ordered: bool = ..., errors: Literal["raise"] = ...,
            kind: Union[Kind, str, None] = ..., in_flight: Optional[int] = ...) -> Iterator[str]: ...

    @overload
    def map(self, items: Iterable[Item], *, ordered: bool = ..., errors: Literal["return"],
            kind: Union[Kind, str, None] = ..., in_flight: Optional[int] = ...) -> Iterator[Result]: ...

    def map(self, items: Iterable[Item], *, ordered: bool = True, errors: ErrorMode = "raise",
            kind: Union[Kind, str, None] = None,
            in_flight: Optional[int] = None) -> Union[Iterator[str], Iterator[Result]]:
        """Identify every item of ``items``, lazily, with bounded memory.

        Args:
            items: any iterable, endless ones included; read only as results
                are taken, in the caller's thread.
            ordered: yield in input order (True), or as items finish (False).
            errors: ``"raise"`` yields descriptions and raises a failed item's
                exception at its place, ending the loop; ``"return"`` yields a
                ``Result`` for every item and never raises for one.
            kind: force every item's ``Kind`` (e.g. ``"path"`` for bytes names).
            in_flight: most items read from ``items`` and not yet yielded
                (default: ``IN_FLIGHT_PER_WORKER`` per worker).

        Argument errors are raised here, at the call; the executor's own
        problems (closed) when iteration starts.
        """
        _check_errors(errors)
        forced = _check_kind(kind)
        window = self._window(in_flight)
        iterator = iter(items)
        results = self._ordered(iterator, forced, window) if ordered \
            else self._unordered(iterator, forced, window)
        if errors == "return":
            return results
        return _unwrap(results)

    def _ordered(self, items: Iterator[Item], kind: Optional[Kind], window: int) -> Generator[Result, None, None]:
        self._check_may_wait()
        pending: collections.deque[_Entry] = collections.deque()
        try:
            index = 0
            exhausted = False
            while True:
                while not exhausted and len(pending) < window:
                    try:
                        item = next(items)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append(self._start_entry(index, item, kind))
                    index += 1
                if not pending:
                    return
                entry = pending.popleft()
                yield _outcome(*entry)
                del entry
        finally:
            _abandon(fut for _, _, fut in pending)

    def _unordered(self, items: Iterator[Item], kind: Optional[Kind], window: int) -> Generator[Result, None, None]:
        self._check_may_wait()
        done: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
        running: dict[int, Future[str]] = {}
        try:
            index = 0
            exhausted = False
            while True:
                while not exhausted and len(running) < window:
                    try:
                        item = next(items)
                    except StopIteration:
                        exhausted = True
                        break
                    entry = self._start_entry(index, item, kind)
                    running[index] = entry[2]
                    _put_when_done(entry, done)
                    index += 1
                    del entry, item
                if not running:
                    return
                entry = done.get()
                del running[entry[0]]
                yield _outcome(*entry)
                del entry
        finally:
            _abandon(running.values())

    @overload
    def amap(self, items: Union[Iterable[Item], AsyncIterable[Item]], *, ordered: bool = ...,
             errors: Literal["raise"] = ..., kind: Union[Kind, str, None] = ...,
             in_flight: Optional[int] = ...) -> AsyncIterator[str]: ...

    @overload
    def amap(self, items: Union[Iterable[Item], AsyncIterable[Item]], *, ordered: bool = ...,
             errors: Literal["return"], kind: Union[Kind, str, None] = ...,
             in_flight: Optional[int] = ...) -> AsyncIterator[Result]: ...

    def amap(self, items: Union[Iterable[Item], AsyncIterable[Item]], *, ordered: bool = True,
             errors: ErrorMode = "raise", kind: Union[Kind, str, None] = None,
             in_flight: Optional[int] = None) -> Union[AsyncIterator[str], AsyncIterator[Result]]:
        """``map`` for asyncio: ``async for description in pool.amap(items)``.

        ``items`` may be a plain or an async iterable.  Items are identified
        on the executor's workers; the event loop only submits and awaits, so
        it stays responsive (a plain iterable is read on the loop: keep it
        cheap, or make it async).  Same arguments and error rule as ``map``.
        """
        _check_errors(errors)
        forced = _check_kind(kind)
        window = self._window(in_flight)
        results = self._amap(items, ordered, forced, window)
        if errors == "return":
            return results
        return _unwrap_async(results)

    async def _amap(self, items: Union[Iterable[Item], AsyncIterable[Item]], ordered: bool,
                    kind: Optional[Kind], window: int) -> AsyncGenerator[Result, None]:
        source = _aiter(items)
        loop = asyncio.get_running_loop()
        pending: collections.deque[tuple[_Entry, asyncio.Future[None]]] = collections.deque()
        done: asyncio.Queue[_Entry] = asyncio.Queue()
        running: dict[int, Future[str]] = {}
        try:
            index = 0
            exhausted = False
            while True:
                while not exhausted and len(running) < window:
                    try:
                        item = await source.__anext__()
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    entry = self._start_entry(index, item, kind)
                    running[index] = entry[2]
                    if ordered:
                        pending.append((entry, _signal(loop, entry[2])))
                    else:
                        _on_done(loop, entry[2], functools.partial(_enqueue, done.put_nowait,
                                                                   index, item))
                    index += 1
                    del item, entry
                if not running:
                    return
                if ordered:
                    entry, signal = pending.popleft()
                    await signal
                else:
                    entry = await done.get()
                del running[entry[0]]
                yield _outcome(*entry)
                del entry
        finally:
            futures = list(running.values())
            started = [fut for fut in futures if not fut.cancel()]
            if started:
                await asyncio.wait([_signal(loop, fut) for fut in started])
            await source.aclose()

    # -- context manager -----------------------------------------------------

    def __enter__(self) -> BatchIdentifier:
        if self.closed:
            raise ValueError(f"{type(self).__name__} is closed")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _put_when_done(entry: _Entry, done: queue.SimpleQueue[_Entry]) -> None:
    # The callback must not hold the Future itself: a Future keeps its
    # callbacks, and that cycle would keep every finished item (and its
    # buffer) alive until the cyclic GC runs.
    entry[2].add_done_callback(functools.partial(_enqueue, done.put, entry[0], entry[1]))


def _enqueue(put: Callable[[_Entry], None], index: int, item: Item, fut: Future[str]) -> None:
    put((index, item, fut))


def _abandon(futures: Iterable[Future[str]]) -> None:
    """Cancel what has not started; wait for what has (so no worker still
    reads an item the caller may now reuse)."""
    started = [fut for fut in list(futures) if not fut.cancel()]
    if started:
        concurrent.futures.wait(started)


def _unwrap(results: Generator[Result, None, None]) -> Iterator[str]:
    try:
        for result in results:
            yield result.unwrap()
    finally:
        results.close()


def _on_done(loop: asyncio.AbstractEventLoop, fut: Future[str],
             callback: Callable[[Future[str]], None]) -> None:
    """Run ``callback(fut)`` on ``loop`` once ``fut`` is done (from any thread)."""
    def done(finished: Future[str]) -> None:
        try:
            loop.call_soon_threadsafe(callback, finished)
        except RuntimeError:  # the loop was closed meanwhile: nobody waits any more
            pass
    fut.add_done_callback(done)


def _signal(loop: asyncio.AbstractEventLoop, fut: Future[str]) -> asyncio.Future[None]:
    """An asyncio future on ``loop`` set (to None) when ``fut`` is done.

    Unlike ``asyncio.wrap_future`` it carries no exception, so one the caller
    reads from ``fut`` itself is never reported as "never retrieved".
    """
    signal: asyncio.Future[None] = loop.create_future()

    def fire(_fut: Future[str]) -> None:
        if not signal.done():
            signal.set_result(None)
    _on_done(loop, fut, fire)
    return signal


async def _unwrap_async(results: AsyncGenerator[Result, None]) -> AsyncIterator[str]:
    try:
        async for result in results:
            yield result.unwrap()
    finally:
        await results.aclose()


async def _aiter(items: Union[Iterable[Item], AsyncIterable[Item]]) -> AsyncGenerator[Item, None]:
    if hasattr(items, "__aiter__"):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def cancel_queued(work_queue: queue.SimpleQueue[Any]) -> None:
    """Cancel the future of every item waiting in a worker queue, keeping the
    stop signals (``None``) queued.  The caller holds the lock that guards
    additions to the queue."""
    kept = 0
    while True:
        try:
            work = work_queue.get_nowait()
        except queue.Empty:
            break
        if work is None:
            kept += 1
        else:
            work[0].cancel()
    for _ in range(kept):
        work_queue.put(None)


def join_others(threads: Iterable[threading.Thread]) -> None:
    """Join every thread but the calling one (a worker may close its pool)."""
    current = threading.current_thread()
    for thread in threads:
        if thread is not current:
            thread.join()


def serve(work_queue: queue.SimpleQueue[Any], identify: Callable[[Kind, Item], str],
          after_each: Optional[Callable[[], None]] = None) -> None:
    """A worker thread's loop: answer queued ``(future, kind, item)`` until a
    stop signal (``None``).  A cancelled future is skipped; an exception
    becomes the future's.  Each item is dropped before ``after_each`` runs,
    so the caller may reuse its buffer as soon as its future is done."""
    get = work_queue.get
    while True:
        work = get()
        if work is None:
            return
        fut, kind, item = work
        del work
        if fut.set_running_or_notify_cancel():
            try:
                result = identify(kind, item)
            except BaseException as exc:  # noqa: BLE001 - handed to the Future, which raises it in the caller
                fut.set_exception(exc)
                del exc
            else:
                fut.set_result(result)
        del fut, item
        if after_each is not None:
            after_each()
