"""Bad input gets a clear exception naming the problem: never a crash or a hang."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import magicguard
from conftest import run_python
from magicguard import Cookie, DatabaseError, Flags, MagicError, Param


@pytest.fixture
def cookie() -> Cookie:
    return Cookie()


def test_missing_path(cookie: Cookie, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError) as info:
        cookie.file(missing)
    assert info.value.filename == str(missing)


def test_directory(cookie: Cookie, tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        cookie.file(tmp_path)
    assert info.value.filename == str(tmp_path)


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    """A FIFO with no writer is described as file -b does without DEVICES
    (never opened), and refused at once with DEVICES (reading would wait)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with Cookie() as cookie:
        assert cookie.file(fifo) == "fifo (named pipe)"
    for flags in (Flags.DEVICES,):
        with Cookie(flags) as cookie, pytest.raises(ValueError, match="is a FIFO"):
            cookie.file(fifo)


def test_socket(cookie: Cookie, tmp_path: Path) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ValueError, match="is a socket"):
            cookie.file(path)


def test_permission_denied(tmp_path: Path) -> None:
    """An unreadable file raises PermissionError naming it (as an unprivileged
    user: root reads anything, so the check runs in a child that drops to
    nobody when the suite runs as root, after loading the database, which
    may sit where nobody cannot read)."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"%PDF-1.7\n")
    secret.chmod(0)
    for parent in [tmp_path, *tmp_path.parents]:  # let nobody reach the file itself
        if parent != Path("/"):
            parent.chmod(parent.stat().st_mode | 0o055)
    code = f"""
import os, magicguard
cookie = magicguard.Cookie()
if os.getuid() == 0:
    os.setgid(65534); os.setuid(65534)
try:
    cookie.file({str(secret)!r})
except PermissionError as exc:
    print("PermissionError", exc.filename)
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"PermissionError {secret}"


def test_nul_in_path(cookie: Cookie) -> None:
    with pytest.raises(ValueError, match="NUL byte"):
        cookie.file("/bin/ls\0x")
    with pytest.raises(ValueError, match="NUL byte"):
        cookie.load("a\0b")


def test_wrong_path_type(cookie: Cookie) -> None:
    with pytest.raises(TypeError, match=r"path must be str or os\.PathLike, not int"):
        cookie.file(3)  # type: ignore[arg-type]


def test_str_to_buffer(cookie: Cookie) -> None:
    with pytest.raises(TypeError, match="not str; encode it first"):
        cookie.buffer("%PDF-1.7")  # type: ignore[arg-type]  # the error a caller without mypy gets


def test_non_buffer_to_buffer(cookie: Cookie) -> None:
    with pytest.raises(TypeError, match=r"buffer protocol.*not list"):
        cookie.buffer([1, 2, 3])  # type: ignore[arg-type]  # the run-time check, as above


def test_negative_descriptor(cookie: Cookie) -> None:
    with pytest.raises(ValueError, match=r"non-negative.*-1"):
        cookie.descriptor(-1)


def test_closed_descriptor(cookie: Cookie) -> None:
    fd = os.open("/bin/ls", os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError, match=f"Bad file descriptor: descriptor {fd}") as info:
        cookie.descriptor(fd)
    assert info.value.errno == 9


def test_closed_file_object(cookie: Cookie) -> None:
    with open("/bin/ls", "rb") as f:
        pass
    with pytest.raises(ValueError, match="closed"):
        cookie.descriptor(f)


def test_bool_descriptor(cookie: Cookie) -> None:
    with pytest.raises(TypeError, match="not bool"):
        cookie.descriptor(True)


