"""The command line under interruption, deep trees, odd inputs and installs.

Each test names the defect it guards against (issue 13: items 4, 7, 10;
issue 15: no ctypes/ldconfig at start-up).  Anything that could hang runs in
a child process with a timeout, so a hang is a failed test, not a stuck run.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Callable, Optional

import pytest

import magicguard
from magicguard import _lowlevel
from test_cli_parity import run_cli, run_cli_process, run_reference

# A rule glibc's regexec needs minutes for on 200 'a's (backtracking through
# the back-reference): libmagic is busy in C for as long as the test likes.
SLOW_MAGIC = b"0\tregex/1024\t(a*)*\\\\1b\tslow rule\n"
# Each start position among the a's backtracks exponentially before failing
# (no "b" follows them); the "b" at the end is there so the tuned engine's
# literal prefilter (patches/libmagic/tuning/0003: every match contains "b")
# cannot answer "no match" without running the regex.
SLOW_INPUT = b"a" * 200 + b"xb\n"


def _slow_case(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    magic = tmp_path / "slow.magic"
    magic.write_bytes(SLOW_MAGIC)
    names = []
    for i in range(count):
        path = tmp_path / f"slow{i}"
        path.write_bytes(SLOW_INPUT)
        names.append(str(path))
    return magic, names


def _interrupt(proc: subprocess.Popen[bytes], ready: Callable[[], None], why: str,
               timeout: float) -> tuple[int, float]:
    """Once ``ready()`` has returned, SIGINT to ``proc``, which must still be
    running (else fails with ``why``); its exit status and the seconds from
    the signal to its exit.  ``proc`` is killed if anything fails first."""
    try:
        ready()
        assert proc.poll() is None, why
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=timeout)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, took


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_first_sigint_ends_a_busy_run_at_once(tmp_path: Path, jobs: str) -> None:
    """Issue 13 item 4: Ctrl-C while libmagic is stuck in a slow regex.

    The command exits with status 130 within 0.5 s of the first SIGINT,
    with -j 1 and -j 2 (before: still running 30 s later; -j 2 needed a
    second SIGINT).  What was printed before is flushed: the quick file
    given first is on standard output.
    """
    magic, names = _slow_case(tmp_path, 3)
    quick = tmp_path / "quick"
    quick.write_bytes(b"quick\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "magicguard", "-m", str(magic), "-j", jobs, "-n", str(quick), *names],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )

    def ready() -> None:
        # Wait until the quick answer is out: the slow ones are then running.
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(os.fsencode(quick) + b":"), first
        time.sleep(0.5)

    status, took = _interrupt(proc, ready, "the slow rule was not slow", 30)
    assert status == 130
    assert took <= 0.5, f"exited {took:.2f} s after SIGINT"
    assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


def test_sigint_during_json_of_a_slow_stdin(tmp_path: Path) -> None:
    """Ctrl-C also ends --json on standard input (read once, then asked on
    a worker thread) within 0.5 s."""
    magic, _ = _slow_case(tmp_path, 0)
    proc = subprocess.Popen([sys.executable, "-m", "magicguard", "-m", str(magic), "--json", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ready() -> None:
        assert proc.stdin is not None
        proc.stdin.write(SLOW_INPUT)
        proc.stdin.close()
        time.sleep(1.5)

    status, took = _interrupt(proc, ready, "the slow rule was not slow", 30)
    assert (status, took <= 0.5) == (130, True), took


def _big_magic(path: Path, entries: int = 200_000) -> Path:
    """A magic source of ``entries`` rules (10 MB for 200,000): seconds for
    libmagic to load (~3 s here) or check (~14 s)."""
    with open(path, "w") as f:
        f.writelines(f"0\tstring\tKEY{i:07d}\tthing {i}\n>12\tbelong\t>0\t\\b, n=%d\n" for i in range(entries))
    return path


@pytest.mark.parametrize("action", ["load", "-c"])
def test_sigint_while_libmagic_parses_a_large_source(tmp_path: Path, action: str) -> None:
    """Ctrl-C while libmagic loads (``-m BIG FILE``) or checks (``-c -m BIG``)
    a large magic source: status 130 within 0.5 s (before: after the parse,
    seconds later), with no traceback."""
    # Loading is the faster of the two (a quiet machine's system libmagic 5.44
    # loaded 10 MB in under the second this test waits): three times the rules.
    magic = _big_magic(tmp_path / "big.magic", 600_000 if action == "load" else 200_000)
    args = ["-m", str(magic), "/dev/null"] if action == "load" else ["-c", "-m", str(magic)]
    proc = subprocess.Popen([sys.executable, "-m", "magicguard", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Start-up done, libmagic parsing after a second.
    status, took = _interrupt(proc, lambda: time.sleep(1.0),
                              "the source was parsed too fast for this test", 60)
    assert (status, took <= 0.5) == (130, True), took
    assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


# -- -R ------------------------------------------------------------------------

def test_recursive_walk_of_a_very_deep_tree(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Issue 13 item 7: -R on a tree 1,000 levels deep (before: RecursionError
    and nothing printed).  Every file at every level is found, in order."""
    depth = 1000
    top = tmp_path / "t"
    top.mkdir()
    here = top
    expected = []
    for _ in range(depth):
        (here / "f").write_bytes(b"x\n")
        expected.append(str(here / "f"))
        os.mkdir(here / "d")
        here = here / "d"
    try:
        status, out, err = run_cli(["-R", "-b", "--no-progress", "-j", "1", str(top)], capsysbinary)
        assert (status, err) == (0, b"")
        assert out.count(b"\n") == depth
        status, out, err = run_cli(["-R", "--json", str(top)], capsysbinary)
        assert status == 0
        # Sorted by name, "d" before "f": the deepest file comes first.
        assert [json.loads(line)["name"] for line in out.splitlines()] == expected[::-1]
    finally:
        # Bottom up, without recursion (shutil.rmtree recurses on 3.11,
        # and pytest's clean-up would hit the recursion limit).
        for file_name in reversed(expected):
            os.unlink(file_name)
            os.rmdir(os.path.join(os.path.dirname(file_name), "d"))


