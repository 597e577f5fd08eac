"""The SIGBUS trap: guarded faults become FaultError, every other SIGBUS
keeps its meaning.

Every case runs in a child interpreter (``run_python``: core dumps off) and
asserts its exit status and output: a SIGBUS that is not ours must still
kill the process by SIGBUS (status -7), never hang (each child has a
timeout), and a guarded one must never kill it.

The victim in each child is a 1 MiB file mapped and then truncated to 5000
bytes: offset 8192 lies on a page wholly past the new end of file, so
reading it raises SIGBUS (BUS_ADRERR, si_code 2, on Linux).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import run_python

SIGBUS_EXIT = -signal.SIGBUS  # -7 on Linux
FH_BANNER = "Fatal Python error: Bus error"

PRELUDE = textwrap.dedent('''
    import faulthandler, mmap, os, signal, sys, tempfile, threading, time
    def victim(name="victim"):
        """A 1 MiB file, mapped, then truncated to 5000 bytes."""
        path = os.path.join(tempfile.mkdtemp(), name)
        with open(path, "wb") as f:
            f.write(b"x" * (1 << 20))
        return path
    def unguarded_read(path):
        """Read a dead page with no guard: a foreign SIGBUS."""
        fd = os.open(path, os.O_RDONLY)
        mm = mmap.mmap(fd, 1 << 20, access=mmap.ACCESS_READ)
        os.truncate(path, 5000)
        print("unguarded read", flush=True)
        return mm[8192]
''')

GUARDED = textwrap.dedent('''
    import magicguard
    from magicguard import Mapping, FaultError
    def guarded_fault(tag="trapped"):
        """A fault inside the trap, reading a dead page of a Mapping."""
        path = victim(tag)
        m = Mapping.open(path, lock=False)
        os.truncate(path, 5000)
        try:
            m.read(8192, 10)
        except FaultError as exc:
            # The exact faulting byte depends on how memcpy loads 10 bytes;
            # it lies in [8192, 8202), on the first dead page.
            assert 8192 <= exc.offset < 8202, exc.offset
            print(tag, exc.offset - exc.offset % 4096, exc.si_code, flush=True)
        else:
            print("NOT TRAPPED", flush=True)
        m.close()
    def armed_elsewhere(m):
        """A thread armed on Mapping m for 5 s, reading nothing; started."""
        from magicguard._native import ffi, lib
        def run():
            fault = ffi.new("mg_fault *")
            with m._pinned() as (address, length, _):
                lib.mg_test_touch(ffi.cast("void *", address), length, ffi.NULL, 5000, fault)
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.2)
        return t
''')


def child(*parts: str, args: tuple[str, ...] = (), timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run PRELUDE and then ``parts`` (each dedented) in a child interpreter."""
    code = PRELUDE + "\n".join(textwrap.dedent(part) for part in parts)
    return run_python(code, args=args, timeout=timeout)


def test_guarded_fault_is_trapped() -> None:
    """A read of a truncated Mapping's dead page is FaultError(offset 8192, BUS_ADRERR)."""
    proc = child(GUARDED, "guarded_fault()\nprint('alive')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["trapped 8192 2", "alive"]


def test_second_fault_on_the_same_thread_is_trapped() -> None:
    """50 faults in a row on one thread are all trapped: SIGBUS is never left
    blocked after a jump (the kernel would then force the default action)."""
    proc = child(GUARDED, "for i in range(50): guarded_fault(f't{i}')\nprint('alive')")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "alive"
    assert lines[:-1] == [f"t{i} 8192 2" for i in range(50)]


def test_foreign_fault_is_fatal() -> None:
    """With the handler installed, an unguarded read of a dead page still
    kills the process by SIGBUS."""
    proc = child(GUARDED, "guarded_fault()\nunguarded_read(victim('u'))\nprint('SURVIVED')")
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stderr)
    assert proc.stdout.splitlines() == ["trapped 8192 2", "unguarded read"]
    assert FH_BANNER not in proc.stderr