def test_directory_descriptor(cookie: Cookie, tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(IsADirectoryError, match=f"descriptor {fd}"):
            cookie.descriptor(fd)
    finally:
        os.close(fd)


def test_unknown_flag_bits() -> None:
    with pytest.raises(ValueError, match="unknown flag bits 0x40000000"):
        Cookie(1 << 30)
    with pytest.raises(ValueError, match="unknown flag bits"):
        Cookie(-1)
    with Cookie() as cookie, pytest.raises(ValueError, match="unknown flag bits 0x80000000"):
        cookie.flags = 1 << 31
    with pytest.raises(TypeError, match="flags must be Flags or int, not str"):
        Cookie("mime")  # type: ignore[arg-type]


def test_unknown_params(cookie: Cookie) -> None:
    with pytest.raises(ValueError, match="unknown param 42"):
        cookie.getparam(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown param 42"):
        cookie.setparam(42, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown param -5"):
        Cookie(params={-5: 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="param must be Param, not str"):
        cookie.getparam("bytes")  # type: ignore[arg-type]


def test_bad_param_values(cookie: Cookie) -> None:
    with pytest.raises(ValueError, match="BYTES_MAX must not be negative, got -1"):
        cookie.setparam(Param.BYTES_MAX, -1)
    with pytest.raises(ValueError, match=r"NAME_MAX must be at most 65535.*got 65536"):
        cookie.setparam(Param.NAME_MAX, 65536)
    with pytest.raises(ValueError, match="REGEX_MAX must be at most 65535"):
        Cookie(params={Param.REGEX_MAX: 1 << 20})
    with pytest.raises(TypeError, match="INDIR_MAX must be int, not float"):
        cookie.setparam(Param.INDIR_MAX, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be int, not bool"):
        cookie.setparam(Param.INDIR_MAX, True)
    assert cookie.getparam(Param.NAME_MAX) == Cookie().getparam(Param.NAME_MAX)  # unchanged


def test_missing_database_file(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"magic_load \(.*nope.mgc\): No such file or directory"):
        Cookie(database=tmp_path / "nope.mgc")


def test_corrupt_database_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Binary garbage is refused before libmagic (which would parse it as a
    source and flood stderr)."""
    bad = tmp_path / "bad.mgc"
    bad.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(DatabaseError, match=r"bad\.mgc: neither a compiled magic database"):
        Cookie(database=bad)
    assert capfd.readouterr().err == ""


def test_truncated_database_file(tmp_path: Path) -> None:
    """A compiled database cut short fails with libmagic's reason."""
    real = Path(magicguard.default_database_path() or "/usr/share/misc/magic.mgc").read_bytes()
    cut = tmp_path / "cut.mgc"
    cut.write_bytes(real[:100_001])
    with pytest.raises(DatabaseError, match=r"cut\.mgc"):
        Cookie(database=cut)


def test_corrupt_database_buffer() -> None:
    """A buffer with a valid header but a wrong size, and random bytes."""
    real = Path(magicguard.default_database_path() or "/usr/share/misc/magic.mgc").read_bytes()
    with pytest.raises(DatabaseError, match="magic_load_buffers: Size of `buffer' 5000 is not a multiple"):
        Cookie(database=real[:8] + b"\0" * 4992)
    with pytest.raises(DatabaseError, match="magic_load_buffers"):
        Cookie(database=os.urandom(432 * 10))
    with pytest.raises(ValueError, match="empty buffer"):
        Cookie(database=b"")


def test_bad_database_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty list"):
        Cookie(database=[])
    with pytest.raises(TypeError, match="only paths or only buffers"):
        Cookie(database=[b"x", str(tmp_path)])
    with pytest.raises(TypeError, match="database must be None, a path"):
        Cookie(database=42)  # type: ignore[arg-type]  # the run-time check
    with pytest.raises(ValueError, match="contains ':'"):
        Cookie(database="/tmp/a:b")


def test_bundled_database_missing_is_a_clear_error(tmp_path: Path) -> None:
    """A broken install (database file gone) raises DatabaseError naming it."""
    if not magicguard.BUNDLED_LIBMAGIC:
        pytest.skip("the system build has no bundled database")
    code = """
import magicguard._lowlevel as low, magicguard
low.BUNDLED_DATABASE = {missing!r}
low.default_database_path = lambda: {missing!r}
try:
    magicguard.Cookie()
except magicguard.DatabaseError as exc:
    print(type(exc).__name__, exc)
""".format(missing=str(tmp_path / "gone.mgc"))
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("DatabaseError the bundled database is missing")


def test_magic_error_is_catchable_as_base() -> None:
    """DatabaseError is a MagicError; MagicError carries errno and function."""
    assert issubclass(DatabaseError, MagicError)
    err = MagicError("boom", errno=5, function="magic_file", path="/x")
    assert (str(err), err.errno, err.function, err.path) == ("boom", 5, "magic_file", "/x")


def test_python_never_sees_a_crash_on_fuzzed_buffers() -> None:
    """Random and mutated data through buffer(): always a str, in a child so a
    crash would be a red test."""
    code = """
import random, magicguard
rng = random.Random(7)
seeds = [open(p, 'rb').read(4096) for p in ('/bin/ls', '/etc/passwd')]
c = magicguard.Cookie()
for i in range(400):
    base = bytearray(rng.choice(seeds))
    for _ in range(rng.randrange(1, 40)):
        base[rng.randrange(len(base))] = rng.randrange(256)
    assert isinstance(c.buffer(bytes(base[:rng.randrange(len(base))])), str)
print('ok')
"""
    out = run_python(code, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr[-2000:]


# -- nothing on stderr; clear database errors (issue 13, item 8) ------------

import errno as _errno_mod  # noqa: E402

from magicguard import BUNDLED_LIBMAGIC  # noqa: E402

_bundled_only = pytest.mark.skipif(not BUNDLED_LIBMAGIC,
                                   reason="the system libmagic prints its warnings itself")


def _database_of_format(path: Path, version: int) -> Path:
    path.write_bytes((0xF11E041C).to_bytes(4, "little") + version.to_bytes(4, "little")
                     + bytes(range(256)) * 64)
    return path


@_bundled_only
def test_database_of_another_version_is_one_error_and_silent(tmp_path: Path,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Before: libmagic re-read it as a source and printed ~65 lines of
    'Warning: offset ... invalid' before the DatabaseError."""
    old = _database_of_format(tmp_path / "old.mgc", 18)
    with pytest.raises(DatabaseError) as info:
        Cookie(database=old)
    assert "format 18" in str(info.value) and "format 20" in str(info.value)
    this = "{}.{}".format(*divmod(magicguard.libmagic_version(), 100))
    assert f"this libmagic ({this})" in str(info.value)
    assert capfd.readouterr() == ("", "")


def test_missing_database_says_no_such_file(tmp_path: Path) -> None:
    """Before: "could not find any valid magic files!" with errno 0."""
    with pytest.raises(DatabaseError) as info:
        Cookie(database=tmp_path / "nonexistent.mgc")
    assert "No such file or directory" in str(info.value)
    assert info.value.errno == _errno_mod.ENOENT


@_bundled_only
def test_check_of_missing_and_broken_files_prints_nothing(tmp_path: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.magic"
    broken.write_text("0\tstrin\tMGTEST\tx\n>>>> bad\n")
    with Cookie() as cookie:
        assert cookie.check(tmp_path / "missing.magic") is False
        assert any("No such file" in line for line in cookie.messages)
        assert cookie.check(broken) is False
        assert any("type `strin" in line for line in cookie.messages), cookie.messages
        with pytest.raises(DatabaseError) as info:
            cookie.compile(broken)
        assert any("invalid" in line for line in info.value.messages)
    with pytest.raises(DatabaseError) as info:
        Cookie(database=broken)
    assert "libmagic said" in str(info.value) and info.value.messages
    assert capfd.readouterr() == ("", "")
