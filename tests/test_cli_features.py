"""What ``magicguard`` adds to file(1): --json, -R, -j, the progress bar,
and the robustness rules (closed stdout, files vanishing mid-run).

Expected answers still come from the reference file(1) of the same libmagic
(``reference_file``), so these tests do not drift with the database.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import magicguard
from magicguard import cli
from magicguard.cli import command as cli_command
from magicguard.cli import engine as cli_engine
from magicguard.cli import walk as cli_walk
from test_cli_parity import run_cli, run_reference


def _tree(root: Path) -> Path:
    """A small tree: nested directories, a symlink to a directory, a loop,
    a broken link, files of a few kinds, an empty directory."""
    top = root / "tree"
    (top / "a" / "deep").mkdir(parents=True)
    (top / "b").mkdir()
    (top / "empty").mkdir()
    (top / "a" / "x.txt").write_text("some text\n")
    (top / "a" / "deep" / "s.sh").write_text("#!/bin/sh\necho\n")
    (top / "b" / "data.bin").write_bytes(bytes(range(256)))
    (top / "b" / "p.py").write_text("import os\nprint(os.getcwd())\n")
    (top / "z.json").write_text('{"k": [1, 2]}\n')
    os.symlink("a", top / "alink")
    os.symlink("..", top / "b" / "up")
    os.symlink("nowhere", top / "broken")
    return top


def expected_walk(top: Path, follow: bool) -> list[str]:
    """The names -R must visit, computed independently: sorted depth-first,
    directories (followed links too, with -L) replaced by their contents,
    a link back into its own ancestry reported as a leaf."""
    out: list[str] = []

    def visit(d: Path, ancestors: set[tuple[int, int]]) -> None:
        st = d.stat()
        here = ancestors | {(st.st_dev, st.st_ino)}
        for name in sorted(os.listdir(d)):
            p = d / name
            is_dir = p.is_dir() if follow else (p.is_dir() and not p.is_symlink())
            if is_dir and (p.stat().st_dev, p.stat().st_ino) not in here:
                visit(p, here)
            else:
                out.append(str(p))

    visit(top, set())
    return out


# -- -R ------------------------------------------------------------------------

@pytest.mark.parametrize("link_option", ["-h", "-L"])
def test_recursive_matches_file_on_the_walk(link_option: str, reference_file: str, tmp_path: Path,
                                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-R prints, unpadded, what ``file -N`` prints for the walked names;
    links to directories are followed only with -L (and loops end)."""
    top = _tree(tmp_path)
    names = expected_walk(top, link_option == "-L")
    assert (str(top / "alink") in names) == (link_option == "-h")
    want = run_reference(reference_file, [link_option, "-N", *names])
    got = run_cli(["-R", link_option, str(top)], capsysbinary)
    assert got[:2] == want[:2]
    assert got[0] == 0


