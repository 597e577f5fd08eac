"""Sandbox: a Cookie's answers from worker processes, and real failures --
a worker killed mid-call, a slow input past the timeout, the memory limit hit
by a real allocation -- each costing only its own item, with no process,
descriptor or shared-memory segment left behind.

No mocks: the slow input is a magic database of 2000 case-insensitive
``search`` rules (libmagic compares at every offset) over 256 KiB of text;
the memory limit is hit by libmagic's own ``calloc`` in ``file_encoding``
when ``ENCODING_MAX`` lets it convert 40 MiB of text (8 bytes per byte).
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import gc
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

import magicguard
from conftest import emulator, run_python
from magicguard import Cookie, Flags, Param
from magicguard.errors import LimitError, MagicError, TimeoutError, WorkerCrashed
from magicguard.sandbox import INLINE_MAX, UNTRUSTED_PARAMS, Sandbox

#: 2000 rules, each scanning the whole input byte by byte (``/c`` disables memmem).
SLOW_RULES = 2000
#: Text that takes the slow database about 3 s (1.6 s for 64 KiB) on this machine.
SLOW_INPUT = b"NEEDLE " * ((256 << 10) // 7)


def children() -> set[int]:
    """Live child processes of this process (all threads)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                found.update(int(pid) for pid in f.read().split())
        except FileNotFoundError:
            pass
    return found


def descriptors() -> dict[str, str]:
    """This process's open descriptors and what they point at."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return found


def segments() -> int:
    """Shared-memory segments of the Sandbox open in this process (distinct
    files: a mapping holds its own duplicate descriptor)."""
    inodes = set()
    for fd, target in descriptors().items():
        if "magicguard-sandbox" in target:
            try:
                inodes.add(os.stat(f"/proc/self/fd/{fd}").st_ino)
            except OSError:
                pass
    return len(inodes)


class LeakCheck:
    """Counts processes, descriptors and segments before and after."""

    def __init__(self) -> None:
        gc.collect()
        self.children = children()
        self.fds = set(descriptors())

    def assert_clean(self) -> None:
        gc.collect()
        assert children() - self.children == set(), "worker processes left behind"
        leaked = {fd: target for fd, target in descriptors().items() if fd not in self.fds}
        assert leaked == {}, "descriptors left open"
        assert segments() == 0, "shared memory left open"


@pytest.fixture
def leaks() -> Iterator[LeakCheck]:
    check = LeakCheck()
    yield check
    check.assert_clean()


@pytest.fixture(scope="module")
def slow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A magic source whose rules take seconds over SLOW_INPUT, microseconds over 'hi'."""
    path = tmp_path_factory.mktemp("slowdb") / "slow.magic"
    path.write_text("".join(f"0\tsearch/7000000/c\tneedle{i:05d}xyz\tfound {i}\n"
                            for i in range(SLOW_RULES)))
    return str(path)


def address_space_limit(pid: int) -> tuple[str, str]:
    """The soft and hard ``RLIMIT_AS`` of ``pid`` as the kernel reports them."""
    limits = Path(f"/proc/{pid}/limits").read_text()
    line = next(l for l in limits.splitlines() if l.startswith("Max address space"))
    soft, hard = line.split()[3:5]
    return soft, hard


def limit_unshown_by_emulation(pid: int, limit: int) -> Optional[str]:
    """Why the worker ``pid``'s address-space limit cannot be shown here, or
    None when nothing stops it (the caller then asserts it as usual).

    Exactly one case: the worker is an emulated program run by qemu-user
    (the kernel's ``/proc/PID/exe`` for it is the qemu binary: only the
    process itself is shown its guest executable) and the kernel reports no
    such limit for it.  qemu-user answers a guest's ``setrlimit(RLIMIT_AS)``
    (and ``RLIMIT_DATA``, ``RLIMIT_STACK``) with success without applying
    it, since the limit would fall on the emulator's own allocations
    (linux-user/syscall.c, ``TARGET_NR_setrlimit``): no allocation can hit
    the limit there.  Anywhere else a missing limit is a failure.  (The
    worker runs ``sys.executable``, as ``conftest.emulator()``'s child does.)"""
    exe = emulator()
    applied = address_space_limit(pid) == (str(limit), str(limit))
    if applied or exe is None:
        return None
    return (f"the worker runs under qemu-user emulation ({exe}), which accepts setrlimit(RLIMIT_AS) "
            f"without applying it (the limit would fall on the emulator itself): the kernel shows "
            f"{'/'.join(address_space_limit(pid))} for it, so the memory limit cannot be shown here")


