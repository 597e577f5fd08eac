"""magicguard.Pool and the shared batch front (magicguard._batch).

Ordering and concurrency are made deterministic with a pipe: identifying the
read end of a pipe blocks a worker (``magic_descriptor`` reads until EOF)
until the test writes to it, so the test decides when that item finishes.
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import gc
import io
import mmap
import os
import pickle
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Iterator

import pytest

import magicguard
from conftest import file_brief_many, run_python
from magicguard import Flags, Kind, Param, Pool, Result
from magicguard._batch import classify

PDF = [b"%%PDF-1.%d\n" % i for i in range(10)]
PDF_ANSWERS = [f"PDF document, version 1.{i}" for i in range(10)]


class BlockingItem:
    """A pipe whose read end is an item that finishes when ``release()`` is called."""

    def __init__(self, payload: bytes = b"%PDF-1.9\n") -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.payload = payload
        self.lock = threading.Lock()  # release() may race between a Timer and teardown

    def release(self) -> None:
        with self.lock:
            fd, self.write_fd = self.write_fd, -1
            if fd >= 0:
                os.write(fd, self.payload)
                os.close(fd)

    def close(self) -> None:
        self.release()
        os.close(self.read_fd)


@pytest.fixture
def blocker() -> Iterator[BlockingItem]:
    item = BlockingItem()
    yield item
    item.close()


@pytest.fixture
def pool2() -> Iterator[Pool]:
    with Pool(2) as pool:
        yield pool


# -- the item rule ------------------------------------------------------------


def test_classify_rule(tmp_path: Path) -> None:
    """str/PathLike are paths, int and file objects descriptors, every buffer
    (bytes included) data; data wins over fileno()."""
    numpy = pytest.importorskip("numpy")
    (tmp_path / "f").write_bytes(b"x")
    with open(tmp_path / "f", "rb") as f, mmap.mmap(-1, 16) as m:
        assert classify("/etc/passwd") is Kind.PATH
        assert classify(tmp_path / "f") is Kind.PATH
        assert classify(3) is Kind.DESCRIPTOR
        assert classify(f) is Kind.DESCRIPTOR
        for data in (b"x", bytearray(b"x"), memoryview(b"x"), m, array.array("B", b"x"),
                     numpy.zeros(4, dtype=numpy.uint8)):
            assert classify(data) is Kind.DATA, type(data)

        class BufferWithFileno(bytearray):
            def fileno(self) -> int:
                return 0
        assert classify(BufferWithFileno(b"x")) is Kind.DATA


def test_classify_refuses_what_is_none_of_them() -> None:
    """bool, float, None, str as data, bytes as a descriptor: TypeError naming the type."""
    for bad in (True, 1.5, None, object()):
        with pytest.raises(TypeError, match=type(bad).__name__):
            classify(bad)
    with pytest.raises(TypeError, match="kind='data' takes a bytes-like object, not str"):
        classify("text", "data")
    with pytest.raises(TypeError, match="kind='descriptor' takes an int or a file object, not bytes"):
        classify(b"x", Kind.DESCRIPTOR)
    with pytest.raises(ValueError, match="kind must be one of 'path', 'descriptor', 'data'"):
        classify(b"x", "file")


def test_bytes_are_data_and_a_bytes_path_needs_saying(pool2: Pool) -> None:
    """b'/etc/passwd' is identified as the 11 bytes themselves; kind='path' or
    os.fsdecode() identifies the file of that name."""
    assert pool2.identify(b"/etc/passwd") == "ASCII text, with no line terminators"
    expected = magicguard.Cookie().file("/etc/passwd")
    assert pool2.identify(b"/etc/passwd", kind="path") == expected
    assert pool2.identify(os.fsdecode(b"/etc/passwd")) == expected


def test_undecodable_bytes_path_round_trips(pool2: Pool, tmp_path: Path) -> None:
    """A file name that is not UTF-8 reaches libmagic intact through os.fsdecode."""
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.pdf"
    with open(raw, "wb") as f:
        f.write(PDF[4])
    assert pool2.identify(os.fsdecode(raw)) == PDF_ANSWERS[4]
    assert pool2.identify(raw, kind=Kind.PATH) == PDF_ANSWERS[4]


def test_every_item_kind_gives_cookies_answer(pool2: Pool, tmp_path: Path) -> None:
    """Paths, descriptors, file objects and each kind of buffer give what the
    matching Cookie method gives."""
    numpy = pytest.importorskip("numpy")
    target = tmp_path / "doc.pdf"
    target.write_bytes(PDF[7])
    cookie = magicguard.Cookie()
    with open(target, "rb") as f, open(target, "r+b") as g, mmap.mmap(g.fileno(), 0) as m:
        fd = os.open(target, os.O_RDONLY)
        try:
            items = [str(target), target, fd, f, PDF[7], bytearray(PDF[7]), memoryview(PDF[7]),
                     m, array.array("B", PDF[7]), numpy.frombuffer(PDF[7], dtype=numpy.uint8)]
            assert [pool2.identify(i) for i in items] == [PDF_ANSWERS[7]] * len(items)
            assert cookie.descriptor(fd) == PDF_ANSWERS[7]
        finally:
            os.close(fd)


def test_bytesio_is_refused_with_a_hint(pool2: Pool) -> None:
    """io.BytesIO has fileno() but no descriptor: TypeError pointing to getbuffer()."""
    bio = io.BytesIO(PDF[2])
    with pytest.raises(TypeError, match=r"BytesIO has no descriptor; pass its contents with \.getbuffer\(\)"):
        pool2.identify(bio)
    assert pool2.identify(bio.getbuffer()) == PDF_ANSWERS[2]


def test_submit_refuses_a_bad_item_at_once(pool2: Pool) -> None:
    """submit() raises TypeError for an unclassifiable item before queueing it."""
    with pytest.raises(TypeError, match="not float"):
        pool2.submit(2.5)


# -- answers ------------------------------------------------------------------


def test_map_matches_reference_over_corpus(corpus: list[str], reference_file: str) -> None:
    """Pool(2).map over ~400 real files equals file(1) of the same libmagic,
    file by file, and the data of those files equals Cookie.buffer's answer."""
    with Pool(2) as pool:
        assert list(pool.map(corpus)) == file_brief_many(reference_file, corpus)
        datas = [Path(p).read_bytes() for p in corpus[:120]]
        cookie = magicguard.Cookie()
        assert list(pool.map(datas)) == [cookie.buffer(d) for d in datas]


