"""``magicguard`` against the real file(1) of the same libmagic and database.

Each test runs the reference ``file`` (``reference_file`` in conftest: the
build's ``build/libmagic/*/bin/file``, or ``/usr/bin/file`` for the system
build) and ``magicguard`` with the same arguments, and asserts identical
standard output and exit status (and standard error where file(1) writes one,
with its program name replaced by ours).  magicguard runs in-process through
``main(argv)``; only what needs a real process (standard input as ``-``, C
stdio output of -l/-c/-C, libmagic's own warnings) runs as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

import magicguard
from magicguard import cli

Run = tuple[int, bytes, bytes]


def _env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This process's environment (same locale as the in-process CLI) minus
    what would make the two sides differ."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAGIC", "POSIXLY_CORRECT")}
    env.update(extra or {})
    return env


def normalise(stderr: bytes) -> bytes:
    """file(1)'s stderr with its program name replaced by ``magicguard``."""
    lines = []
    for line in stderr.split(b"\n"):
        for old, new in ((b"file: ", b"magicguard: "), (b"Usage: file ", b"Usage: magicguard "),
                         (b"       file ", b"       magicguard ")):
            if line.startswith(old):
                line = new + line[len(old):]  # noqa: PLW2901 - the rewritten line replaces the original
        lines.append(line)
    return b"\n".join(lines)


def run_reference(reference: str, args: list[str], cwd: Optional[Path] = None,
                  stdin: Optional[bytes] = None, env: Optional[dict[str, str]] = None) -> Run:
    """The reference file(1), as ``file`` (argv[0]), so messages name it so."""
    proc = subprocess.run(["file", *args], executable=reference, cwd=cwd, input=stdin,
                          capture_output=True, env=_env(env), timeout=120)
    return proc.returncode, proc.stdout, normalise(proc.stderr)