def gone(pid: int) -> bool:
    """True if ``pid`` no longer runs: reaped, or exited and waitable.

    For a child, "waitable" (``waitid`` with ``WNOWAIT``, which leaves it to
    its owner to reap) and not the zombie state of its main thread: under
    qemu-user a worker has host threads of the emulator's own, and its main
    thread shows ``Z`` while they are still exiting, its socket still open
    -- the parent cannot see the death yet."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        pass  # reaped already, or not a child of this process
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


# -- same answers as a Cookie ------------------------------------------------------


def test_paths_data_and_descriptors_match_cookie(corpus: list[str], leaks: LeakCheck) -> None:
    """Every corpus file: Sandbox answers as Cookie.file / buffer / descriptor,
    for data both below INLINE_MAX (socket) and above it (shared memory)."""
    files = corpus[:150]
    with Cookie(params=UNTRUSTED_PARAMS) as cookie, Sandbox(2) as sandbox:
        assert list(sandbox.map(files)) == [cookie.file(p) for p in files]
        blobs = [Path(p).read_bytes() for p in files]
        assert any(len(b) > INLINE_MAX for b in blobs) and any(len(b) <= INLINE_MAX for b in blobs)
        assert list(sandbox.map(blobs)) == [cookie.buffer(b) for b in blobs]
        for p in files[:30]:
            with open(p, "rb") as f:
                f.read(3)
                expected = cookie.descriptor(f)
                assert f.tell() == 3
                assert sandbox.identify(f) == expected
                assert f.tell() == 3, "the file object's position moved"


def test_flags_and_params_reach_the_workers(tmp_path: Path, leaks: LeakCheck) -> None:
    """Flags reach the workers, and params do: BYTES_MAX=4 (libmagic reads 4
    bytes of a file) hides a PDF version exactly as it does in a Cookie."""
    data = b"#!/bin/sh\necho hi\n"
    with Cookie(Flags.MIME_TYPE) as cookie, Sandbox(1, Flags.MIME_TYPE) as sandbox:
        assert sandbox.identify(data) == cookie.buffer(data) == "text/x-shellscript"
        assert sandbox.identify("/bin/ls") == cookie.file("/bin/ls")
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    with Cookie(params={Param.BYTES_MAX: 4}) as cookie, \
            Sandbox(1, params={Param.BYTES_MAX: 4}) as sandbox:
        assert sandbox.identify(pdf) == cookie.file(pdf) != "PDF document, version 1.7"


def test_untrusted_params_are_the_default(leaks: LeakCheck) -> None:
    """Sandbox(params=None) configures its workers with UNTRUSTED_PARAMS;
    params={} leaves libmagic's own defaults (the workers apply what they are
    given: see the BYTES_MAX test above)."""
    with Sandbox(1) as sandbox, Sandbox(1, params={}) as plain:
        assert sandbox.params == dict(UNTRUSTED_PARAMS)
        assert plain.params == {}
        probe = b"%PDF-1.7\n"
        assert sandbox.identify(probe) == plain.identify(probe) == "PDF document, version 1.7"


def test_relative_path_is_resolved_in_callers_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  leaks: LeakCheck) -> None:
    """A relative name means the caller's working directory at the call, even after a chdir."""
    with Sandbox(1) as sandbox:
        (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
        monkeypatch.chdir(tmp_path)
        assert sandbox.identify("a.pdf") == "PDF document, version 1.4"


def test_item_errors_are_the_cookies(tmp_path: Path, leaks: LeakCheck) -> None:
    """Missing file, directory, bad descriptor and bad types raise what Cookie raises."""
    with Sandbox(1) as sandbox:
        with pytest.raises(FileNotFoundError) as missing:
            sandbox.identify(str(tmp_path / "nope"))
        assert missing.value.filename == str(tmp_path / "nope")
        with pytest.raises(IsADirectoryError):
            sandbox.identify(str(tmp_path))
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with pytest.raises(OSError, match="Bad file descriptor") as bad:
            sandbox.identify(r)
        assert bad.value.errno == errno.EBADF
        with pytest.raises(TypeError, match="not float"):
            sandbox.submit(1.5)  # type: ignore[arg-type]  # the run-time check
        with pytest.raises(ValueError, match="NUL"):
            sandbox.identify("a\0b")
        assert sandbox.replaced == 0, "an item error must not cost a worker"


def test_bad_database_raises_at_construction(tmp_path: Path, leaks: LeakCheck) -> None:
    """A database the worker cannot load raises DatabaseError from Sandbox() itself."""
    with pytest.raises(magicguard.DatabaseError, match=r"nope\.mgc"):
        Sandbox(1, database=str(tmp_path / "nope.mgc"))


# -- real failures ---------------------------------------------------------------------


def test_timeout_kills_and_replaces_the_worker(slow_db: str, leaks: LeakCheck) -> None:
    """A slow input past `timeout` raises magicguard.TimeoutError (also the
    builtin) about when the timeout expires; the worker is killed and a fresh
    one answers the next item."""
    with Sandbox(1, database=slow_db, timeout=0.5) as sandbox:
        (old,) = sandbox.pids
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=r"more than 0\.5 s") as caught:
            sandbox.identify(SLOW_INPUT)
        elapsed = time.monotonic() - start
        assert 0.5 <= elapsed < 5.0
        assert isinstance(caught.value, builtins.TimeoutError)
        assert isinstance(caught.value, MagicError)
        assert caught.value.pid == old and caught.value.timeout == 0.5
        assert gone(old)
        with Cookie(database=slow_db) as cookie:
            assert sandbox.identify(b"hi") == cookie.buffer(b"hi")
        assert sandbox.pids != [old] and sandbox.replaced == 1


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV])
def test_worker_killed_mid_call(slow_db: str, signum: int, leaks: LeakCheck) -> None:
    """A worker killed by a signal while it holds an item: that item raises
    WorkerCrashed naming the signal; the next item is answered."""
    with Sandbox(1, database=slow_db, timeout=60) as sandbox:
        (pid,) = sandbox.pids
        fut = sandbox.submit(SLOW_INPUT)
        deadline = time.monotonic() + 10
        while not fut.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the worker is now inside libmagic (the item takes seconds)
        assert not fut.done()
        os.kill(pid, signum)
        exc = fut.exception(timeout=30)
        assert isinstance(exc, WorkerCrashed)
        assert exc.signal == signum and exc.reason == "signal" and exc.pid == pid
        assert signal.Signals(signum).name in str(exc)
        assert sandbox.identify(b"hi") == "ASCII text, with no line terminators"


