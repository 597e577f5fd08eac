"""fork() with other threads inside magicguard: the child never hangs.

Before: the child hung on the shared Cookie's lock (10 of 10), on a new
Cookie or the helpers at the process lock (12 of 30), and an inherited Pool
or Sandbox hung for ever on first use. Each scenario forks while worker
threads hammer the library, in a subprocess with a timeout; the child must
answer (or, for a Sandbox, raise a clear RuntimeError) and exit 0.
"""

from __future__ import annotations

import json

from conftest import run_python

PRELUDE = r"""
import json, os, sys, threading, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads
import magicguard
from magicguard import Cookie, Flags, Mapping, Pool
PDF = b"%PDF-1.7\n" + b"x" * 4000
stop = False
shared = Cookie()
m = Mapping.open("/bin/sh")
def hammer():
    c = Cookie()
    while not stop:
        shared.buffer(PDF)
        c.buffer(m)
        magicguard.from_buffer(PDF)
        Cookie(Flags.MIME_TYPE).close()   # the process-wide lock, too
threads = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
for t in threads:
    t.start()
time.sleep(0.2)
def in_child(body, rounds):
    statuses = []
    for _ in range(rounds):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                code = body()
            except BaseException as exc:
                sys.stderr.write(f"child: {exc!r}\n")
                code = 3
            os._exit(code)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                statuses.append(os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                statuses.append("hung")
                break
            time.sleep(0.005)
    return statuses
"""


def _run(code: str) -> list[object]:
    proc = run_python(PRELUDE + code, timeout=240)
    assert proc.returncode == 0, proc.stderr
    result: list[object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_child_can_use_shared_cookie_new_cookies_helpers_and_mappings() -> None:
    statuses = _run(r"""
def body():
    ok = shared.buffer(PDF).startswith("PDF document")
    ok &= Cookie().buffer(PDF).startswith("PDF document")
    ok &= magicguard.from_buffer(PDF).startswith("PDF document")
    ok &= magicguard.from_file("/bin/sh") != ""
    ok &= Cookie().buffer(m).startswith("ELF")
    ok &= m[:4] == b"\x7fELF"
    return 0 if ok else 4
print(json.dumps(in_child(body, 30)))
stop = True
""")
    assert statuses == [0] * 30, statuses


def test_inherited_pool_restarts_its_workers_in_the_child() -> None:
    statuses = _run(r"""
pool = Pool(2)
pool.identify(PDF)
busy = [pool.submit(PDF) for _ in range(200)]   # in flight at the fork
def body():
    got = list(pool.map([PDF] * 20))
    ok = all(g.startswith("PDF document") for g in got) and len(got) == 20
    pool.close()
    return 0 if ok else 4
out = in_child(body, 10)
for f in busy:
    f.result(timeout=30)
ok_parent = pool.identify(PDF).startswith("PDF document")
pool.close()
print(json.dumps(out + [ok_parent]))
stop = True
""")
    assert statuses == [0] * 10 + [True], statuses


def test_inherited_sandbox_raises_a_clear_error_and_spares_the_parents() -> None:
    statuses = _run(r"""
from magicguard import Sandbox
sandbox = Sandbox(1, timeout=20)
sandbox.identify(PDF)
def body():
    try:
        sandbox.identify(PDF)
    except RuntimeError as exc:
        if "before a fork()" not in str(exc) or "new Sandbox" not in str(exc):
            return 5
        sandbox.close()
        return 0 if Sandbox(1).identify(PDF).startswith("PDF document") else 6
    return 4
out = in_child(body, 3)
ok_parent = sandbox.identify(PDF).startswith("PDF document")
sandbox.close()
print(json.dumps(out + [ok_parent]))
stop = True
""")
    assert statuses == [0, 0, 0, True], statuses