def test_foreign_fault_with_another_range_armed_is_fatal() -> None:
    """A guard on mapping A does not cover a fault on mapping B on the same thread."""
    proc = child(GUARDED, '''
        from magicguard._native import ffi, lib
        a = Mapping.open(victim("a"), lock=False)
        pb = victim("b")
        fd = os.open(pb, os.O_RDONLY)
        mb = mmap.mmap(fd, 1 << 20, access=mmap.ACCESS_READ)
        os.truncate(pb, 5000)
        dead = ffi.cast("char *", ffi.from_buffer(mb)) + 8192
        fault = ffi.new("mg_fault *")
        with a._pinned() as (address, length, _):
            print("armed", flush=True)
            lib.mg_test_touch(ffi.cast("void *", address), length, dead, 0, fault)
        print("SURVIVED", fault.faulted)
    ''')
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == ["armed"]


def test_unguarded_thread_faulting_while_another_thread_is_armed_dies() -> None:
    """Thread A is armed on mapping M; thread B reads M's dead page unguarded:
    the guard is per thread, so B's fault is foreign and fatal."""
    proc = child(GUARDED, '''
        path = victim("m")
        m = Mapping.open(path, lock=False)
        armed_elsewhere(m)
        fd = os.open(path, os.O_RDONLY)
        mm = mmap.mmap(fd, 1 << 20, access=mmap.ACCESS_READ)
        os.truncate(path, 5000)
        print("unguarded read", flush=True)
        mm[8192]
        print("SURVIVED")
    ''', timeout=30)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == ["unguarded read"]


def test_sent_sigbus_during_a_guarded_call_is_fatal() -> None:
    """kill(getpid(), SIGBUS) while a thread is armed is not a fault: it gets
    the default action even if delivered to the armed thread."""
    proc = child(GUARDED, '''
        t = armed_elsewhere(Mapping.open(victim("k"), lock=False))
        print("kill", flush=True)
        signal.pthread_kill(t.ident, signal.SIGBUS)
        t.join()
        print("SURVIVED")
    ''', timeout=30)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == ["kill"]


@pytest.mark.parametrize("scenario", ["before_import", "after_import", "disabled", "after_then_disabled"])
def test_faulthandler(scenario: str) -> None:
    """faulthandler enabled before import, after import, or disabled again
    (pytest enables it at start and disables it at exit): a guarded fault is
    still trapped, and an unguarded one still dies by SIGBUS -- with
    faulthandler's traceback while it is enabled, and without hanging when a
    disabled faulthandler (which just returns) sits below our handler."""
    steps = {
        # -X faulthandler: enabled before magicguard installs its handler.
        "before_import": "guarded_fault()",
        # Enabled after ours is installed: it goes on top; we re-install.
        "after_import": "guarded_fault('first')\nfaulthandler.enable()\nguarded_fault()",
        # Enabled before, disabled after our install: its disable() restores
        # the default action over ours; we re-install.
        "disabled": "guarded_fault('first')\nfaulthandler.disable()\nguarded_fault()",
        # Enabled after us (we re-install on top of it), then disabled: it
        # restores our handler, whose previous action is now a faulthandler
        # that returns without doing anything.
        "after_then_disabled": ("guarded_fault('first')\nfaulthandler.enable()\n"
                                "guarded_fault('second')\nfaulthandler.disable()\nguarded_fault()"),
    }[scenario]
    enabled_at_end = scenario in ("before_import", "after_import")
    args = ("-X", "faulthandler") if scenario in ("before_import", "disabled") else ()
    proc = child(GUARDED, steps + "\nprint('fh', faulthandler.is_enabled(), flush=True)\n"
                 "unguarded_read(victim('u'))\nprint('SURVIVED')", args=args, timeout=30)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert lines[-3:] == ["trapped 8192 2", f"fh {enabled_at_end}", "unguarded read"]
    assert all(" 8192 2" in line for line in lines[:-2])
    assert (FH_BANNER in proc.stderr) == enabled_at_end, proc.stderr
    if enabled_at_end:
        # The traceback names the unguarded read, not magicguard.
        assert "in unguarded_read" in proc.stderr


def test_faulthandler_toggled_between_guarded_calls() -> None:
    """faulthandler enabled and disabled 100 times, a guarded fault after
    each change: every fault is trapped (each change replaces or restores
    the action on top; every guarded entry re-installs ours), and a foreign
    fault at the end still dies promptly.

    Not covered, and documented in docs/safety.md: a handler installed by
    another thread *during* a guarded call sees that call's fault first.
    """
    proc = child(GUARDED, '''
        for i in range(100):
            faulthandler.enable()
            guarded_fault("on")
            faulthandler.disable()
            guarded_fault("off")
        unguarded_read(victim("u"))
        print("SURVIVED")
    ''', timeout=60)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stderr)
    assert proc.stdout.splitlines() == ["on 8192 2", "off 8192 2"] * 100 + ["unguarded read"]
    assert FH_BANNER not in proc.stderr


