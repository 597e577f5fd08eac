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

How items reach a worker (see ``_sandbox_worker`` for the wire protocol):

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

import array
import errno as errno_module
import json
import mmap
import functools
import os
import pickle
import select
import signal as signal_module
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Any, Mapping, Optional, Union

from . import _sandbox_worker as proto
from ._batch import BatchIdentifier, Future, Item, Kind, cancel_queued, join_others, serve
from ._lowlevel import decode
from .cookie import (Cookie, Database, _check_descriptor, _check_max_size, _contiguous, _fspath,
                     _refuse_larger)
from .errors import DatabaseError, MagicError, TimeoutError, WorkerCrashed
from .flags import Flags, Param
from .pool import default_workers

__all__ = ["Sandbox", "UNTRUSTED_PARAMS", "INLINE_MAX"]

INLINE_MAX = 32 << 10
"""Data up to this many bytes is sent through the socket; larger data goes
through shared memory."""

#: How long a new worker may take to start (interpreter, import, database).
START_TIMEOUT = 60.0
#: How long a worker asked to leave may take before it is killed.
EXIT_TIMEOUT = 5.0
#: Largest reply accepted from a worker (a description is far smaller).
MAX_REPLY = 16 << 20
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
#: Smallest shared-memory segment made.
MIN_SEGMENT = 1 << 20

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

Compared with libmagic 5.46's defaults they lower the recursion and
parser-loop bounds that only a crafted file reaches (indirect offsets 50 ->
15, named-rule uses 100 -> 50, ELF program headers 2048 -> 128, section
headers 32768 -> 1024, notes 256 -> 64, largest ELF section 128 -> 16 MiB)
and pin the others (regex 8 KiB, file head 7 MiB, encoding scan 64 KiB), so
an older or newer system libmagic bounds work alike.  Over 1000 real files
of this machine (400 of the test corpus, 600 ELF programs and libraries)
every answer is the same as with libmagic's defaults.  ``BYTES_MAX`` stays
at 7 MiB: at 1 MiB, a 1.2 MiB zip archive already reads as ``data`` (its
central directory is at the end).  See docs/choosing.md.
"""

_ERROR_TYPES: dict[str, type[Exception]] = {
    "MagicError": MagicError,
    "DatabaseError": DatabaseError,
    "ValueError": ValueError,
    "TypeError": TypeError,
}


def _rebuild_exception(fields: Any) -> Exception:
    """The caller-side exception for a worker's ``E`` reply (an allowlist:
    anything unexpected becomes a MagicError carrying the text)."""
    if not isinstance(fields, dict) or not isinstance(fields.get("type"), str):
        raise ValueError("malformed error reply")
    name = fields["type"]
    message = str(fields.get("message", ""))
    err = fields.get("errno")
    err = err if isinstance(err, int) else 0
    if name in ("MagicError", "DatabaseError"):
        function = fields.get("function")
        path = fields.get("path")
        cls = DatabaseError if name == "DatabaseError" else MagicError
        return cls(message, errno=err,
                   function=function if isinstance(function, str) else None,
                   path=path if isinstance(path, str) else None)
    if name in _ERROR_TYPES:
        return _ERROR_TYPES[name](message)
    if name == "OSError" or name.endswith("Error") and err:
        strerror = fields.get("strerror")
        filename = fields.get("filename")
        if err and isinstance(strerror, str):
            if isinstance(filename, str):
                return OSError(err, strerror, filename)
            return OSError(err, strerror)
        return OSError(message)
    return MagicError(f"the sandbox worker raised {name}: {message}", errno=err)


def _signal_name(number: int) -> str:
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _size_text(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 and not size % (1 << 20) else f"{size} bytes"


class _Dead(Exception):
    """The worker's socket closed: the process died or left."""


class _Expired(Exception):
    """No reply within the deadline."""