def test_pool_config_reaches_every_worker() -> None:
    """flags and params are those of every worker's Cookie."""
    with Pool(3, flags=Flags.MIME_TYPE, params={Param.BYTES_MAX: 4096}) as pool:
        assert set(pool.map([PDF[1]] * 30)) == {"application/pdf"}
        assert pool.identify(b"%PDF-1.1\n") == "application/pdf"


def test_bad_configuration_raises_at_construction(tmp_path: Path) -> None:
    """A bad database fails Pool() itself, naming the file; bad workers too."""
    missing = tmp_path / "nope.mgc"
    with pytest.raises(magicguard.DatabaseError, match=r"nope\.mgc"):
        Pool(2, database=missing)
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        Pool(0)
    with pytest.raises(TypeError, match="workers must be an int or None, not str"):
        Pool("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="workers must be an int or None, not bool"):
        Pool(True)


def test_default_workers_follows_affinity() -> None:
    """workers=None is the CPUs this process may use (sched_getaffinity)."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity on this platform")
    out = run_python("import os, magicguard\n"
                     "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
                     "print(magicguard.Pool().workers)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    assert Pool().workers == len(os.sched_getaffinity(0))


# -- concurrency and order ------------------------------------------------------


def test_workers_run_in_parallel(pool2: Pool, blocker: BlockingItem) -> None:
    """With 2 workers, an item finishes while another is still blocked."""
    slow = pool2.submit(blocker.read_fd)
    assert pool2.submit(PDF[3]).result(timeout=30) == PDF_ANSWERS[3]
    assert not slow.done()
    blocker.release()
    assert slow.result(timeout=30) == PDF_ANSWERS[9]


def test_one_worker_runs_items_one_at_a_time(blocker: BlockingItem) -> None:
    """Pool(1): the item behind a blocked one waits for it."""
    with Pool(1) as pool:
        slow = pool.submit(blocker.read_fd)
        fast = pool.submit(PDF[3])
        done, _ = concurrent.futures.wait([fast], timeout=0.3)
        assert not done
        blocker.release()
        assert slow.result(timeout=30) == PDF_ANSWERS[9]
        assert fast.result(timeout=30) == PDF_ANSWERS[3]


def test_map_ordered_yields_input_order(pool2: Pool, blocker: BlockingItem) -> None:
    """The first item finishes last, yet comes out first."""
    timer = threading.Timer(0.3, blocker.release)
    timer.start()
    try:
        got = list(pool2.map([blocker.read_fd, *PDF[:6]]))
    finally:
        timer.cancel()
    assert got == [PDF_ANSWERS[9], *PDF_ANSWERS[:6]]


def test_map_unordered_yields_completion_order(pool2: Pool, blocker: BlockingItem) -> None:
    """ordered=False: the blocked first item comes out after all the others,
    released only once they have all been yielded."""
    got = []
    for result in pool2.map([blocker.read_fd, *PDF[:6]], ordered=False, errors="return"):
        got.append(result)
        if len(got) == 6:
            blocker.release()
    assert {r.position for r in got[:6]} == set(range(1, 7))
    assert got[6].position == 0 and got[6].value == PDF_ANSWERS[9]
    assert all(r.value == PDF_ANSWERS[r.position - 1] for r in got[:6])


# -- per-item errors --------------------------------------------------------------


def test_map_errors_return_keeps_the_batch_going(pool2: Pool, tmp_path: Path) -> None:
    """errors='return': every item gets a Result; failures carry their own
    exception and the rest of the batch is answered."""
    items = [PDF[0], str(tmp_path / "missing"), 4.5, str(tmp_path), PDF[1]]
    results = list(pool2.map(items, errors="return"))
    assert [r.position for r in results] == [0, 1, 2, 3, 4]
    assert [r.item for r in results] == items
    assert results[0] == Result(0, PDF[0], PDF_ANSWERS[0], None) and results[0].ok
    assert isinstance(results[1].error, FileNotFoundError) and "missing" in str(results[1].error)
    assert isinstance(results[2].error, TypeError) and "float" in str(results[2].error)
    assert isinstance(results[3].error, IsADirectoryError)
    assert results[4].unwrap() == PDF_ANSWERS[1]
    with pytest.raises(FileNotFoundError):
        results[1].unwrap()
    position, _item, value, error = results[4]
    assert (position, value, error) == (4, PDF_ANSWERS[1], None)


def test_map_errors_raise_stops_at_the_failed_item(pool2: Pool, tmp_path: Path) -> None:
    """errors='raise' (default): items before the failure are yielded, then
    its exception is raised and the iterator is finished."""
    it = pool2.map([PDF[0], PDF[1], str(tmp_path / "missing"), PDF[2]])
    assert next(it) == PDF_ANSWERS[0]
    assert next(it) == PDF_ANSWERS[1]
    with pytest.raises(FileNotFoundError, match="missing"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_map_argument_errors_raise_at_call(pool2: Pool) -> None:
    with pytest.raises(ValueError, match="errors must be 'raise' or 'return', not 'skip'"):
        pool2.map([], errors="skip")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="in_flight must be at least 1, got 0"):
        pool2.map([], in_flight=0)
    with pytest.raises(TypeError, match="not iterable"):
        pool2.map(5)  # type: ignore[call-overload]


def test_an_input_iterator_error_propagates_after_cleanup(pool2: Pool) -> None:
    """An exception raised by the input iterable reaches the caller unchanged."""
    def items() -> Iterator[bytes]:
        yield PDF[0]
        raise KeyError("input broke")
    it = pool2.map(items())
    with pytest.raises(KeyError, match="input broke"):
        list(it)


# -- backpressure ---------------------------------------------------------------


@pytest.mark.parametrize("ordered", [True, False])
def test_endless_input_is_pulled_only_a_window_ahead(ordered: bool) -> None:
    """An endless generator: never more than in_flight items read and not
    yet yielded, and memory stays flat however far the loop runs."""
    pulled = 0
    size = 256 << 10

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield bytes(size)

    with Pool(2) as pool:
        window = 2 * Pool.IN_FLIGHT_PER_WORKER
        tracemalloc.start()
        try:
            ahead = []
            for taken, _ in enumerate(pool.map(endless(), ordered=ordered), start=1):
                ahead.append(pulled - taken)
                if taken == 200:
                    break
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert max(ahead) <= window - 1
    # 200 items of 256 KiB went through (50 MiB); at most a window of them
    # (plus the one being built) was alive at once.
    assert peak < (window + 4) * size


def test_in_flight_bounds_the_window(pool2: Pool) -> None:
    pulled = []

    def source() -> Iterator[bytes]:
        for i in range(50):
            pulled.append(i)
            yield PDF[i % 10]
    it = pool2.map(source(), in_flight=3)
    next(it)
    assert len(pulled) == 3
    next(it)
    assert len(pulled) == 4
    it.close()


def test_leaving_map_early_leaves_no_item_in_use(pool2: Pool) -> None:
    """After break, no worker still reads an item: every bytearray of the
    batch can be resized (an exported buffer would raise BufferError)."""
    text = bytearray(b"lorem ipsum dolor sit amet, " * 40000)
    items = [bytearray(text) for _ in range(12)]
    for _ in pool2.map(items, in_flight=6):
        break
    for item in items:
        item.extend(b"!")  # BufferError if a worker still held it


# -- shutdown ---------------------------------------------------------------------


def test_close_answers_everything_in_flight() -> None:
    """close() with 200 items queued waits for all of them: none lost."""
    pool = Pool(2)
    futures = [pool.submit(PDF[i % 10]) for i in range(200)]
    pool.close()
    assert [f.result(timeout=0) for f in futures] == [PDF_ANSWERS[i % 10] for i in range(200)]
    assert pool.closed
    with pytest.raises(RuntimeError, match="closed Pool"):
        pool.submit(PDF[0])
    with pytest.raises(RuntimeError, match="closed Pool"):
        list(pool.map([PDF[0]]))
    pool.close()  # idempotent


def test_close_cancel_pending(blocker: BlockingItem) -> None:
    """cancel_pending=True cancels what has not started, finishes what has."""
    pool = Pool(1)
    running = pool.submit(blocker.read_fd)
    queued = [pool.submit(PDF[0]) for _ in range(20)]
    while not running.running():
        time.sleep(0.01)
    threading.Timer(0.2, blocker.release).start()
    pool.close(cancel_pending=True)
    assert running.result(timeout=0) == PDF_ANSWERS[9]
    assert all(f.cancelled() for f in queued)


def test_close_waits_for_a_blocked_item_then_returns(blocker: BlockingItem) -> None:
    """close() neither hangs nor drops the item it waited for; its threads end."""
    pool = Pool(2)
    fut = pool.submit(blocker.read_fd)
    closer = threading.Thread(target=pool.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # still waiting for the blocked item
    blocker.release()
    closer.join(30)
    assert not closer.is_alive()
    assert fut.result(timeout=0) == PDF_ANSWERS[9]
    assert not [t for t in threading.enumerate() if t.name.startswith("magicguard-pool")]


def test_close_from_a_done_callback_does_not_deadlock() -> None:
    pool = Pool(2)
    fut = pool.submit(PDF[0])
    fut.add_done_callback(lambda _f: pool.close())
    assert fut.result(timeout=30) == PDF_ANSWERS[0]
    pool.close()
    assert pool.closed


def test_context_manager_closes() -> None:
    with Pool(2) as pool:
        assert pool.identify(PDF[5]) == PDF_ANSWERS[5]
    assert pool.closed
    with pytest.raises(ValueError, match="Pool is closed"):
        with pool:
            pass


def test_garbage_pool_threads_exit_at_interpreter_exit() -> None:
    """A Pool never closed does not keep the interpreter from exiting."""
    out = run_python("import magicguard\np = magicguard.Pool(2)\nprint(p.identify(b'%PDF-1.3'))",
                     timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PDF document, version 1.3"


# -- asyncio ----------------------------------------------------------------------


def test_aidentify_and_amap() -> None:
    async def main() -> tuple[str, list[str], list[Result]]:
        with Pool(2) as pool:
            one = await pool.aidentify(PDF[1])

            async def agen() -> Iterator[bytes]:  # type: ignore[misc]
                for d in PDF:
                    yield d
            ordered = [d async for d in pool.amap(agen())]
            results = [r async for r in pool.amap([PDF[2], 3.5, PDF[3]], errors="return",
                                                  ordered=False)]
            return one, ordered, results
    one, ordered, results = asyncio.run(main())
    assert one == PDF_ANSWERS[1]
    assert ordered == PDF_ANSWERS
    assert sorted(r.position for r in results) == [0, 1, 2]
    assert {r.position: (r.value, type(r.error)) for r in results} == {
        0: (PDF_ANSWERS[2], type(None)), 1: (None, TypeError), 2: (PDF_ANSWERS[3], type(None))}


def test_amap_errors_raise() -> None:
    async def main() -> list[str]:
        got = []
        with Pool(2) as pool:
            with pytest.raises(FileNotFoundError):  # noqa: PT012 - the items answered before the raise are the point
                async for d in pool.amap([PDF[0], "/nonexistent/x", PDF[1]]):
                    got.append(d)  # noqa: PERF401 - a loop, so the items before the raise are kept
        return got
    assert asyncio.run(main()) == [PDF_ANSWERS[0]]


def test_amap_unordered_is_completion_order(blocker: BlockingItem) -> None:
    async def main() -> list[int]:
        order = []
        with Pool(2) as pool:
            async for r in pool.amap([blocker.read_fd, *PDF[:5]], ordered=False, errors="return"):
                order.append(r.position)
                if len(order) == 5:
                    blocker.release()
        return order
    order = asyncio.run(main())
    assert order[-1] == 0 and sorted(order[:5]) == [1, 2, 3, 4, 5]


def test_event_loop_stays_responsive_during_amap(tmp_path: Path) -> None:
    """While amap identifies slow items (a backtracking regex rule over 80
    a's: ~0.1 s each), a 5 ms ticker on the loop is never late by more than a
    fraction of one item's cost; the same work done on the loop
    (Cookie.buffer in the coroutine) stalls the ticker by a whole item, so
    the measure can tell the two apart.  (The stock database is no longer
    slow enough on any input for this: the tuned engine takes ~3 ms over
    7 MiB of zeros, which took ~0.25 s before.)"""
    slow = tmp_path / "slow.magic"
    slow.write_bytes(b"0\tregex/1024\t(a*)*\\\\1b\tslow rule\n")
    big = [b"a" * 80 + b"xb\n"] * 6
    cookie = magicguard.Cookie(database=slow)
    t0 = time.perf_counter()
    for data in big[:2]:
        cookie.buffer(data)
    per_item = (time.perf_counter() - t0) / 2

    async def measure(work: object) -> float:
        lag = 0.0
        stop = False

        async def ticker() -> None:
            nonlocal lag
            while not stop:
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lag = max(lag, time.perf_counter() - before - 0.005)
        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)
        await work  # type: ignore[misc]
        stop = True
        await task
        return lag

    async def with_amap() -> float:
        with Pool(2, database=slow) as pool:
            async def work() -> None:
                async for _ in pool.amap(big):
                    pass
            return await measure(work())

    async def on_loop() -> float:
        async def work() -> None:
            for data in big[:3]:
                cookie.buffer(data)
                await asyncio.sleep(0)
        return await measure(work())

    blocked = asyncio.run(on_loop())
    responsive = asyncio.run(with_amap())
    assert blocked >= 0.7 * per_item, (blocked, per_item)  # a blocked loop shows
    assert responsive < 0.4 * per_item, (responsive, per_item)


def test_cancelling_aidentify_cancels_a_queued_item(blocker: BlockingItem) -> None:
    async def main() -> None:
        with Pool(1) as pool:
            first = asyncio.ensure_future(pool.aidentify(blocker.read_fd))
            second = asyncio.ensure_future(pool.aidentify(PDF[0]))
            await asyncio.sleep(0.05)
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            blocker.release()
            assert await first == PDF_ANSWERS[9]
    asyncio.run(main())


# -- pickling -----------------------------------------------------------------------


def test_pickle_round_trip_carries_configuration(tmp_path: Path) -> None:
    """A pickled Pool is rebuilt with the same workers, flags, params and database."""
    database = magicguard.default_database_path()
    source = Pool(3, Flags.MIME_TYPE, params={Param.BYTES_MAX: 1 << 16},
                  database=None if database is None else Path(database).read_bytes())
    try:
        clone = pickle.loads(pickle.dumps(source))
    finally:
        source.close()
    with clone:
        assert isinstance(clone, Pool) and clone is not source
        assert clone.workers == 3
        assert clone.identify(PDF[4]) == "application/pdf"
        assert clone._config[0] == Flags.MIME_TYPE
        assert clone._config[2] == {Param.BYTES_MAX: 1 << 16}
    with Pool() as default:
        assert pickle.loads(pickle.dumps(default))._workers_arg is None  # re-resolved where unpickled


def test_pickle_to_another_process() -> None:
    """The pickle holds no C state: a fresh interpreter rebuilds and uses it."""
    blob = pickle.dumps(Pool(2, Flags.MIME_TYPE))
    out = run_python(f"import pickle\np = pickle.loads({blob!r})\n"
                     f"print(p.workers, p.identify(b'%PDF-1.2'))\np.close()")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "application/pdf"]


# -- the module helpers ------------------------------------------------------------


def test_helpers_use_a_cookie_per_thread() -> None:
    """from_buffer in two threads runs on two Cookies (no shared lock), with
    the same answers."""
    from magicguard import _helpers

    seen: list[magicguard.Cookie] = []  # the Cookies themselves: ids could be reused
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        assert magicguard.from_buffer(PDF[6]) == PDF_ANSWERS[6]
        seen.append(_helpers._cookie(False))
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 2 and seen[0] is not seen[1]


def test_pool_threads_and_cookies_are_freed() -> None:
    """After close() every worker Cookie is closed and no pool thread remains."""
    pool = Pool(3)
    list(pool.map(PDF * 5))
    pool.close()
    gc.collect()
    assert not [t for t in threading.enumerate() if t.name.startswith("magicguard-pool")]
    assert len(pool._cookies) == 3
    assert all(cookie.closed for cookie in pool._cookies)


def test_a_dropped_pool_stops_its_threads() -> None:
    """An unclosed Pool that goes out of scope is collected and its worker
    threads end (they do not hold the Pool)."""
    before = {t for t in threading.enumerate() if t.name.startswith("magicguard-pool")}
    pool = Pool(2)
    list(pool.map(PDF))
    threads = [t for t in threading.enumerate()
               if t.name.startswith("magicguard-pool") and t not in before]
    assert threads
    del pool
    gc.collect()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("ordered", [True, False])
def test_amap_pulls_an_endless_async_source_a_window_ahead(ordered: bool) -> None:
    async def main() -> int:
        pulled = 0

        async def endless() -> Iterator[bytes]:  # type: ignore[misc]
            nonlocal pulled
            while True:
                pulled += 1
                yield PDF[pulled % 10]
        ahead = 0
        with Pool(2) as pool:
            taken = 0
            async for _ in pool.amap(endless(), ordered=ordered, in_flight=5):
                taken += 1
                ahead = max(ahead, pulled - taken)
                if taken == 200:
                    break
        return ahead
    assert asyncio.run(main()) <= 4


def test_waiting_from_a_worker_thread_is_refused_not_deadlocked() -> None:
    """identify()/map() from a done callback running on the Pool's own worker
    would wait for itself: RuntimeError instead of a hang; submit() works."""
    caught: list[BaseException] = []
    chained: list[concurrent.futures.Future[str]] = []
    with Pool(1) as pool:
        def callback(_f: concurrent.futures.Future[str]) -> None:
            for call in (lambda: pool.identify(PDF[1]), lambda: next(pool.map([PDF[1]]))):
                try:
                    call()
                except RuntimeError as exc:
                    caught.append(exc)
            chained.append(pool.submit(PDF[2]))
        first = pool.submit(PDF[0])
        first.add_done_callback(callback)
        assert first.result(timeout=30) == PDF_ANSWERS[0]
        deadline = time.monotonic() + 30
        while not chained and time.monotonic() < deadline:
            time.sleep(0.01)
        assert chained[0].result(timeout=30) == PDF_ANSWERS[2]
    assert len(caught) == 2
    assert all("would wait for itself" in str(e) for e in caught)


def test_a_mapping_is_data(pool2: Pool, tmp_path: Path) -> None:
    """magicguard.Mapping (no buffer protocol of its own) is classified as
    data and identified as Cookie.buffer identifies it."""
    import magicguard.mapping as mapping_module
    target = tmp_path / "doc.pdf"
    target.write_bytes(PDF[8])
    with mapping_module.Mapping.open(target) as mapping:
        assert classify(mapping) is Kind.DATA
        assert pool2.identify(mapping) == magicguard.Cookie().buffer(mapping)


def test_max_size_refuses_larger_items_and_the_batch_goes_on(tmp_path: Path) -> None:
    """Pool(max_size=) gives each worker's Cookie the limit: a larger item
    fails alone with LimitError, unread; the limit survives pickling."""
    import pickle

    from magicguard import LimitError

    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with Pool(2, max_size=1024) as pool:
        results = list(pool.map([b"%PDF-1.7\n", b"y" * 4096, str(big), b"GIF89a"], errors="return"))
        assert results[0].value == "PDF document, version 1.7"
        assert isinstance(results[1].error, LimitError) and results[1].error.size == 4096
        assert isinstance(results[2].error, LimitError) and results[2].error.path == str(big)
        assert results[3].ok
        clone = pickle.loads(pickle.dumps(pool))
    with clone:
        with pytest.raises(LimitError):
            clone.identify(b"z" * 2000)