def test_memory_limit_hit_by_a_real_allocation(leaks: LeakCheck) -> None:
    """libmagic asks for ~320 MiB under a 256 MiB limit: the item raises
    WorkerCrashed(reason='memory') quoting libmagic; the next item is answered."""
    with Sandbox(1, params={Param.ENCODING_MAX: 1 << 30}, memory_limit=256 << 20) as sandbox:
        (pid,) = sandbox.pids
        reason = limit_unshown_by_emulation(pid, 256 << 20)
        if reason:
            pytest.skip(reason)
        with pytest.raises(WorkerCrashed, match="ran out of memory under memory_limit=256 MiB") as caught:
            sandbox.identify(b"a" * (40 << 20))
        assert caught.value.reason == "memory" and caught.value.errno == errno.ENOMEM
        assert "cannot allocate" in str(caught.value)
        assert gone(pid)
        assert sandbox.identify(b"hello") == "ASCII text, with no line terminators"


def test_worker_dead_while_idle_costs_no_item(leaks: LeakCheck) -> None:
    """A worker killed between items is replaced before it is given one: the
    next item is answered, not failed."""
    with Sandbox(1) as sandbox:
        (pid,) = sandbox.pids
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sandbox.identify(b"%PDF-1.7\n") == "PDF document, version 1.7"
        assert sandbox.replaced == 1


def test_batch_with_failures_loses_nothing(slow_db: str, leaks: LeakCheck) -> None:
    """In one map, slow items time out and the rest are answered: every
    position exactly once, each with its own outcome."""
    items: list[bytes] = [SLOW_INPUT if i in (5, 23) else b"%PDF-1." + str(i % 8).encode() + b"\n"
                          for i in range(40)]
    with Cookie(database=slow_db) as cookie, Sandbox(2, database=slow_db, timeout=0.5) as sandbox:
        results = list(sandbox.map(items, errors="return"))
        assert [r.position for r in results] == list(range(40))
        for r in results:
            if r.position in (5, 23):
                assert isinstance(r.error, TimeoutError)
            else:
                assert r.error is None and r.value == cookie.buffer(items[r.position])
        assert sandbox.replaced == 2


