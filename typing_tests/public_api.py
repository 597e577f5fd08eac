"""The public API as a user's code meets it, checked by ``mypy --strict``.

Never run: mypy reads it (``[tool.mypy] files`` in pyproject.toml).  Each
``assert_type`` pins a return type; each line ending in
``# type: ignore[code]`` is a call that must stay a type error, and
``warn_unused_ignores`` (part of --strict) fails the check the day it is
accepted.  Argument types that are ``Any`` today (buffers, batch items) have
no expected-error line yet: they get one when they are narrowed.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Iterator, Optional

from typing_extensions import assert_type

import magicguard
from magicguard import (
    Cookie,
    DatabaseError,
    FaultError,
    Flags,
    Kind,
    LimitError,
    LockError,
    MagicError,
    Mapping,
    Param,
    Pool,
    Result,
    Sandbox,
    WorkerCrashed,
    compat,
)

# -- module-level helpers and facts ---------------------------------------------

assert_type(magicguard.from_file("/bin/ls"), str)
assert_type(magicguard.from_file(Path("/bin/ls"), mime=True), str)
assert_type(magicguard.from_buffer(b"%PDF-1.7\n"), str)
assert_type(magicguard.libmagic_version(), int)
assert_type(magicguard.default_database_path(), Optional[str])
assert_type(magicguard.BUNDLED_LIBMAGIC, bool)
assert_type(magicguard.__version__, str)

magicguard.from_file(42)  # type: ignore[arg-type]
magicguard.from_file("/bin/ls", mime="yes")  # type: ignore[arg-type]

# -- Cookie ---------------------------------------------------------------------

with Cookie(Flags.MIME_TYPE | Flags.MIME_ENCODING, params={Param.BYTES_MAX: 1 << 20}) as cookie:
    assert_type(cookie, Cookie)
    assert_type(cookie.file("/bin/ls"), str)
    assert_type(cookie.file(b"/bin/ls"), str)
    assert_type(cookie.file(Path("/bin/ls")), str)
    assert_type(cookie.descriptor(0), str)
    assert_type(cookie.buffer(b"data"), str)
    assert_type(cookie.buffer(memoryview(b"data")), str)
    assert_type(cookie.buffer(bytearray(b"data")), str)
    cookie.buffer("text")  # type: ignore[arg-type]  # str is not bytes-like (PEP 688 Buffer)
    cookie.buffer([1, 2])  # type: ignore[arg-type]
    assert_type(cookie.flags, Flags)
    cookie.flags = Flags.NONE
    cookie.flags = 0
    assert_type(cookie.getparam(Param.BYTES_MAX), int)
    cookie.setparam(Param.BYTES_MAX, 4096)
    assert_type(cookie.error, Optional[str])
    assert_type(cookie.errno, int)
    assert_type(cookie.closed, bool)
    assert_type(cookie.max_size, Optional[int])
    assert_type(cookie.check(), bool)
    cookie.load()

    cookie.setparam("bytes_max", 4096)  # type: ignore[arg-type]
    cookie.setparam(Param.BYTES_MAX, "4096")  # type: ignore[arg-type]
    cookie.getparam(1)  # type: ignore[arg-type]
    cookie.file(3.5)  # type: ignore[arg-type]
    cookie.flags = "mime"  # type: ignore[assignment]
    cookie.closed = True  # type: ignore[misc]

Cookie(flags="mime")  # type: ignore[arg-type]
Cookie(max_size="1M")  # type: ignore[arg-type]
Cookie(params={"bytes_max": 1})  # type: ignore[dict-item]

# -- Flags and Param ----------------------------------------------------------------

assert_type(Flags.MIME_TYPE | Flags.COMPRESS, Flags)
assert_type(Param.BYTES_MAX.value, int)

# -- Mapping --------------------------------------------------------------------

with Mapping.open("/bin/ls", lock=False) as mapping:
    assert_type(mapping, Mapping)
    assert_type(mapping.read(0, 16), bytes)
    assert_type(mapping.path, Optional[str])
    assert_type(mapping.immutable, bool)
    assert_type(Cookie().buffer(mapping), str)
assert_type(Mapping.from_fd(0), Mapping)
assert_type(Mapping.load(os.devnull, max_bytes=1 << 20), Mapping)

Mapping.open("/bin/ls", lock="yes")  # type: ignore[arg-type]
Mapping.from_fd("/bin/ls")  # type: ignore[arg-type]

# -- Pool and Sandbox: one batch interface ---------------------------------------------

with Pool(workers=2) as pool:
    assert_type(pool.workers, int)
    assert_type(pool.identify("/bin/ls"), str)
    assert_type(pool.submit(b"data", kind=Kind.DATA), Future[str])
    pool.submit(1.5)  # type: ignore[arg-type]  # an Item is a path, descriptor, file object, bytes-like or Mapping
    assert_type(pool.map(["/bin/ls"]), Iterator[str])
    assert_type(pool.map(["/bin/ls"], errors="raise"), Iterator[str])
    results = pool.map(["/bin/ls"], errors="return", ordered=False)
    assert_type(results, Iterator[Result])
    for result in results:
        assert_type(result.position, int)
        assert_type(result.value, Optional[str])
        assert_type(result.error, Optional[BaseException])
        assert_type(result.ok, bool)
        assert_type(result.unwrap(), str)

    async def one(p: Pool) -> str:
        return await p.aidentify("/bin/ls")

    assert_type(asyncio.run(one(pool)), str)

    pool.map(["/bin/ls"], errors="ignore")  # type: ignore[call-overload]
    pool.identify("/bin/ls", kind="paths")  # accepted as a str, refused at run time
    Pool(workers="2")  # type: ignore[arg-type]

with Sandbox(workers=1, timeout=5.0, memory_limit=256 << 20) as sandbox:
    assert_type(sandbox.identify("/bin/ls"), str)
    assert_type(sandbox.pids, list[int])
    assert_type(sandbox.replaced, int)
    assert_type(sandbox.timeout, Optional[float])
    assert_type(sandbox.params, dict[Param, int])
    assert_type(sandbox.map(["/bin/ls"], errors="return"), Iterator[Result])
    sandbox.close(cancel_pending=True)

    Sandbox(timeout="10s")  # type: ignore[arg-type]
    sandbox.close(True)  # type: ignore[call-arg]

# -- errors ---------------------------------------------------------------------

try:
    magicguard.from_file("/nonexistent")
except DatabaseError as exc:
    assert_type(exc, DatabaseError)
except (FaultError, LockError, LimitError, WorkerCrashed, magicguard.TimeoutError):
    pass
except MagicError as exc:
    assert_type(exc.errno, int)

# -- compat: python-magic's interface ------------------------------------------------

magic = compat.Magic(mime=True)
assert_type(magic.from_file("/bin/ls"), str)
assert_type(magic.from_buffer(b"data"), str)
assert_type(compat.from_file("/bin/ls", mime=True), str)

compat.Magic(mime="yes")  # type: ignore[arg-type]