C_HANDLER = r'''
#include <signal.h>
#include <string.h>
#include <unistd.h>
static void on_bus(int sig, siginfo_t *si, void *uc) {
    char msg[] = "C-HANDLER si_code=?\n";
    (void)uc;
    msg[18] = (char)('0' + (si->si_code & 7));
    (void)write(2, msg, sizeof(msg) - 1);
    /* Give up: the default action, met by the re-executed access. */
    signal(sig, SIG_DFL);
}
int install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, NULL);
}
'''


def test_c_handler_installed_before_ours_gets_foreign_faults(tmp_path: Path) -> None:
    """A C SA_SIGINFO handler installed before magicguard never sees a guarded
    fault, and receives a foreign one (with its siginfo); when it gives up,
    the process dies by SIGBUS."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (the extension is built with one)"
    src = tmp_path / "handler.c"
    src.write_text(C_HANDLER)
    lib = tmp_path / "handler.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    proc = child(f'''
        import ctypes
        assert ctypes.CDLL({str(lib)!r}).install() == 0
    ''', GUARDED, '''
        guarded_fault()
        guarded_fault("again")
        unguarded_read(victim("u"))
        print("SURVIVED")
    ''', timeout=30)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == ["trapped 8192 2", "again 8192 2", "unguarded read"]
    assert proc.stderr.count("C-HANDLER si_code=2") == 1, proc.stderr


def test_sig_ign_before_import() -> None:
    """SIGBUS ignored before import: guarded faults are trapped, a foreign
    fault is still fatal (the kernel cannot ignore a fault)."""
    proc = child('''
        signal.signal(signal.SIGBUS, signal.SIG_IGN)
    ''', GUARDED, '''
        guarded_fault()
        unguarded_read(victim("u"))
        print("SURVIVED")
    ''', timeout=30)
    assert proc.returncode == SIGBUS_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == ["trapped 8192 2", "unguarded read"]


def test_handler_reset_by_a_third_party_is_reinstalled() -> None:
    """Someone sets SIGBUS back to SIG_DFL after our handler went in: the
    next guarded call puts it back and traps."""
    proc = child(GUARDED, '''
        from magicguard._lowlevel import sigbus_handler_status
        guarded_fault("first")
        signal.signal(signal.SIGBUS, signal.SIG_DFL)
        print("installed", int(sigbus_handler_status()[1]))
        guarded_fault()
        print("installed", int(sigbus_handler_status()[1]))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["first 8192 2", "installed 0", "trapped 8192 2",
                                        "installed 1"]


def test_mask_and_locale_unchanged_by_a_fault() -> None:
    """After a trapped fault inside libmagic the thread's signal mask is what
    it was (a blocked SIGUSR1 stays blocked, SIGBUS stays unblocked)."""
    proc = child(GUARDED, '''
        import locale
        magicguard.mapping._PRECHECK = False
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        loc = locale.setlocale(locale.LC_CTYPE)
        path = victim("l")
        m = Mapping.open(path, lock=False)
        os.truncate(path, 5000)
        c = magicguard.Cookie()
        try:
            c.buffer(m)
        except FaultError as exc:
            print("trapped", exc.si_code)
        print(signal.pthread_sigmask(signal.SIG_BLOCK, []) == before, signal.SIGBUS in before)
        print(locale.setlocale(locale.LC_CTYPE) == loc)
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["trapped 2", "True False", "True"]


def test_fresh_thread_and_forked_child_trap() -> None:
    """A new thread's first guarded call traps (its TLS needs no lazy
    allocation), and so does a forked child's."""
    proc = child(GUARDED, '''
        t = threading.Thread(target=guarded_fault, args=("thread",))
        t.start(); t.join()
        pid = os.fork()
        if pid == 0:
            guarded_fault("child")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", status)
    ''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["thread 8192 2", "child 8192 2", "child status 0"]