def test_walk_is_not_recursive(tmp_path: Path) -> None:
    """The walk keeps its own stack: it works with a recursion limit far
    below the tree's depth."""
    here = tmp_path
    for _ in range(120):
        here = here / "d"
    here.mkdir(parents=True)
    (here / "leaf").write_bytes(b"")
    from magicguard.cli.walk import walk

    frame: Optional[types.FrameType] = sys._getframe()
    depth = 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 40)  # room for 40 more frames; the tree is 120 deep
    try:
        found = list(walk([os.fsencode(tmp_path)], False))
    finally:
        sys.setrecursionlimit(old)
    assert found == [os.fsencode(here / "leaf")]


# -- --json --------------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.mark.parametrize("size", [len(PDF), 300_000])
def test_json_reads_a_piped_stdin_once(reference_file: str, size: int) -> None:
    """Issue 13 item 7: ``--json -`` on a pipe (before: the MIME query read an
    emptied pipe, ``application/x-empty`` for a PDF).  Description and MIME
    are file(1)'s for the same bytes on a pipe, small or larger than a pipe
    buffer."""
    data = (PDF + b"\n" * size)[:size]
    got = subprocess.run([sys.executable, "-m", "magicguard", "--json", "-"], input=data,
                         capture_output=True, timeout=60)
    assert got.returncode == 0, got.stderr
    (record,) = [json.loads(line) for line in got.stdout.splitlines()]
    described = run_reference(reference_file, ["-b", "-"], stdin=data)[1].decode().rstrip("\n")
    mime = run_reference(reference_file, ["-b", "-i", "-"], stdin=data)[1].decode().rstrip("\n")
    assert record["description"] == described and described.startswith("PDF document")
    assert (record["mime_type"], record["encoding"]) == tuple(mime.split("; charset="))
    assert record["mime_type"] == "application/pdf"


def test_json_reads_a_redirected_file_twice_from_its_offset(tmp_path: Path) -> None:
    """Standard input that is a regular file: both queries from the same offset."""
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(PDF)
    with open(pdf, "rb") as stdin:
        got = subprocess.run([sys.executable, "-m", "magicguard", "--json", "-"], stdin=stdin,
                             capture_output=True, timeout=60)
    record = json.loads(got.stdout)
    assert (record["mime_type"], record["error"], got.returncode) == ("application/pdf", None, 0)