def run_cli(args: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> Run:
    """magicguard in-process: status, stdout, stderr."""
    status = cli.main(args)
    out, err = capsysbinary.readouterr()
    return status, out, err


def run_cli_process(args: list[str], cwd: Optional[Path] = None, stdin: Optional[bytes] = None,
                    env: Optional[dict[str, str]] = None) -> Run:
    """magicguard as ``python -m magicguard`` (for what needs its own process)."""
    proc = subprocess.run([sys.executable, "-m", "magicguard", *args], cwd=cwd, input=stdin,
                          capture_output=True, env=_env(env), timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def extras(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Names file(1) answers without reading a regular file, and odd names:
    missing, directory, symlinks (good, broken, to a directory), FIFO,
    device, empty, non-UTF-8, control characters, wide characters."""
    d = tmp_path_factory.mktemp("extras")
    (d / "plain.txt").write_text("hello\n")
    (d / "empty").write_bytes(b"")
    os.symlink("plain.txt", d / "link")
    os.symlink("nowhere", d / "broken")
    os.symlink(str(d), d / "dirlink")
    os.mkfifo(d / "fifo")
    odd = [b"caf\xc3\xa9.txt", b"bad\xff\xfe", b"tab\tnew\nline", "中文.sh".encode(), b"nb\xc2\xa0sp"]
    for name in odd:
        with open(os.path.join(os.fsencode(d), name), "wb") as f:
            f.write(b"#!/bin/sh\necho hi\n")
    names = [d / "plain.txt", d / "empty", d / "link", d / "broken", d / "dirlink", d / "fifo",
             d / "missing", d, Path("/dev/null")]
    return [os.fspath(p) for p in names] + [os.fsdecode(os.path.join(os.fsencode(d), n)) for n in odd]


# One entry per file(1) option (or meaningful combination) the CLI mirrors.
OPTION_SETS = [
    [],
    ["-b"],
    ["-i"],
    ["--mime"],
    ["--mime-type"],
    ["--mime-encoding"],
    ["-e", "elf"],
    ["-e", "soft", "-e", "text"],
    ["--exclude=compress", "--exclude-quiet", "nonsense"],
    ["--extension"],
    ["--apple"],
    ["-F", " =>"],
    ["--separator=", "-N"],
    ["-N"],
    ["-0"],
    ["-00"],
    ["-k"],
    ["-r"],
    ["-z"],
    ["-Z"],
    ["-L"],
    ["-h"],
    ["-s"],
    ["-E"],
    ["-P", "bytes=256", "-P", "enc=64"],
    ["-bi", "-L"],
    ["-kr", "-E", "-N"],
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: " ".join(o) or "default")
def test_corpus_matches_file(options: list[str], reference_file: str, corpus: list[str],
                             extras: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Several hundred real files plus special names: same bytes, same status."""
    if not magicguard.BUNDLED_LIBMAGIC and ({"-z", "-Z"} & set(options)):
        # A system libmagic runs lzip, lz4, compress... as child processes for
        # -z; in a threaded process (the CLI's workers) their status is a
        # race ("Wait failed, No child processes").  The bundled engine never
        # starts a program (tests/test_engine.py); here the formats the system
        # library decompresses in-process are compared.
        external = (".lz", ".lz4", ".Z", ".lrz", ".lzo")
        corpus = [f for f in corpus if not f.endswith(external)]
    args = [*options, *corpus, *extras]
    want = run_reference(reference_file, args)
    got = run_cli(args, capsysbinary)
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert len(want[1]) > 0


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_jobs_keep_input_order(jobs: str, reference_file: str, corpus: list[str],
                               capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-j 1 and -j 3 print exactly what file(1) prints, in the same order."""
    want = run_reference(reference_file, ["-N", *corpus])
    got = run_cli(["-j", jobs, "-N", *corpus], capsysbinary)
    assert got[:2] == want[:2]


def test_brief_twice_depends_on_operand_count(reference_file: str, extras: list[str],
                                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-bb: brief for one operand, names for several (file.c's undocumented rule)."""
    for args in (["-bb", extras[0]], ["-bb", *extras[:3]]):
        assert run_cli(args, capsysbinary) == run_reference(reference_file, args)


def test_empty_names_print_no_name(reference_file: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """When every operand is empty the width is 0 and no name is printed."""
    for args in ([""], ["", ""], ["", "/dev/null"]):
        assert run_cli(args, capsysbinary) == run_reference(reference_file, args)


def test_posixly_correct(reference_file: str, extras: list[str], monkeypatch: pytest.MonkeyPatch,
                         capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """With POSIXLY_CORRECT, options end at the first operand and -L is the default."""
    monkeypatch.setenv("POSIXLY_CORRECT", "1")
    args = [extras[2], "-b", extras[0]]
    want = run_reference(reference_file, args, env={"POSIXLY_CORRECT": "1"})
    assert run_cli(args, capsysbinary) == want
    assert b"-b:" in want[1]


# -- bad input: the same message and status -----------------------------------

BAD_USAGE = [
    [],
    ["-x", "/dev/null"],
    ["--mim", "/dev/null"],
    ["--foo=bar", "/dev/null"],
    ["--help=1"],
    ["-e"],
    ["--exclude"],
    ["-e", "bogus", "/dev/null"],
    ["-P", "foo=1", "/dev/null"],
    ["-P", "bytes", "/dev/null"],
    ["--sep"],
    ["-f", "/nonexistent-list", "/dev/null"],
    ["-E", "/nonexistent", "/dev/null"],
    ["-m", "/nonexistent-magic", "/dev/null"],
    ["-C", "-f", "/dev/null"],
    ["-x", "-P", "nope=1"],
    ["--", "-x"],
]


@pytest.mark.parametrize("args", BAD_USAGE, ids=lambda a: " ".join(a) or "nothing")
def test_bad_input_like_file(args: list[str], reference_file: str,
                             capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Usage errors, unknown params, unreadable lists and databases."""
    want = run_reference(reference_file, args)
    assert run_cli(args, capsysbinary) == want


@pytest.mark.parametrize("param", ["bytes=300", "by=300", "=300", "indir=0", "name=5", "regex=10",
                                   "elf_phnum=1", "elf_shnum=1", "elf_notes=1", "encoding=10"])
def test_parameters(param: str, reference_file: str, corpus: list[str],
                    capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-P: every name, file(1)'s prefix matching, and the effect on answers."""
    args = ["-P", param, *corpus[:60]]
    assert run_cli(args, capsysbinary) == run_reference(reference_file, args)


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999", "5x"])
def test_parameter_values_are_checked(value: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Where file(1) would pass atoi()'s garbage to libmagic (and -1 makes it
    read into a tiny buffer), magicguard refuses, with status 1."""
    status, out, err = run_cli(["-P", f"bytes={value}", "/dev/null"], capsysbinary)
    assert (status, out) == (1, b"")
    assert err == (f"magicguard: Bad value `{value}' for param bytes"
                   " (want an integer from 0 to 2147483647)\n").encode()


def test_bad_jobs(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    status, out, err = run_cli(["-j", "0", "/dev/null"], capsysbinary)
    assert (status, out) == (1, b"")
    assert err == b"magicguard: Bad number of jobs `0' (want a positive integer)\n"


# -- -f lists ------------------------------------------------------------------

def _list_file(tmp_path: Path, names: list[bytes]) -> Path:
    path = tmp_path / "list"
    path.write_bytes(b"".join(n + b"\n" for n in names))
    return path


def test_files_from(reference_file: str, corpus: list[str], extras: list[str], tmp_path: Path,
                    capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-f: padding to the list's widest name, an empty line, a last line
    without newline, options before -f apply, options after it do not."""
    names = [os.fsencode(n) for n in corpus[:40] + extras] + [b""]
    listing = _list_file(tmp_path, names)
    with open(listing, "ab") as f:
        f.write(b"/dev/null")
    for args in (["-f", str(listing)],
                 ["-b", "-f", str(listing), "-i", extras[0]],
                 ["-n", "-f", str(listing)],
                 ["-f", str(listing), "-f", str(listing), extras[0], extras[1]],
                 ["-E", "-f", str(listing), "/dev/null"],
                 ["-f", str(tmp_path)]):
        assert run_cli(args, capsysbinary) == run_reference(reference_file, args), args


def test_files_from_stdin(reference_file: str, corpus: list[str], capsysbinary: pytest.CaptureFixture[bytes],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """-f -: the list comes from standard input."""
    import io

    data = b"".join(os.fsencode(n) + b"\n" for n in corpus[:30])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    got = run_cli(["-f", "-"], capsysbinary)
    assert got == run_reference(reference_file, ["-f", "-"], stdin=data)


def test_standard_input_operand(reference_file: str, corpus: list[str]) -> None:
    """``-`` is standard input, shown as /dev/stdin, padded by the width of '-'."""
    data = Path(corpus[0]).read_bytes()
    for args in (["-"], ["-", corpus[1]], ["-b", "-"], ["-i", "-"]):
        got = run_cli_process(args, stdin=data)
        assert got == run_reference(reference_file, args, stdin=data), args


# -- database actions and information ------------------------------------------

MAGIC_SOURCE = b"""\
0\tstring\tMGTEST\tmagicguard test data
>6\tbyte\tx\t\\b, version %d
!:mime\tapplication/x-magicguard-test
0\tstring\tZZTOP\tzz top data
"""


@pytest.mark.parametrize("action", ["-l", "-c", "-C"])
def test_database_actions(action: str, reference_file: str, tmp_path: Path) -> None:
    """-l, -c and -C on a small magic source: same output, same .mgc bytes."""
    for side in ("ref", "mg"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "tiny").write_bytes(MAGIC_SOURCE)
    want = run_reference(reference_file, [action, "-m", "tiny"], cwd=tmp_path / "ref")
    got = run_cli_process([action, "-m", "tiny"], cwd=tmp_path / "mg")
    assert got == want
    if action == "-C":
        assert (tmp_path / "mg" / "tiny.mgc").read_bytes() == (tmp_path / "ref" / "tiny.mgc").read_bytes()
        sample = tmp_path / "sample"
        sample.write_bytes(b"MGTEST\x07rest")
        args = ["-m", str(tmp_path / "mg" / "tiny.mgc"), "-i", str(sample)]
        assert run_cli_process(args) == run_reference(reference_file, args)


def test_database_warnings_and_failures(reference_file: str, tmp_path: Path) -> None:
    """A magic file with a bad line: libmagic's warnings and file(1)'s message."""
    bad = tmp_path / "bad"
    bad.write_bytes(b"0\tstrin\tx\ty\n")
    for args in (["-m", str(bad), "/dev/null"], ["-C", "-m", str(bad)], ["-c", "-m", str(bad)]):
        assert run_cli_process(args, cwd=tmp_path) == run_reference(reference_file, args, cwd=tmp_path), args


def test_version(reference_file: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """-v: file(1)'s two lines; the first names magicguard's own version and
    libmagic's (``magicguard-0.1.0 (libmagic 5.46)`` where file says
    ``file-5.46``), the second the database we load."""
    import magicguard

    status, out, _ = run_cli(["-v"], capsysbinary)
    want = run_reference(reference_file, ["-v"])
    assert status == want[0] == 0
    lines = out.decode().splitlines()
    libmagic = want[1].decode().splitlines()[0][len("file-"):]
    assert lines[0] == f"magicguard-{magicguard.__version__} (libmagic {libmagic})"
    expected = magicguard.default_database_path() or want[1].decode().splitlines()[1][len("magic file from "):]
    assert lines[1] == f"magic file from {expected}"
    status, out, _ = run_cli(["-m", "/some/where", "--version"], capsysbinary)
    assert out.decode().splitlines()[1] == "magic file from /some/where"


def test_help(reference_file: str, capsysbinary: pytest.CaptureFixture[bytes],
              monkeypatch: pytest.MonkeyPatch) -> None:
    """--help: file(1)'s text for this libmagic (tests, params and defaults),
    then magicguard's own options; with POSIXLY_CORRECT -L is the default."""
    for posix in (False, True):
        env = {"POSIXLY_CORRECT": "1"} if posix else {}
        if posix:
            monkeypatch.setenv("POSIXLY_CORRECT", "1")
        status, out, _ = run_cli(["--help", "/dev/null"], capsysbinary)
        want = run_reference(reference_file, ["--help"], env=env)
        assert status == want[0] == 0
        body = want[1].replace(b"Usage: file ", b"Usage: magicguard ")
        body = body[: body.index(b"\nReport bugs")]
        assert out.startswith(body + b"\n")
        assert b"--json" in out[len(body):] and b"--recursive" in out[len(body):]
