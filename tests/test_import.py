"""``import magicguard`` stays light: the batch machinery, the Sandbox and
what they pull in are imported on first use, not at import."""

from __future__ import annotations

from conftest import run_python

# Everything but the package itself and _version: the names are imported on
# first use (typing ~16M instructions, threading/weakref/enum and the cffi
# extension ~30M more).
HEAVY = ("asyncio", "concurrent.futures", "rich", "ssl", "logging", "typing", "subprocess",
         "pickle", "threading", "weakref", "enum", "re", "_cffi_backend", "magicguard._native",
         "magicguard._lowlevel", "magicguard.cookie", "magicguard.mapping", "magicguard.flags",
         "magicguard.sandbox", "magicguard.pool", "magicguard._batch",
         "magicguard._sandbox_worker", "magicguard._sandbox_process", "magicguard._sandbox_protocol")


def test_import_does_not_pull_heavy_modules() -> None:
    """Before: asyncio (~44 ms), concurrent.futures, ssl and logging came with
    ``import magicguard`` (through _batch); then threading, weakref, enum and
    the extension (through Cookie, eagerly imported by ``__init__``)."""
    proc = run_python(f"""
import sys
import magicguard
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_lazy_names_still_work() -> None:
    proc = run_python("""
import magicguard
from magicguard import Pool, Sandbox, Kind, Result, UNTRUSTED_PARAMS
assert magicguard.Pool is Pool and Kind.PATH.value == "path" and UNTRUSTED_PARAMS
assert "Pool" in dir(magicguard)
with Pool(1) as pool:
    print(pool.identify(b"%PDF-1.7\\n"))
try:
    magicguard.NoSuchThing
except AttributeError as exc:
    print("AttributeError", exc)
""")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "PDF document, version 1.7"
    assert lines[1].startswith("AttributeError") and "NoSuchThing" in lines[1]


def test_cookie_import_pulls_only_what_identifying_needs() -> None:
    """``from magicguard import Cookie`` (and the helpers) loads the enum
    classes and the extension, but not typing, threading.py, weakref.py or
    contextlib (their C modules suffice), nor the batch or sandbox parts."""
    proc = run_python("""
import sys
from magicguard import Cookie, from_buffer
assert from_buffer(b"%PDF-1.7\\n") == "PDF document, version 1.7"
unneeded = ("typing", "threading", "weakref", "contextlib", "asyncio", "concurrent.futures",
            "subprocess", "pickle", "magicguard.sandbox", "magicguard.pool", "magicguard._batch")
print(sorted(m for m in unneeded if m in sys.modules))
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