def _as_nobody(env: dict[str, str]) -> list[str]:
    """A command prefix that drops root (chmod 000 does not stop root).

    Skips when the unprivileged user cannot run this interpreter with the
    package at all -- a checkout below a directory closed to other users
    (``mktemp -d`` makes them 0700) -- since the test then cannot reach its
    subject; an unreadable *input* is what it is about."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and no setpriv to drop privileges")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import magicguard.cli"],
                           capture_output=True, timeout=60, env=env)
    if probe.returncode != 0:
        reason = (probe.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"user 65534 cannot run this interpreter with magicguard here ({reason}): "
                    f"a directory above the checkout or the venv is closed to other users")
    return prefix


def test_json_unreadable_file_is_an_error(request: pytest.FixtureRequest, reference_file: str) -> None:
    """Issue 13 item 7: --json on a file it may not read (before: a
    description ``regular file, no read permission``, error null, status 0).
    Now an error naming the file and the reason, null values, status 1; text
    mode still prints file(1)'s description."""
    # A directory every user may enter (pytest's base directory is 0700).
    where = Path(tempfile.mkdtemp(prefix="mg-unreadable-"))
    where.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(where, ignore_errors=True))
    secret = where / "secret"
    secret.write_bytes(b"hidden\n")
    secret.chmod(0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    prefix = _as_nobody(env)
    got = subprocess.run([*prefix, sys.executable, "-m", "magicguard", "--json", str(secret)],
                         capture_output=True, timeout=60, env=env)
    assert got.returncode == 1, got.stderr
    assert got.stdout, got.stderr  # a record, not an interpreter that could not start
    record = json.loads(got.stdout)
    assert record == {"name": str(secret), "description": None, "mime_type": None, "encoding": None,
                      "error": f"cannot open `{secret}' (Permission denied)"}
    text = subprocess.run([*prefix, sys.executable, "-m", "magicguard", str(secret)],
                          capture_output=True, timeout=60, env=env)
    ref = subprocess.run([*prefix, reference_file, str(secret)], capture_output=True, timeout=60)
    assert (text.returncode, text.stdout) == (ref.returncode, ref.stdout) \
        == (0, f"{secret}: regular file, no read permission\n".encode())


@pytest.mark.parametrize("option", [[], ["-E"]])
def test_broken_link_same_in_text_and_json(tmp_path: Path, reference_file: str, option: list[str],
                                           capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Issue 13 item 7: a dangling symbolic link (before: an error in JSON, a
    description in text mode).  Without -E both describe it, status 0; with
    -E both report file(1)'s error, status 1."""
    link = tmp_path / "broken"
    os.symlink("nowhere", link)
    want = run_reference(reference_file, [*option, str(link)])
    text = run_cli_process([*option, str(link)])
    assert text[:2] == want[:2]
    status, out, _ = run_cli(["--json", *option, str(link)], capsysbinary)
    record = json.loads(out)
    assert status == want[0]
    line = want[1].decode().rstrip("\n").split(": ", 1)[1]
    if option:
        assert record["error"] == line[len("ERROR: "):] and record["description"] is None
    else:
        assert record["description"] == line == "broken symbolic link to nowhere"
        assert record["error"] is None and record["mime_type"] == "inode/symlink"


def test_json_encoding_with_uncompress(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Issue 13 item 7: with -z, ``encoding`` is the charset alone (before:
    ``us-ascii compressed-encoding=application/gzip; charset=binary``)."""
    packed = tmp_path / "t.gz"
    packed.write_bytes(gzip.compress(b"plain text\n" * 20))
    status, out, _ = run_cli(["--json", "-z", str(packed)], capsysbinary)
    record = json.loads(out)
    assert (status, record["mime_type"], record["encoding"]) == (0, "text/plain", "us-ascii")


@pytest.mark.parametrize(("mime", "expected"), [
    (b"text/plain; charset=us-ascii", (b"text/plain", b"us-ascii")),
    (b"text/plain; charset=us-ascii compressed-encoding=application/gzip; charset=binary",
     (b"text/plain", b"us-ascii")),
    (b"application/x-empty; charset=binary", (b"application/x-empty", b"binary")),
    (b"inode/symlink", (b"inode/symlink", None)),
    (b"text/x-c; charset=us-ascii\\012- text/plain; charset=utf-8", (b"text/x-c", b"us-ascii")),
])
def test_split_mime(mime: bytes, expected: tuple[bytes, bytes | None]) -> None:
    """The MIME answer's type, and its first charset value alone."""
    from magicguard.cli.output import split_mime

    assert split_mime(mime) == expected


def test_json_is_strict_utf8_and_lossless_for_any_name(tmp_path: Path,
                                                       capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Issue 13 item 7: every byte value in a name survives (``name_base64``)
    and every line passes a strict UTF-8 decoder and JSON parser (before:
    lone surrogates such as ``\\udcff``)."""
    names = []
    for i, bad in enumerate([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80abc", b"ok\xe9"]):
        name = os.path.join(os.fsencode(tmp_path), b"n%d" % i + bad)
        with open(name, "wb") as f:
            f.write(b"x\n")
        names.append(name)
    status, out, _ = run_cli(["--json", *map(os.fsdecode, names)], capsysbinary)
    assert status == 0
    for name, line in zip(names, out.decode("utf-8", "strict").splitlines()):
        record = json.loads(line)
        assert base64.b64decode(record["name_base64"]) == name
        assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in record["name"])


# -- the installed wheel: the database for -l, -c, -C ------------------------------

def test_database_actions_use_the_bundled_database(monkeypatch: pytest.MonkeyPatch,
                                                   capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Issue 13 item 10: -l and -c without -m work on the bundled database,
    not libmagic's compiled-in default (a path in the build tree, gone in an
    installed wheel); -C without -m says it needs -m."""
    if not magicguard.BUNDLED_LIBMAGIC:
        pytest.skip("the system build uses the system's default database, as file(1)")
    monkeypatch.delenv("MAGIC", raising=False)
    seen: list[object] = []
    real = _lowlevel.Handle.database_action

    def spy(self: _lowlevel.Handle, action: str, paths: bytes | None, display: str | None) -> None:
        seen.append(paths)
        real(self, action, paths, display)

    monkeypatch.setattr(_lowlevel.Handle, "database_action", spy)
    for option in ("-l", "-c"):
        status, _out, _ = run_cli([option], capsysbinary)
        assert status == 0
    assert seen == [os.fsencode(_lowlevel.BUNDLED_DATABASE)] * 2
    status, _out, err = run_cli(["-C"], capsysbinary)
    assert status == 1 and b"-C needs -m" in err and seen == seen[:2]


def test_database_actions_without_the_build_tree(tmp_path: Path) -> None:
    """Issue 13 item 10, as an installed wheel sees it: libmagic's compiled-in
    default directory is hidden (an empty tmpfs mounted over it in a private
    mount namespace); -l and -c still list and check the bundled database."""
    default = _lowlevel.getpath().split(":")[-1]
    hide = os.path.dirname(default)
    if not magicguard.BUNDLED_LIBMAGIC or not os.path.isdir(hide):
        pytest.skip("the compiled-in default directory does not exist here: nothing to hide")
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs unshare -m (root) to hide the build tree")
    script = (f"mount -t tmpfs none '{hide}' && "
              f"test ! -e '{default}.mgc' && "
              f"'{sys.executable}' -m magicguard -l | head -3 && "
              f"'{sys.executable}' -m magicguard -c; echo status=$?")
    env = {k: v for k, v in os.environ.items() if k != "MAGIC"}
    got = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, timeout=120, env=env)
    assert got.stdout.startswith(b"Set 0:\nBinary patterns:\n"), got
    assert got.stdout.endswith(b"status=0\n"), got
    assert b"could not find" not in got.stderr, got.stderr


# -- start-up ---------------------------------------------------------------------

def test_cli_start_up_loads_no_ctypes(tmp_path: Path) -> None:
    """Issue 15: the command runs no ldconfig (ctypes.util.find_library did,
    on every start) and loads no ctypes; names print through the C shim."""
    name = tmp_path / "caf\u00e9 \u4e2d\x01"
    name.write_bytes(b"x\n")
    code = ("import sys\nfrom magicguard import cli\nstatus = cli.main([sys.argv[1]])\n"
            "assert 'ctypes' not in sys.modules, 'ctypes imported'\n"
            "assert 'rich' not in sys.modules, 'rich imported'\nsys.exit(status)\n")
    got = subprocess.run([sys.executable, "-c", code, str(name)], capture_output=True, timeout=60,
                         env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert got.returncode == 0, got.stderr
    assert got.stdout == os.fsencode(name).replace(b"\x01", b"\\001") + b": ASCII text\n"


# What a one-file run may not import: each costs a measurable share of the
# run's budget (bench/RESULTS.md, "CLI start-up"), and none is needed.
CLI_UNNEEDED = ("typing", "threading", "signal", "enum", "re", "functools", "weakref", "ctypes",
                "rich", "json", "asyncio", "concurrent.futures", "magicguard.cookie",
                "magicguard.mapping", "magicguard.flags", "magicguard._validate",
                "magicguard.cli.actions")


def test_cli_one_file_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    """Issue 15: the command's entry point for one file (as a console-script
    wrapper that imports nothing itself, such as uv's, runs it; pip's imports
    ``re``, runpy ``functools``) identifies through the raw handle layer: no
    typing, no threading/signal wrappers, no enum classes, no Cookie."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import atexit, sys\n"
        f"unneeded = {CLI_UNNEEDED!r}\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted(m for m in unneeded if m in sys.modules))))\n"
        "sys.argv = ['magicguard', sys.argv[1]]\n"
        "from magicguard.cli import console_main\nconsole_main()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    got = subprocess.run([sys.executable, str(probe), "/etc/passwd"],
                         capture_output=True, timeout=60, env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout == b"/etc/passwd: ASCII text\n"
    assert got.stderr == b"[]"


def test_console_main_flushes_and_keeps_the_status(tmp_path: Path) -> None:
    """``console_main`` (the console script) ends the process without the
    interpreter's teardown: every line still reaches a pipe, the status is
    main()'s, and an atexit handler, when one is registered, still runs."""
    names = [str(tmp_path / f"f{i:05d}") for i in range(3000)]
    for n in names[:10]:
        Path(n).write_bytes(b"x\n")
    listing = tmp_path / "list"
    listing.write_text("\n".join(names) + "\n")
    base = "import sys\nfrom magicguard.cli import console_main\n"
    for extra, tail in (("", b""), ("import atexit\natexit.register(print, 'atexit ran')\n", b"atexit ran\n")):
        for args, status in ((["-f", str(listing)], 0), (["-E", "-f", str(listing)], 1)):
            code = extra + base + f"sys.argv = ['magicguard', *{args!r}]\nconsole_main()\n"
            got = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
            assert got.returncode == status, got.stderr[-500:]
            lines = got.stdout.split(b"\n")
            assert got.stdout.endswith(b"\n" + tail) and len(lines) == 3001 + bool(tail), got.stdout[-300:]
            assert lines[0].endswith(b"ASCII text") and lines[2999].startswith(os.fsencode(names[-1]))


@pytest.mark.parametrize("locale_name", ["C.UTF-8", "C"])
def test_names_print_as_file_prints_them_in_the_locale(tmp_path: Path, reference_file: str,
                                                      locale_name: str) -> None:
    """Issue 15: with iswprint/wcwidth now asked through the extension (no
    ctypes), names are escaped and padded byte for byte as file(1) does, in a
    UTF-8 locale and in the C locale: wide CJK (2 columns), combining and
    zero-width characters, C1 controls (U+0085), a no-break space, an invalid
    byte, a tab; with and without -r."""
    names = ["\u4e2d\u6587.sh", "e\u0301cole", "zero\u200bwidth", "nel\u0085x", "nb\u00a0sp",
             "tab\tx", "\uff21\uff22wide", "plain"]
    paths = [os.fsencode(tmp_path / n) for n in names] + [os.path.join(os.fsencode(tmp_path), b"bad\xffx")]
    for path in paths:
        with open(path, "wb") as f:
            f.write(b"text\n")
    args = [os.fsdecode(p) for p in paths]
    env = {"LC_ALL": locale_name}
    for options in ([], ["-r"], ["-N"]):
        want = run_reference(reference_file, [*options, *args], env=env)
        got = run_cli_process([*options, *args], env=env)
        assert got == want, options