def test_recursive_mixes_files_and_directories(reference_file: str, tmp_path: Path, corpus: list[str],
                                               capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Operands keep their order; each directory expands in place; -j 2."""
    top = _tree(tmp_path)
    args = [corpus[0], str(top / "b"), corpus[1], str(top / "a")]
    names = [corpus[0], *expected_walk(top / "b", False), corpus[1], *expected_walk(top / "a", False)]
    want = run_reference(reference_file, ["-N", *names])
    assert run_cli(["-R", "-j", "2", *args], capsysbinary)[:2] == want[:2]


def test_recursive_unreadable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A directory that cannot be listed is an ERROR line and status 1; the
    walk goes on.  (Simulated: the tests may run as root.)"""
    top = _tree(tmp_path)
    real = os.scandir

    def scandir(path: bytes) -> object:
        if path.endswith(b"/b"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    status, out, _ = run_cli(["-R", "-j", "1", str(top)], capsysbinary)
    assert status == 1
    lines = out.decode().splitlines()
    assert f"{top}/b: ERROR: cannot read directory `{top}/b' (Permission denied)" in lines
    assert any(line.startswith(f"{top}/z.json: ") for line in lines)


def test_file_vanishing_mid_run(reference_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A file removed after the walk listed it gets file(1)'s line for a
    missing file (an ERROR line with -E, status 1) and the run goes on."""
    top = _tree(tmp_path)
    victim = top / "a" / "x.txt"
    real = os.scandir

    class Listing:
        def __init__(self, path: bytes) -> None:
            self.entries = list(real(path))
            if path.endswith(b"/a"):
                victim.unlink()

        def __enter__(self) -> Iterator[os.DirEntry[bytes]]:
            return iter(self.entries)

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(os, "scandir", Listing)
    for options, status in (([], 0), (["-E"], 1)):
        got = run_cli(["-R", "-j", "1", *options, str(top)], capsysbinary)
        lines = got[1].decode().splitlines()
        want = run_reference(reference_file, [*options, "-N", str(victim)])
        assert want[1].decode().rstrip("\n") in lines
        assert got[0] == status
        assert lines[-1].startswith(f"{top}/z.json: ")
        victim.write_text("some text\n")


def test_walk_is_lazy_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk lists a directory only when it gets there (one listing per
    level in memory), and identify_all pulls a bounded window of items."""
    top = tmp_path / "w"
    for i in range(30):
        d = top / f"d{i:02}"
        d.mkdir(parents=True)
        for j in range(20):
            (d / f"f{j:02}").write_text("x\n")
    listed: list[bytes] = []
    real = os.scandir

    def scandir(path: bytes) -> object:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    walker = cli_walk.walk([os.fsencode(top)], follow_links=False)
    first = next(walker)
    assert first == os.fsencode(top / "d00" / "f00")
    assert len(listed) == 2  # the top and d00, nothing else yet

    pulled = 0

    def items() -> Iterator[tuple[cli_engine.Settings, cli_walk.Item]]:
        nonlocal pulled
        settings = cli_engine.Settings(0, None)
        for item in cli_walk.walk([os.fsencode(top)], follow_links=False):
            pulled += 1
            yield settings, item

    import magicguard

    db = magicguard.default_database_path()
    settings = cli_engine.Settings(0, None if db is None else os.fsencode(db))
    results = cli_engine.identify_all(items(), 3, cli_engine.Worker(settings))
    next(results)
    assert pulled <= 3 * 4 * 8 + 8  # the window, not the 600 files
    assert sum(1 for _ in results) == 599


# -- --json ----------------------------------------------------------------------

def test_json_lines(reference_file: str, corpus: list[str], tmp_path: Path,
                    capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """One object per input, in order, stable keys; description and MIME as
    file(1) gives them; an error (and status 1) for a missing file."""
    names = corpus[:80]
    missing = str(tmp_path / "missing")
    status, out, _ = run_cli(["--json", *names, missing], capsysbinary)
    assert status == 1
    records = [json.loads(line) for line in out.decode("ascii").splitlines()]
    assert [r["name"] for r in records] == [*names, missing]
    assert all(list(r) == ["name", "description", "mime_type", "encoding", "error"] for r in records)
    described = run_reference(reference_file, ["-b", *names])[1].decode("utf-8", "surrogateescape")
    mimes = run_reference(reference_file, ["-b", "-i", *names])[1].decode("utf-8", "surrogateescape")
    texts, mime_lines = described.split("\n")[:-1], mimes.split("\n")[:-1]
    assert len(texts) == len(mime_lines) == len(names)
    for record, text, mime in zip(records, texts, mime_lines):
        assert record["description"] == text
        mime_type, _, charset = mime.partition("; charset=")
        assert (record["mime_type"], record["encoding"]) == (mime_type, charset)
        assert record["error"] is None
    last = records[-1]
    assert last["description"] is None and last["mime_type"] is None
    assert last["error"] == f"cannot stat `{missing}' (No such file or directory)"


def test_json_round_trips_odd_names(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A non-UTF-8 name: the line is strict UTF-8 (no lone surrogates), the
    readable ``name`` has U+FFFD for the bad byte, and ``name_base64`` gives
    the exact bytes back.  A UTF-8 name has no ``name_base64``."""
    raw = os.path.join(os.fsencode(tmp_path), b"bad\xff\n.txt")
    good = os.path.join(os.fsencode(tmp_path), "caf\u00e9.txt".encode())
    for name in (raw, good):
        with open(name, "wb") as f:
            f.write(b"text\n")
    status, out, _ = run_cli(["--json", os.fsdecode(raw), os.fsdecode(good)], capsysbinary)
    assert status == 0
    text = out.decode("utf-8")  # strict: raises on a lone surrogate's encoding
    first, second = [json.loads(line) for line in text.splitlines()]
    assert "\udcff" not in first["name"] and "\ufffd" in first["name"]
    assert base64.b64decode(first["name_base64"]) == raw
    assert first["mime_type"] == "text/plain"
    assert list(first) == ["name", "name_base64", "description", "mime_type", "encoding", "error"]
    assert second["name"].encode() == good and "name_base64" not in second
    for line in text.splitlines():  # what a strict reader does
        json.loads(line.encode("utf-8").decode("utf-8", "strict"))


def test_json_with_recursion(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--json -R: one object per file below the directory, in walk order.
    The broken link is described as text mode describes it (no -E), so no
    error and status 0."""
    top = _tree(tmp_path)
    status, out, _ = run_cli(["--json", "-R", str(top)], capsysbinary)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in records] == expected_walk(top, False)
    assert [r for r in records if r["error"] is not None] == []
    broken = next(r for r in records if r["name"] == str(top / "broken"))
    assert broken["description"] == "broken symbolic link to nowhere"
    assert status == 0


def test_json_streams(tmp_path: Path, corpus: list[str]) -> None:
    """--json writes each object as its answer arrives: with -n and a -f list
    on a pipe, the first line comes out before the list is complete."""
    proc = subprocess.Popen([sys.executable, "-m", "magicguard", "--json", "-n", "-j", "1", "-f", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(os.fsencode(corpus[0]) + b"\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output before the list ended"
        assert json.loads(proc.stdout.readline())["name"] == corpus[0]
        proc.stdin.write(os.fsencode(corpus[1]) + b"\n")
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["name"] == corpus[1]
    finally:
        proc.stdin.close() if not proc.stdin.closed else None
        assert proc.wait(30) == 0


# -- the progress bar ------------------------------------------------------------

def _run_with_tty_stderr(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run magicguard with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "magicguard", *args], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    tty = bytearray()
    assert proc.stdout is not None
    out = proc.stdout.read()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        tty.extend(chunk)
    os.close(master)
    return proc.wait(30), out, bytes(tty)


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """stderr on a terminal and -R: rich draws its bar there (and clears it);
    stdout is untouched."""
    top = _tree(tmp_path)
    status, out, tty = _run_with_tty_stderr(["-R", str(top)])
    assert status == 0
    assert b"identifying" in tty
    assert b"\x1b[" in tty  # terminal control, i.e. a live display
    assert out.count(b"\n") == len(expected_walk(top, False))
    status, _, tty = _run_with_tty_stderr(["-R", "--no-progress", str(top)])
    assert status == 0 and tty == b""


def test_no_progress_bar_when_piped(tmp_path: Path) -> None:
    """stderr not a terminal: nothing but results, however long the work."""
    top = _tree(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "magicguard", "-R", str(top)], capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr == b""
    status, _, tty = _run_with_tty_stderr([str(top / "z.json")])
    assert status == 0 and tty == b""  # a short run: no bar even on a terminal


# -- robustness ------------------------------------------------------------------

def test_closed_stdout_is_quiet(corpus: list[str]) -> None:
    """`magicguard ... | head -1`: no traceback, status EPIPE (32)."""
    proc = subprocess.Popen([sys.executable, "-m", "magicguard", "-N", *corpus, *corpus],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == 32
    assert err == b""


def test_console_script_and_module_agree(reference_file: str, corpus: list[str]) -> None:
    """The installed ``magicguard`` script and ``python -m magicguard`` print the same."""
    script = Path(sys.executable).with_name("magicguard")
    args = ["-i", *corpus[:20]]
    a = subprocess.run([str(script), *args], capture_output=True, timeout=60)
    b = subprocess.run([sys.executable, "-m", "magicguard", *args], capture_output=True, timeout=60)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout) == run_reference(reference_file, args)[:2]


def test_doctor_hook(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--doctor runs the installation check (magicguard.doctor.main): its JSON
    report on stdout, status 0 for this healthy installation."""
    status, out, err = run_cli(["--doctor"], capsysbinary)
    report = json.loads(out)
    assert (status, report["ok"], report["problems"], err) == (0, True, [], b"")
    assert report["libmagic"]["build"] == ("bundled" if magicguard.BUNDLED_LIBMAGIC else "system")


def test_failing_stdout(reference_file: str, corpus: list[str]) -> None:
    """stdout closed (``>&-``) or full (/dev/full): status 1 as file(1), no
    traceback; a full disk is named on stderr.  In a plain environment:
    PYTHONUNBUFFERED (set on some machines) would write every line at once
    and hide a failure of the buffered output's last flush."""
    args = ["-N", *corpus[:50]]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for target in ("closed", "/dev/full"):
        with open(os.devnull if target == "closed" else target, "wb") as sink:
            kwargs: dict[str, object] = {"stdout": sink}
            if target == "closed":
                kwargs = {"stdout": subprocess.DEVNULL, "preexec_fn": lambda: os.close(1)}
            ref = subprocess.run([reference_file, *args], stderr=subprocess.PIPE, timeout=60, **kwargs)  # type: ignore[call-overload]
            mg = subprocess.run([sys.executable, "-m", "magicguard", *args], stderr=subprocess.PIPE,
                                timeout=60, env=env, **kwargs)  # type: ignore[call-overload]
        assert mg.returncode == ref.returncode == 1, target
        assert b"Traceback" not in mg.stderr
        if target == "/dev/full":
            assert mg.stderr == b"magicguard: cannot write the output: No space left on device\n"


def test_jobs_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-R on one directory still uses every job; a short operand list uses
    no more threads than it has names."""
    seen: list[int] = []
    real = cli_command.identify_all

    def spy(items: object, jobs: int, first: object, batch_size: int = 8) -> object:
        seen.append(jobs)
        return real(items, jobs, first, batch_size)  # type: ignore[arg-type]

    monkeypatch.setattr(cli_command, "identify_all", spy)
    top = _tree(tmp_path)
    assert run_cli(["-R", "-j", "3", str(top)], capsysbinary)[0] == 0
    assert run_cli(["-j", "3", str(top / "z.json"), str(top / "b" / "p.py")], capsysbinary)[0] == 0
    assert seen == [3, 2]


def test_progress_bar_for_many_operands(corpus: list[str]) -> None:
    """Without -R, enough operands make the work long: a bar on the terminal."""
    names = (corpus * 2)[: cli.PROGRESS_MIN_INPUTS]
    status, out, tty = _run_with_tty_stderr(["-j", "1", *names])
    assert status == 0 and out.count(b"\n") == len(names)
    assert b"identifying" in tty
    status, _, tty = _run_with_tty_stderr(["-j", "1", *names[:-1]])
    assert status == 0 and tty == b""
