"""The ``Sandbox``'s worker process: its ``main`` (read the configuration,
build the Cookie, lower privileges and limits) and its request loop.  The
messages it reads and writes are defined in ``_sandbox_protocol``.
"""

from __future__ import annotations

import errno as errno_module
import json
import mmap
import os
import pickle
import socket
import sys
from typing import Any, Optional

from . import _lowlevel
from ._sandbox_protocol import (
    EXIT_CONFIG,
    EXIT_MEMORY,
    HEADER,
    KEEP_SEGMENT,
    LENGTH,
    MAX_FDS,
    MAX_REQUEST,
    OP_BUFFER,
    OP_DESCRIPTOR,
    OP_PATH,
    OP_SHARED,
    REPLY_ERROR,
    REPLY_MEMORY,
    REPLY_OK,
    REPLY_READY,
    encode_exception,
    is_out_of_memory,
)


def _no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)``: nothing this process executes
    (libmagic may run decompressors) can gain privileges (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    _lowlevel.no_new_privs()


def _send(sock: socket.socket, op: bytes, payload: bytes = b"") -> None:
    sock.sendall(HEADER.pack(op, len(payload)) + payload)


def _recv_exact(sock: socket.socket, size: int) -> Optional[bytes]:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _recv_request(sock: socket.socket) -> Optional[tuple[bytes, bytes, list[int]]]:
    """One request: (op, payload, descriptors), or None when the parent is gone."""
    try:
        head, fds, msg_flags, _ = socket.recv_fds(sock, HEADER.size, MAX_FDS)
    except ConnectionError:
        return None
    if not head:
        return None
    if msg_flags & getattr(socket, "MSG_CTRUNC", 0):
        for fd in fds:
            os.close(fd)
        raise OSError("sandbox worker: a request carried too many descriptors")
    if len(head) < HEADER.size:
        rest = _recv_exact(sock, HEADER.size - len(head))
        if rest is None:
            return None
        head += rest
    op, length = HEADER.unpack(head)
    if length > MAX_REQUEST:
        raise OSError(f"sandbox worker: request of {length} bytes is too large")
    payload = _recv_exact(sock, length) if length else b""
    if payload is None:
        return None
    return op, payload, list(fds)


class _Server:
    """A worker's request loop over one Cookie."""

    def __init__(self, sock: socket.socket, cookie: Any) -> None:
        self.sock = sock
        self.cookie = cookie
        self.segment: Optional[mmap.mmap] = None

    def _map(self, fd: int) -> None:
        if self.segment is not None:
            self.segment.close()
            self.segment = None
        self.segment = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)

    def _shared(self, payload: bytes, fds: list[int]) -> str:
        (length,) = LENGTH.unpack(payload)
        if fds:
            self._map(fds[0])  # mmap keeps its own duplicate; serve() closes fds[0]
        if self.segment is None or length > len(self.segment):
            raise ValueError("sandbox protocol: no shared segment of that size")
        try:
            with memoryview(self.segment) as whole, whole[:length] as view:
                result: str = self.cookie.buffer(view)
        finally:
            if len(self.segment) > KEEP_SEGMENT:
                self.segment.close()
                self.segment = None
        return result

    def handle(self, op: bytes, payload: bytes, fds: list[int]) -> str:
        if op == OP_BUFFER:
            return str(self.cookie.buffer(payload))
        if op == OP_SHARED:
            return self._shared(payload, fds)
        if op == OP_PATH:
            if fds:
                os.fchdir(fds[0])
            return str(self.cookie.file(payload))
        if op == OP_DESCRIPTOR and len(fds) == 1:
            return str(self.cookie.descriptor(fds[0]))
        raise ValueError(f"sandbox protocol: unknown request {op!r}")

    def serve(self) -> None:
        while True:
            request = _recv_request(self.sock)
            if request is None:
                return
            op, payload, fds = request
            try:
                result = self.handle(op, payload, fds)
            except BaseException as exc:  # every failure goes back to the caller
                if is_out_of_memory(exc):
                    _send(self.sock, REPLY_MEMORY, encode_exception(exc))
                    os._exit(EXIT_MEMORY)
                if not isinstance(exc, Exception):
                    raise
                _send(self.sock, REPLY_ERROR, encode_exception(exc))
            else:
                _send(self.sock, REPLY_OK, result.encode("utf-8", "surrogateescape"))
            finally:
                for fd in fds:
                    os.close(fd)


def main(sock_fd: int) -> None:
    """Run one worker on the socket ``sock_fd``: read the configuration from
    standard input, build the Cookie, serve.  Every failure is a reply on the
    socket; the worker prints nothing."""
    import resource

    sock = socket.socket(fileno=sock_fd)
    try:
        flags, database, params, memory_limit = pickle.load(sys.stdin.buffer)  # noqa: S301 - the configuration the parent wrote to this worker's stdin
    except Exception as exc:  # noqa: BLE001 - any failure to read the configuration is reported to the parent
        try:
            _send(sock, REPLY_ERROR, encode_exception(
                RuntimeError(f"sandbox worker: its configuration could not be read: {exc!r}")))
        except OSError:
            pass  # the parent is gone: nobody to tell
        os._exit(EXIT_CONFIG)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _no_new_privs()
        from magicguard.cookie import Cookie

        cookie = Cookie(flags, database, params)
        if memory_limit is not None:
            try:
                resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
            except (OSError, ValueError) as exc:
                raise OSError(getattr(exc, "errno", None) or errno_module.EINVAL,
                              f"memory_limit={memory_limit} cannot be applied on this platform "
                              f"(setrlimit(RLIMIT_AS): {exc}); pass memory_limit=None") from None
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            _send(sock, REPLY_ERROR, encode_exception(exc))
        except OSError:
            pass  # the parent is gone: nobody to tell
        return
    try:
        _send(sock, REPLY_READY, json.dumps({"pid": os.getpid()}).encode("ascii"))
        _Server(sock, cookie).serve()
    except (ConnectionError, OSError) as exc:
        # The parent closed its end (Sandbox.close() right after a timeout,
        # while this replacement was starting): leave quietly. A traceback
        # here would land on the caller's stderr, which we inherit.
        if not isinstance(exc, ConnectionError) and exc.errno not in (errno_module.EPIPE,
                                                                      errno_module.ECONNRESET,
                                                                      errno_module.EBADF):
            raise
        os._exit(0)


if __name__ == "__main__":  # python -m magicguard._sandbox_worker SOCKET_FD (the parent runs main() itself)
    main(int(sys.argv[1]))