# -- limits --------------------------------------------------------------------------


def test_max_size_refuses_before_sending(tmp_path: Path, leaks: LeakCheck) -> None:
    """Larger buffers, files and descriptors raise LimitError in the caller."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with Sandbox(1, max_size=100) as sandbox:
        with pytest.raises(LimitError, match="101 bytes, more than max_size=100") as caught:
            sandbox.identify(b"x" * 101)
        assert caught.value.size == 101 and caught.value.limit == 100
        with pytest.raises(LimitError):
            sandbox.identify(str(big))
        with open(big, "rb") as f, pytest.raises(LimitError):
            sandbox.identify(f)
        assert sandbox.identify(b"x" * 100) == "ASCII text, with no line terminators"


def test_cookie_max_size(tmp_path: Path) -> None:
    """Cookie(max_size=) refuses larger buffers, files and descriptors; equal sizes pass."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    with Cookie(max_size=10) as cookie:
        assert cookie.max_size == 10
        assert cookie.buffer(b"x" * 10) == "ASCII text, with no line terminators"
        with pytest.raises(LimitError, match="11 bytes"):
            cookie.buffer(bytearray(11))
        with pytest.raises(LimitError, match="big"):
            cookie.file(big)
        with open(big, "rb") as f, pytest.raises(LimitError, match="descriptor"):
            cookie.descriptor(f)
        assert pickle.loads(pickle.dumps(cookie)).max_size == 10
    with pytest.raises(ValueError, match="max_size"):
        Cookie(max_size=-1)
    with pytest.raises(TypeError, match="max_size"):
        Cookie(max_size=1.5)  # type: ignore[arg-type]


def test_workers_are_limited(leaks: LeakCheck) -> None:
    """Each worker runs with NoNewPrivs and the address-space limit asked for."""
    with Sandbox(2, memory_limit=300 << 20) as sandbox:
        unshown = []
        for pid in sandbox.pids:
            status = Path(f"/proc/{pid}/status").read_text()
            assert "NoNewPrivs:\t1" in status
            reason = limit_unshown_by_emulation(pid, 300 << 20)
            if reason:
                unshown.append(reason)
                continue
            assert address_space_limit(pid) == (str(300 << 20), str(300 << 20))
    if unshown:  # NoNewPrivs was checked on every worker all the same
        pytest.skip(unshown[0])


