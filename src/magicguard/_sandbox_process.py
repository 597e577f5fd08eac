"""The caller's side of a ``Sandbox``'s worker processes: starting one,
talking to it over its socket (``_sandbox_protocol``), the shared-memory
segment it maps, noticing its death, killing and replacing it.  ``Slots``
holds one worker per slot and turns one request's reply -- or the worker's
death, or its silence past the timeout -- into the item's answer or error;
``magicguard.sandbox`` adds the threads, the items and the public class.
"""

from __future__ import annotations

import array
import errno as errno_module
import json
import mmap
import os
import select
import signal as signal_module
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

from . import _sandbox_protocol as proto
from ._lowlevel import decode
from ._sandbox_protocol import rebuild_exception
from .errors import TimeoutError, WorkerCrashed  # noqa: A004 - magicguard's TimeoutError (a subclass of the builtin) is the one raised

__all__ = [
    "EXIT_TIMEOUT",
    "MAX_REPLY",
    "MIN_SEGMENT",
    "START_TIMEOUT",
    "Dead",
    "Expired",
    "Segment",
    "Slots",
    "WorkerProcess",
]

#: How long a new worker may take to start (interpreter, import, database).
START_TIMEOUT = 60.0
#: How long a worker asked to leave may take before it is killed.
EXIT_TIMEOUT = 5.0
#: Largest reply accepted from a worker (a description is far smaller).
MAX_REPLY = 16 << 20
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
#: Smallest shared-memory segment made.
MIN_SEGMENT = 1 << 20


def signal_name(number: int) -> str:
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


def size_text(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 and not size % (1 << 20) else f"{size} bytes"


class Dead(Exception):
    """The worker's socket closed: the process died or left."""


class Expired(Exception):
    """No reply within the deadline."""


class Segment:
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


class WorkerProcess:
    """One worker process: the caller's end of its socket, its status."""

    def __init__(self, config: bytes, package_parent: str) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The socket's number on the command line: the worker can report
        # through it even when its configuration (on stdin) is unreadable.
        # Its stdout and stderr are /dev/null: everything it has to say goes
        # through the socket, and nothing reaches the caller's terminal.
        code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                f"from magicguard._sandbox_worker import main; main({child.fileno()})")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", code], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(child.fileno(),), close_fds=True, start_new_session=True)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.sock = parent
        self.pid = self.proc.pid
        self.ready = False
        self.segment: Optional[Segment] = None  # the one the worker has mapped
        self._buf = bytearray(64 << 10)
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(config)
            stdin.close()
        except OSError:
            # It died before reading: the handshake reports how.
            try:
                stdin.close()
            except OSError:
                pass

    # -- talking ---------------------------------------------------------------

    def send(self, op: bytes, payload: Any = b"", fds: tuple[int, ...] = ()) -> None:
        """Send one request; ``Dead`` if the worker is gone."""
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
            raise Dead from exc

    def receive(self, deadline: Optional[float]) -> tuple[bytes, bytes]:
        """One reply (op, payload); ``Expired`` past ``deadline``, ``Dead``
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
                    raise Expired
                self.sock.settimeout(remaining)
            try:
                n = self.sock.recv_into(memoryview(buf)[got:need if header_done else len(buf)])
            except socket.timeout:
                raise Expired from None
            except ConnectionError as exc:
                raise Dead from exc
            if n == 0:
                raise Dead
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
        except Expired:
            self.kill()
            raise WorkerCrashed(f"sandbox worker {self.pid} did not start within "
                                f"{START_TIMEOUT:g} s", pid=self.pid, reason="start") from None
        except Dead:
            raise self.death("starting") from None
        if op == proto.REPLY_READY:
            self.ready = True
            return
        if op == proto.REPLY_ERROR:
            exc = rebuild_exception(json.loads(payload))
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
                                 f"{signal_name(-status)} while {doing}",
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


class Slots:
    """One worker process per slot, started, checked, replaced and stopped;
    ``call`` sends one request to a slot's worker and returns its answer."""

    def __init__(self, size: int, config: bytes, flags: int, timeout: Optional[float],
                 memory_limit: Optional[int], max_size: Optional[int]) -> None:
        self.size = size
        self.config = config
        self.flags = flags
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.max_size = max_size
        self.package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.lock = threading.Lock()
        self.closed = False
        self.workers: list[Optional[WorkerProcess]] = [None] * size
        self.segments: list[Optional[Segment]] = [None] * size
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

    def spawn(self, slot: int) -> WorkerProcess:
        worker = WorkerProcess(self.config, self.package_parent)
        with self.lock:
            self.workers[slot] = worker
        return worker

    def ready_worker(self, slot: int) -> WorkerProcess:
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

    def retire(self, slot: int, worker: WorkerProcess) -> None:
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

    def call(self, slot: int, op: bytes, payload: Any, segment: Optional[Segment],
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
            except Dead:
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
        except Expired:
            worker.kill()
            self.retire(slot, worker)
            raise TimeoutError(f"sandbox worker {worker.pid} took more than {self.timeout:g} s "
                               f"{doing}; it was killed and replaced",
                               timeout=float(self.timeout or 0), pid=worker.pid) from None
        except Dead:
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
                error = rebuild_exception(json.loads(body))
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
                else f"memory_limit={size_text(self.memory_limit)}"
            raise WorkerCrashed(f"sandbox worker {worker.pid} ran out of memory under {limit} "
                                f"while {doing} ({detail}); it was replaced",
                                pid=worker.pid, reason="memory", exitcode=proto.EXIT_MEMORY,
                                errno=errno_module.ENOMEM)
        worker.kill()
        self.retire(slot, worker)
        raise WorkerCrashed(f"sandbox worker {worker.pid} sent an unknown reply {reply!r} "
                            f"while {doing}; it was killed", pid=worker.pid, reason="protocol")

    def release(self, slot: int) -> None:
        with self.lock:
            worker, self.workers[slot] = self.workers[slot], None
            segment, self.segments[slot] = self.segments[slot], None
        if worker is not None:
            worker.close()
        if segment is not None:
            segment.close()
