"""Signal handlers that re-enter magicguard: never wrong bytes, never a hang.

A Python signal handler runs between two bytecodes of whatever the main
thread is doing -- for instance between libmagic's return and the copy of
its answer. Each scenario runs in a subprocess with a timeout (a hang is a
failure, not a stuck suite) under a 1 ms SIGALRM whose handler uses the
same objects as the interrupted code, and counts wrong answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import run_python

PRELUDE = r"""
import json, signal, sys, time
import magicguard
from magicguard import Cookie, Mapping
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06"
       b"\x00\x00\x00" + bytes(40))
PDF = b"%PDF-1.7\n" + b"x" * 100
def storm(handler, body, seconds, interval=0.001, until=None):
    # body() for `seconds` (and, with `until`, on until it returns true, at
    # most 60 s more) under a SIGALRM every `interval` seconds.
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, interval, interval)
    end = time.monotonic() + seconds
    n = 0
    try:
        while time.monotonic() < end or (until is not None and not until() and time.monotonic() < end + 60):
            body()
            n += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    return n
"""


def _run(code: str, timeout: float = 90) -> dict[str, Any]:
    proc = run_python(PRELUDE + code, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_handler_reentering_the_same_cookie_never_gets_wrong_bytes() -> None:
    """Before: 2,920 wrong answers in 76,890 calls (the interrupted call
    returned bytes of a block the handler's call had freed)."""
    out = _run(r"""
c = Cookie()
want, want_pdf = c.buffer(PNG), c.buffer(PDF)
wrong = {"main": 0, "handler": 0, "errors": 0, "handled": 0}
def handler(sig, frame):
    wrong["handled"] += 1
    try:
        wrong["handler"] += c.buffer(PDF) != want_pdf
        wrong["handler"] += c.buffer(bytearray(PDF)) != want_pdf
    except Exception:
        wrong["errors"] += 1
def body():
    wrong["main"] += c.buffer(PNG) != want
    wrong["main"] += c.buffer(memoryview(PNG)) != want
n = storm(handler, body, 3)
print(json.dumps(dict(wrong, calls=n)))
""")
    assert out["handled"] > 100  # the handler did interrupt the loop
    assert (out["main"], out["handler"], out["errors"]) == (0, 0, 0), out


def test_handler_using_the_helpers_never_gets_wrong_bytes() -> None:
    """from_buffer/from_file share per-thread Cookies with the code the
    handler interrupts (before: 3,340 wrong answers in 102,106 calls)."""
    out = _run(r"""
want = magicguard.from_buffer(PNG)
want_pdf = magicguard.from_buffer(PDF)
want_sh = magicguard.from_file("/bin/sh")
wrong = {"main": 0, "handler": 0, "errors": 0}
def handler(sig, frame):
    try:
        wrong["handler"] += magicguard.from_buffer(PDF) != want_pdf
        wrong["handler"] += magicguard.from_file("/bin/sh") != want_sh
    except Exception:
        wrong["errors"] += 1
def body():
    wrong["main"] += magicguard.from_buffer(PNG) != want
n = storm(handler, body, 3)
print(json.dumps(dict(wrong, calls=n)))
""")
    assert (out["main"], out["handler"], out["errors"]) == (0, 0, 0), out


def test_close_from_a_handler_never_frees_under_a_running_call() -> None:
    """A handler that closes the Cookie the main thread is using: every call
    returns the right answer or raises "closed" (before: garbage in 295 of
    300 trials, or a cffi TypeError)."""
    out = _run(r"""
import random
counts = {"right": 0, "closed": 0, "wrong": 0, "other": 0}
want = Cookie().buffer(PNG)
for trial in range(300):
    c = Cookie()
    def handler(sig, frame, c=c):
        c.close()
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, random.uniform(0.00005, 0.002))
    end = time.monotonic() + 0.01
    while time.monotonic() < end:
        try:
            got = c.buffer(PNG)
        except ValueError as exc:
            counts["closed" if "closed" in str(exc) else "other"] += 1
            break
        except Exception:
            counts["other"] += 1
            break
        counts["right" if got == want else "wrong"] += 1
    signal.setitimer(signal.ITIMER_REAL, 0)
print(json.dumps(counts))
""")
    assert out["wrong"] == 0 and out["other"] == 0, out
    assert out["closed"] > 0 and out["right"] > 0, out


def test_handler_identifying_a_mapping_in_use_does_not_deadlock(tmp_path: object) -> None:
    """The handler identifies the Mapping the main thread is identifying,
    with the same and with another Cookie (before: hung for ever on the
    Mapping's identify lock)."""
    out = _run(r"""
c, other = Cookie(), Cookie()
m = Mapping.open("/bin/sh")
want = c.buffer(m)
counts = {"main": 0, "handler": 0, "errors": 0, "handled": 0}
def identify_in_handler():
    counts["handler"] += c.buffer(m) != want
    counts["handler"] += other.buffer(m) != want
    counts["handler"] += m[:4] != b"\x7fELF"
def handler(sig, frame):
    counts["handled"] += 1
    try:
        identify_in_handler()
    except Exception as exc:
        counts["errors"] += 1
def body():
    counts["main"] += c.buffer(m) != want
    counts["main"] += m[1:4] != b"ELF"
# The timer leaves the main thread time between two runs of the handler: one
# slower than the period (an emulated CPU) would run again at once, and the
# main thread would never move -- a livelock of the test, not the deadlock it
# looks for.  1 ms natively (the handler takes well under it).
start = time.monotonic(); identify_in_handler(); cost = time.monotonic() - start
n = storm(handler, body, 3, interval=max(0.001, 3 * cost), until=lambda: counts["handled"] > 60)
print(json.dumps(dict(counts, calls=n)))
""", timeout=150)
    assert out["handled"] > 50
    assert (out["main"], out["handler"], out["errors"]) == (0, 0, 0), out


def test_handler_closing_a_mapping_in_use_raises_and_frees_nothing() -> None:
    """close() of a Mapping from a handler while the main thread reads it
    raises BufferError in the handler; the read completes correctly."""
    out = _run(r"""
c = Cookie()
m = Mapping.open("/bin/sh")
want = c.buffer(m)
counts = {"wrong": 0, "buffer_error": 0, "closed_ok": 0, "other": 0}
def handler(sig, frame):
    # Another signal may come before the main thread sees the Mapping closed
    # (on a loaded or emulated CPU): closing it again is a no-op, not counted.
    if m.closed:
        return
    try:
        m.close()
        counts["closed_ok"] += 1
    except BufferError:
        counts["buffer_error"] += 1
def body():
    try:
        counts["wrong"] += c.buffer(m) != want
    except ValueError:
        raise SystemExit
try:
    storm(handler, body, 2)
except SystemExit:
    pass
except Exception:
    counts["other"] += 1
print(json.dumps(counts))
""", timeout=60)
    assert out["wrong"] == 0 and out["other"] == 0, out
    assert out["closed_ok"] == 1, out


@pytest.mark.parametrize("action", ["flags", "load", "setparam"])
def test_handler_changing_configuration_mid_call_does_not_deadlock(action: str) -> None:
    """Configuration changes from a handler (taking the Cookie's Python lock
    while the main thread may hold it) finish; answers stay valid."""
    out = _run(r"""
from magicguard import Flags, Param
action = %r
c = Cookie()
valid = {c.buffer(PNG)}
c.flags = Flags.MIME_TYPE
valid.add(c.buffer(PNG))
c.flags = Flags.NONE
counts = {"invalid": 0, "errors": 0}
first_error = []
busy = []
def handler(sig, frame):
    # load() can take longer than the 1 ms timer: a tick arriving inside the
    # handler runs the handler again, nested, until RecursionError -- the
    # test's own recursion, not the Cookie's.  One handler at a time.
    if busy:
        return
    busy.append(1)
    try:
        if action == "flags":
            c.flags = Flags.MIME_TYPE if c.flags == Flags.NONE else Flags.NONE
        elif action == "load":
            c.load()
        else:
            c.setparam(Param.BYTES_MAX, 1 << 20)
    except Exception as exc:
        counts["errors"] += 1
        first_error[:] = first_error or [repr(exc)]
    finally:
        busy.clear()
def body():
    counts["invalid"] += c.buffer(PNG) not in valid
    c.flags = Flags.NONE
storm(handler, body, 2)
print(json.dumps(dict(counts, first_error=first_error[0] if first_error else None)))
""" % action, timeout=60)  # noqa: UP031 - the template is Python source full of braces
    assert out == {"invalid": 0, "errors": 0, "first_error": None}