def test_bad_arguments() -> None:
    """Each bad argument is named."""
    with pytest.raises(ValueError, match="timeout"):
        Sandbox(1, timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        Sandbox(1, timeout="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="memory_limit"):
        Sandbox(1, memory_limit=1000)
    with pytest.raises(ValueError, match="workers"):
        Sandbox(0)
    with pytest.raises(ValueError, match="max_size"):
        Sandbox(1, max_size=-5)


# -- shared memory, lifecycle ---------------------------------------------------------


def test_shared_memory_is_reused_and_released(leaks: LeakCheck) -> None:
    """Data above INLINE_MAX goes through one segment per worker, kept for
    reuse; a segment above 16 MiB is freed after its item; close frees all."""
    with Sandbox(1) as sandbox:
        assert segments() == 0
        sandbox.identify(b"a" * (INLINE_MAX + 1))
        assert segments() == 1
        sandbox.identify(b"b" * (INLINE_MAX * 4))
        assert segments() == 1
        assert sandbox.identify(b"\x7fELF" + b"\0" * (20 << 20)) == \
            Cookie().buffer(b"\x7fELF" + b"\0" * (20 << 20))
        assert segments() == 0


def test_async_methods(leaks: LeakCheck) -> None:
    """aidentify and amap answer from the workers."""
    async def main(sandbox: Sandbox) -> tuple[str, list[str]]:
        one = await sandbox.aidentify(b"%PDF-1.7\n")
        many = [r async for r in sandbox.amap([b"%PDF-1.4\n", "/bin/ls"])]
        return one, many

    with Sandbox(2) as sandbox, Cookie() as cookie:
        one, many = asyncio.run(main(sandbox))
        assert one == "PDF document, version 1.7"
        assert many == ["PDF document, version 1.4", cookie.file("/bin/ls")]


def test_pickle_round_trip(leaks: LeakCheck) -> None:
    """Pickling keeps the configuration; the copy has its own workers."""
    with Sandbox(1, Flags.MIME_TYPE, timeout=3.0, memory_limit=200 << 20, max_size=1000) as sandbox:
        with pickle.loads(pickle.dumps(sandbox)) as copy:
            assert (copy.timeout, copy.memory_limit, copy.max_size) == (3.0, 200 << 20, 1000)
            assert copy.identify(b"%PDF-1.7\n") == "application/pdf"
            assert set(copy.pids).isdisjoint(sandbox.pids)


def test_exceptions_pickle() -> None:
    """The new exceptions keep their attributes through pickle (they cross processes)."""
    exc = pickle.loads(pickle.dumps(WorkerCrashed("x", pid=1, reason="signal", signal=9)))
    assert (exc.pid, exc.reason, exc.signal, str(exc)) == (1, "signal", 9, "x")
    limit = pickle.loads(pickle.dumps(LimitError("y", size=5, limit=4)))
    assert (limit.size, limit.limit) == (5, 4)


def test_close_answers_pending_and_collect_stops_workers(leaks: LeakCheck) -> None:
    """close() answers what was submitted; a forgotten Sandbox stops its
    workers when collected; later submits raise RuntimeError."""
    sandbox = Sandbox(2)
    futures = [sandbox.submit(b"%PDF-1.7\n") for _ in range(20)]
    sandbox.close()
    assert all(f.result() == "PDF document, version 1.7" for f in futures)
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.submit(b"x")
    forgotten = Sandbox(1)
    (pid,) = forgotten.pids
    del forgotten
    gc.collect()
    assert gone(pid)


def test_more_item_kinds(tmp_path: Path, leaks: LeakCheck) -> None:
    """NumPy arrays above INLINE_MAX (shared memory), strided views, pipes
    (consumed, as by Cookie) and bytes names with kind='path'."""
    np = pytest.importorskip("numpy")
    array = np.zeros((300, 300), dtype=np.uint32)
    array[0, 0] = 0x464C457F  # b"\x7fELF" little-endian
    with Cookie(params=UNTRUSTED_PARAMS) as cookie, Sandbox(1) as sandbox:
        assert sandbox.identify(array) == cookie.buffer(array)
        strided = memoryview(b"%xPxDxFx-x1x.x4x\n" * 3)[::2]
        assert sandbox.identify(strided) == cookie.buffer(strided)
        r, w = os.pipe()
        try:
            os.write(w, b"%PDF-1.5\n")
            os.close(w)
            assert sandbox.identify(r) == "PDF document, version 1.5"
        finally:
            os.close(r)
        name = tmp_path / "n.pdf"
        name.write_bytes(b"%PDF-1.6\n")
        assert sandbox.identify(os.fsencode(name), kind="path") == "PDF document, version 1.6"


def test_relative_database_survives_chdir(slow_db: str, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path, leaks: LeakCheck) -> None:
    """A database named relative to the cwd at construction still loads in a
    replacement worker started after the caller changed directory."""
    monkeypatch.chdir(os.path.dirname(slow_db))
    with Sandbox(1, database=os.path.basename(slow_db)) as sandbox:
        monkeypatch.chdir(tmp_path)
        (pid,) = sandbox.pids
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone(pid) and time.monotonic() < deadline:  # dead before the next item
            time.sleep(0.01)
        with Cookie(database=slow_db) as cookie:
            assert sandbox.identify(b"hi") == cookie.buffer(b"hi")
        assert sandbox.replaced == 1


def test_close_can_cancel_pending(slow_db: str, leaks: LeakCheck) -> None:
    """close(cancel_pending=True) cancels what has not started and waits for the rest."""
    sandbox = Sandbox(1, database=slow_db, timeout=0.5)
    futures = [sandbox.submit(SLOW_INPUT)] + [sandbox.submit(b"hi") for _ in range(10)]
    deadline = time.monotonic() + 10
    while not futures[0].running() and time.monotonic() < deadline:
        time.sleep(0.01)
    sandbox.close(cancel_pending=True)
    assert isinstance(futures[0].exception(), TimeoutError)
    assert all(f.cancelled() for f in futures[1:])


def test_worker_replies_are_not_trusted() -> None:
    """An error reply names a type from an allowlist: anything else (a type
    that would stop the caller, or junk) becomes a MagicError or is refused."""
    from magicguard._sandbox_protocol import rebuild_exception as _rebuild_exception

    exit_like = _rebuild_exception({"type": "SystemExit", "message": "bye"})
    assert type(exit_like) is MagicError and "SystemExit" in str(exit_like)
    assert type(_rebuild_exception({"type": "KeyboardInterrupt"})) is MagicError
    missing = _rebuild_exception({"type": "FileNotFoundError", "errno": 2,
                                  "strerror": "No such file or directory", "filename": "x"})
    assert type(missing) is FileNotFoundError and missing.filename == "x"
    with pytest.raises(ValueError, match="malformed"):
        _rebuild_exception(["not", "a", "dict"])


# -- edges (issue 13, items 8 and 9) ----------------------------------------------


def test_sandbox_identifies_a_mapping_like_a_cookie(leaks: LeakCheck) -> None:
    """Before: TypeError (a Mapping has no buffer protocol) where Pool accepts it."""
    from magicguard import Mapping

    # A text file of the corpus: an ELF file's answer from a Mapping
    # differs from a Cookie's on a system libmagic (docs/safety.md, §3).
    doc = Path(__file__).parent / "corpus" / "files" / "book.txt"
    with Mapping.open(doc) as m, Cookie() as cookie, Sandbox(1) as sandbox:
        assert sandbox.identify(m) == cookie.buffer(m)
        assert list(sandbox.map([m, b"%PDF-1.7\n"])) == [cookie.buffer(m), "PDF document, version 1.7"]


def test_replacement_killed_while_starting_does_not_fail_the_next_item(slow_db: str,
                                                                        leaks: LeakCheck) -> None:
    """A worker killed from outside before it said it was ready: the next item
    gets a fresh worker instead of WorkerCrashed."""
    with Sandbox(1, timeout=0.5, database=slow_db) as sandbox:
        with pytest.raises(TimeoutError):
            sandbox.identify(SLOW_INPUT)   # killed; a replacement starts now
        pid = sandbox._core.workers[0].pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)       # still importing, most likely
        with Cookie(database=slow_db) as cookie:
            assert sandbox.identify(b"hi") == cookie.buffer(b"hi")


def test_close_right_after_a_timeout_prints_nothing(slow_db: str) -> None:
    """Before: the replacement worker, starting while the Sandbox closed, hit
    a BrokenPipeError and its traceback landed on the caller's stderr."""
    code = f"""
import magicguard
from magicguard import Sandbox
for _ in range(3):
    s = Sandbox(1, timeout=0.3, database={slow_db!r})
    try:
        s.identify(b"NEEDLE " * ((256 << 10) // 7))
    except magicguard.TimeoutError:
        pass
    s.close()
import time; time.sleep(1.5)   # let any orphaned worker finish dying
print("done")
"""
    proc = run_python(code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert proc.stderr == "", proc.stderr


def test_worker_with_an_unreadable_configuration_reports_it_and_prints_nothing() -> None:
    """A worker whose configuration cannot be read answers on its socket
    (before: one line on the caller's inherited stderr) and exits with its
    status; its own stdout and stderr stay empty."""
    import json
    import socket
    import subprocess
    import sys

    from magicguard._sandbox_protocol import EXIT_CONFIG, HEADER, REPLY_ERROR

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        proc = subprocess.run(
            [sys.executable, "-c", f"from magicguard._sandbox_worker import main; main({theirs.fileno()})"],
            input=b"not a pickle", pass_fds=(theirs.fileno(),), capture_output=True, timeout=60)
        theirs.close()
        reply = b""
        while chunk := ours.recv(65536):
            reply += chunk
    assert proc.returncode == EXIT_CONFIG
    assert (proc.stdout, proc.stderr) == (b"", b"")
    op, size = HEADER.unpack(reply[:HEADER.size])
    assert op == REPLY_ERROR and size == len(reply) - HEADER.size
    fields = json.loads(reply[HEADER.size:])
    assert fields["type"] == "RuntimeError" and "configuration could not be read" in fields["message"]