class _Segment:
    """Shared memory the caller writes and one worker maps read-only.

    On Linux a ``memfd`` sealed against shrinking and growing, so a worker
    holding its descriptor can never truncate the caller's mapping under it
    (which would raise SIGBUS in the caller); the worker gets a read-only
    descriptor of it besides.  Elsewhere an unlinked temporary file.
    """

    def __init__(self, size: int) -> None:
        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is not None:
            fd = memfd_create("magicguard-sandbox", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        else:
            fd, name = tempfile.mkstemp(prefix="magicguard-sandbox-")
            os.unlink(name)
        try:
            os.ftruncate(fd, size)
            if memfd_create is not None:
                import fcntl

                fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                            fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            self.map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.size = size

    def readonly_fd(self) -> int:
        """A new descriptor of the segment for a worker: read-only where
        /proc allows reopening it so, else a duplicate (sealed anyway)."""
        try:
            return os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return os.dup(self.fd)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class _Worker:
    """One worker process: the caller's end of its socket, its status."""

    def __init__(self, config: bytes, package_parent: str) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                f"from magicguard._sandbox_worker import main; main()")
        try:
            blob = pickle.dumps((child.fileno(), *pickle.loads(config)))
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", code], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, pass_fds=(child.fileno(),), close_fds=True,
                start_new_session=True)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.sock = parent
        self.pid = self.proc.pid
        self.ready = False
        self.segment: Optional[_Segment] = None  # the one the worker has mapped
        self._buf = bytearray(64 << 10)
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(blob)
            stdin.close()
        except OSError:
            # It died before reading: the handshake reports how.
            try:
                stdin.close()
            except OSError:
                pass

    # -- talking ---------------------------------------------------------------

    def send(self, op: bytes, payload: Any = b"", fds: tuple[int, ...] = ()) -> None:
        """Send one request; ``_Dead`` if the worker is gone."""
        header = proto.HEADER.pack(op, len(payload))
        try:
            self.sock.settimeout(None)
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
            # MSG_NOSIGNAL: a dead worker is EPIPE, never SIGPIPE (the caller
            # may have restored SIGPIPE's default, which would kill it).
            sent = self.sock.sendmsg([header, payload], ancillary, _NOSIGNAL)
            total = len(header) + len(payload)
            if sent < total:
                with memoryview(header + bytes(payload)) as rest:
                    self.sock.sendall(rest[sent:], _NOSIGNAL)
        except (BrokenPipeError, ConnectionError) as exc:
            raise _Dead() from exc

    def receive(self, deadline: Optional[float]) -> tuple[bytes, bytes]:
        """One reply (op, payload); ``_Expired`` past ``deadline``, ``_Dead``
        if the worker closed its socket, ValueError if it is malformed."""
        buf = self._buf
        got = 0
        need = proto.HEADER.size
        header_done = False
        op = b""
        while got < need:
            if deadline is None:
                self.sock.settimeout(None)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Expired()
                self.sock.settimeout(remaining)
            try:
                n = self.sock.recv_into(memoryview(buf)[got:need if header_done else len(buf)])
            except socket.timeout:
                raise _Expired() from None
            except ConnectionError as exc:
                raise _Dead() from exc
            if n == 0:
                raise _Dead()
            got += n
            if not header_done and got >= proto.HEADER.size:
                op, length = proto.HEADER.unpack_from(buf)
                if length > MAX_REPLY:
                    raise ValueError(f"reply of {length} bytes")
                need = proto.HEADER.size + length
                header_done = True
                if need > len(buf):
                    bigger = bytearray(need)
                    bigger[:got] = buf[:got]
                    buf = bigger
                if got > need:
                    raise ValueError("more bytes than one reply")
        return op, bytes(buf[proto.HEADER.size:need])

    def idle_dead(self) -> bool:
        """True if the worker died (or spoke unasked) while it held nothing."""
        if self.proc.poll() is not None:
            return True
        poller = select.poll()
        poller.register(self.sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(0))

    # -- life and death ----------------------------------------------------------

    def handshake(self) -> None:
        """Wait until the worker says it is ready, or raise what stopped it."""
        try:
            op, payload = self.receive(time.monotonic() + START_TIMEOUT)
        except _Expired:
            self.kill()
            raise WorkerCrashed(f"sandbox worker {self.pid} did not start within "
                                f"{START_TIMEOUT:g} s", pid=self.pid, reason="start") from None
        except _Dead:
            raise self.death("starting") from None
        if op == proto.REPLY_READY:
            self.ready = True
            return
        if op == proto.REPLY_ERROR:
            exc = _rebuild_exception(json.loads(payload))
            self.close()
            raise exc
        self.kill()
        raise WorkerCrashed(f"sandbox worker {self.pid} sent {op!r} instead of ready",
                            pid=self.pid, reason="protocol")

    def death(self, doing: str) -> WorkerCrashed:
        """Reap a worker whose socket closed; the WorkerCrashed saying how it died."""
        try:
            status = self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            status = self.proc.returncode
        self.sock.close()
        if status is not None and status < 0:
            return WorkerCrashed(f"sandbox worker {self.pid} was killed by "
                                 f"{_signal_name(-status)} while {doing}",
                                 pid=self.pid, reason="signal", signal=-status)
        return WorkerCrashed(f"sandbox worker {self.pid} exited with status {status} "
                             f"while {doing}", pid=self.pid, reason="exit", exitcode=status)

    def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.sock.close()

    def close(self) -> None:
        """Ask the worker to leave (close its socket), reap it; kill it if it lingers."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()


_Work = Optional[tuple["Future[str]", Kind, Item]]


class _Core:
    """What the worker threads share; holds no reference to the ``Sandbox``,
    so a forgotten Sandbox is collected and its finalizer stops the workers."""

    def __init__(self, size: int, config: bytes, flags: int, timeout: Optional[float],
                 memory_limit: Optional[int], max_size: Optional[int]) -> None:
        import queue

        self.size = size
        self.config = config
        self.flags = flags
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.max_size = max_size
        self.package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.closed = False
        self.workers: list[Optional[_Worker]] = [None] * size
        self.segments: list[Optional[_Segment]] = [None] * size
        self.threads: list[threading.Thread] = []
        self.replaced = 0
        # The process that owns the workers: a child of fork() inherits this
        # object but not the threads, and must not touch the parent's workers.
        self.pid = os.getpid()

    def check_process(self) -> None:
        """Raise in a child of fork(): the Sandbox belongs to the parent."""
        if os.getpid() != self.pid:
            raise RuntimeError(
                f"this Sandbox was created in process {self.pid}, before a fork(); its "
                f"workers and threads belong to that process. Create a new Sandbox in "
                f"this one (process {os.getpid()})")

    # -- workers -----------------------------------------------------------------

    def spawn(self, slot: int) -> _Worker:
        worker = _Worker(self.config, self.package_parent)
        with self.lock:
            self.workers[slot] = worker
        return worker

    def ready_worker(self, slot: int) -> _Worker:
        """The slot's worker, ready for an item: started or replaced as needed."""
        worker = self.workers[slot]
        if worker is not None and worker.ready and worker.idle_dead():
            # Died while idle (killed from outside): nothing of ours was lost.
            worker.kill()
            worker = None
        if worker is None:
            worker = self.spawn(slot)
            with self.lock:
                self.replaced += 1
        if not worker.ready:
            try:
                worker.handshake()
            except WorkerCrashed as exc:
                with self.lock:
                    self.workers[slot] = None
                if exc.reason != "signal":
                    raise
                # Killed while starting (from outside: nothing of the item's
                # was lost, it was never sent): one fresh worker, not a
                # failed item. A second death is reported.
                worker = self.spawn(slot)
                with self.lock:
                    self.replaced += 1
                try:
                    worker.handshake()
                except BaseException:
                    with self.lock:
                        self.workers[slot] = None
                    raise
            except BaseException:
                with self.lock:
                    self.workers[slot] = None
                raise
        return worker

    def retire(self, slot: int, worker: _Worker) -> None:
        """After a worker was killed or died: start its replacement now, so it
        boots while the caller handles the failure."""
        worker.segment = None
        with self.lock:
            closing = self.closed
            self.workers[slot] = None
        if not closing:
            try:
                self.spawn(slot)
                with self.lock:
                    self.replaced += 1
            except OSError:
                pass  # ready_worker() tries again for the next item

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
        _refuse_larger(len(item), self.max_size, "the Mapping", item.path)
        display = item.path if item.path is not None else "a Mapping"
        with item._pinned() as (_address, _length, fd), item._identify_lock:
            if fd < 0:
                return self._data(slot, item.read())
            before = os.lseek(fd, 0, os.SEEK_CUR)
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                return self._call(slot, proto.OP_DESCRIPTOR, b"", None,
                                  f"identifying {display}", fds=(fd,))
            finally:
                os.lseek(fd, before, os.SEEK_SET)

    def _data(self, slot: int, item: Item) -> str:
        from .mapping import Mapping

        if isinstance(item, Mapping):
            return self._mapping(slot, item)
        contiguous = _contiguous(item)
        with memoryview(contiguous) as view, view.cast("B") as flat:
            size = flat.nbytes
            _refuse_larger(size, self.max_size, "the buffer")
            if size <= INLINE_MAX:
                return self._call(slot, proto.OP_BUFFER, flat, None, "identifying a buffer")
            segment = self.segments[slot]
            if segment is None or segment.size < size:
                if segment is not None:
                    segment.close()
                    self.segments[slot] = None
                segment = _Segment(max(MIN_SEGMENT, 1 << (size - 1).bit_length()))
                self.segments[slot] = segment
            segment.map[:size] = flat
        try:
            return self._call(slot, proto.OP_SHARED, proto.LENGTH.pack(size), segment,
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
        raw = _fspath(item)
        display = os.fsdecode(raw)
        if self.max_size is not None:
            follow = bool(self.flags & Flags.SYMLINK)
            try:
                st = os.stat(raw) if follow else os.lstat(raw)
            except OSError:
                pass  # the worker reports it exactly as Cookie.file does
            else:
                if stat.S_ISREG(st.st_mode):
                    _refuse_larger(st.st_size, self.max_size, display, display)
        cwd: Optional[int] = None
        if not os.path.isabs(raw):
            cwd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_CLOEXEC)
        try:
            return self._call(slot, proto.OP_PATH, raw, None, f"identifying {display!r}",
                              fds=() if cwd is None else (cwd,))
        finally:
            if cwd is not None:
                os.close(cwd)

    def _descriptor(self, slot: int, item: Item) -> str:
        import io

        fileobj: Any = None
        if isinstance(item, bool):
            raise TypeError("descriptor() takes an int or a file object, not bool")
        if isinstance(item, int):
            number = item
        else:
            fileobj = item
            if getattr(item, "closed", False):
                raise ValueError("descriptor(): the file object is closed")
            try:
                number = item.fileno()
            except io.UnsupportedOperation:
                raise TypeError(f"{type(item).__name__} has no descriptor; pass its contents "
                                f"with .getbuffer() instead") from None
        _check_descriptor(number, self.max_size)
        try:
            before: Optional[int] = os.lseek(number, 0, os.SEEK_CUR)
        except OSError:
            before = None
        restore = Cookie._align_offset(fileobj, number)
        try:
            return self._call(slot, proto.OP_DESCRIPTOR, b"", None,
                              f"identifying descriptor {number}", fds=(number,))
        finally:
            # libmagic seeks back itself, unless its worker died mid-read.
            final = restore if restore is not None else before
            if final is not None:
                os.lseek(number, final, os.SEEK_SET)

    def _call(self, slot: int, op: bytes, payload: Any, segment: Optional[_Segment],
              doing: str, fds: tuple[int, ...] = ()) -> str:
        """Send one request to the slot's worker and turn its reply (or its
        death, or its silence) into the item's answer."""
        for attempt in range(2):
            worker = self.ready_worker(slot)
            extra: Optional[int] = None
            if segment is not None and worker.segment is not segment:
                extra = segment.readonly_fd()
            try:
                worker.send(op, payload, fds if extra is None else (*fds, extra))
            except _Dead:
                # It died before taking the item (between our check and the
                # send): the item was not started; give it to a fresh worker.
                worker.kill()
                self.retire(slot, worker)
                if attempt:
                    raise WorkerCrashed(f"sandbox worker {worker.pid} died before taking "
                                        f"an item, twice", pid=worker.pid, reason="start") from None
                continue
            finally:
                if extra is not None:
                    os.close(extra)
            if segment is not None:
                worker.segment = segment
            break
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            reply, body = worker.receive(deadline)
        except _Expired:
            worker.kill()
            self.retire(slot, worker)
            raise TimeoutError(f"sandbox worker {worker.pid} took more than {self.timeout:g} s "
                               f"{doing}; it was killed and replaced",
                               timeout=float(self.timeout or 0), pid=worker.pid) from None
        except _Dead:
            crashed = worker.death(doing)
            self.retire(slot, worker)
            raise crashed from None
        except ValueError as exc:
            worker.kill()
            self.retire(slot, worker)
            raise WorkerCrashed(f"sandbox worker {worker.pid} sent a malformed reply ({exc}) "
                                f"while {doing}; it was killed", pid=worker.pid,
                                reason="protocol") from None
        if reply == proto.REPLY_OK:
            return decode(body)
        if reply == proto.REPLY_ERROR:
            try:
                error = _rebuild_exception(json.loads(body))
            except (ValueError, UnicodeDecodeError):
                worker.kill()
                self.retire(slot, worker)
                raise WorkerCrashed(f"sandbox worker {worker.pid} sent a malformed error "
                                    f"while {doing}; it was killed", pid=worker.pid,
                                    reason="protocol") from None
            raise error
        if reply == proto.REPLY_MEMORY:
            try:
                detail = str(json.loads(body).get("message", ""))
            except (ValueError, AttributeError):
                detail = ""
            worker.death(doing)
            self.retire(slot, worker)
            limit = "its memory_limit" if self.memory_limit is None \
                else f"memory_limit={_size_text(self.memory_limit)}"
            raise WorkerCrashed(f"sandbox worker {worker.pid} ran out of memory under {limit} "
                                f"while {doing} ({detail}); it was replaced",
                                pid=worker.pid, reason="memory", exitcode=proto.EXIT_MEMORY,
                                errno=errno_module.ENOMEM)
        worker.kill()
        self.retire(slot, worker)
        raise WorkerCrashed(f"sandbox worker {worker.pid} sent an unknown reply {reply!r} "
                            f"while {doing}; it was killed", pid=worker.pid, reason="protocol")

    # -- threads -------------------------------------------------------------------

    def run(self, slot: int) -> None:
        try:
            serve(self.queue, functools.partial(self.identify, slot))
        finally:
            self.release(slot)

    def release(self, slot: int) -> None:
        with self.lock:
            worker, self.workers[slot] = self.workers[slot], None
            segment, self.segments[slot] = self.segments[slot], None
        if worker is not None:
            worker.close()
        if segment is not None:
            segment.close()

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
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, int):
                raise TypeError(f"workers must be an int or None, not {type(workers).__name__}")
            if workers < 1:
                raise ValueError(f"workers must be at least 1, got {workers}")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, "
                                f"not {type(timeout).__name__}")
            if not timeout > 0 or timeout != timeout or timeout == float("inf"):
                raise ValueError(f"timeout must be a positive, finite number of seconds, "
                                 f"got {timeout!r}")
        if memory_limit is not None:
            if isinstance(memory_limit, bool) or not isinstance(memory_limit, int):
                raise TypeError(f"memory_limit must be an int (bytes) or None, "
                                f"not {type(memory_limit).__name__}")
            if memory_limit < 16 << 20:
                raise ValueError(f"memory_limit must be at least 16 MiB (an interpreter "
                                 f"needs that much to start), got {memory_limit}")
        checked_max = _check_max_size(max_size)
        flags_value = Cookie._check_flags(flags)
        checked_params = Cookie._check_params(UNTRUSTED_PARAMS if params is None else params)
        db = Cookie._check_database(database)
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
