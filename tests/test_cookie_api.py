"""Every Cookie method, flags and params, databases from paths and memory."""

from __future__ import annotations

import errno
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import magicguard
from magicguard import Cookie, DatabaseError, Flags, MagicError, Param
from magicguard.flags import PARAM_LIMITS

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
SOURCE = b"0\tstring\tMGTEST\tmagicguard test format\n!:mime\tapplication/x-mgtest\n"


def test_helpers_match_cookie() -> None:
    """from_file/from_buffer answer as a default Cookie, MIME with mime=True."""
    assert magicguard.from_buffer(PDF) == "PDF document, version 1.7"
    assert magicguard.from_buffer(PDF, mime=True) == "application/pdf"
    # A PIE executable of the checked-in corpus (an ELF file on every
    # platform, unlike /bin/ls, which is Mach-O on macOS).
    pie = Path(__file__).parent / "corpus" / "files" / "elf-pie"
    with Cookie() as cookie:
        assert magicguard.from_file(pie) == cookie.file(pie)
        assert magicguard.from_file("/bin/ls") == cookie.file("/bin/ls")
    assert magicguard.from_file(pie, mime=True) == "application/x-pie-executable"


def test_version_and_package_version() -> None:
    """__version__ is the distribution's; libmagic_version an int like 546."""
    from importlib.metadata import version

    assert magicguard.__version__ == version("magicguard")
    assert isinstance(magicguard.libmagic_version(), int)


def test_default_database_is_the_bundled_file() -> None:
    """The bundled build loads its own magic.mgc by explicit path."""
    path = magicguard.default_database_path()
    if magicguard.BUNDLED_LIBMAGIC:
        assert path is not None and Path(path).is_file()
        assert Path(path).read_bytes()[:4] == bytes.fromhex("1c041ef1")
    else:
        assert path is None


def test_context_manager_and_close() -> None:
    """close() is idempotent; a closed Cookie raises ValueError like a closed file."""
    with Cookie() as cookie:
        assert not cookie.closed
    assert cookie.closed
    cookie.close()
    for call in (lambda: cookie.file("/bin/ls"), lambda: cookie.buffer(b"x"),
                 lambda: cookie.descriptor(0), lambda: cookie.flags,
                 lambda: cookie.getparam(Param.BYTES_MAX), lambda: cookie.error,
                 cookie.load, cookie.check):
        with pytest.raises(ValueError, match="closed Cookie"):
            call()
    with pytest.raises(ValueError, match="closed Cookie"):
        with cookie:
            pass


def test_flags_property_round_trip() -> None:
    """The flags property reads libmagic's flags and setting it changes answers."""
    with Cookie(Flags.MIME_TYPE) as cookie:
        assert cookie.flags == Flags.MIME_TYPE
        assert cookie.buffer(PDF) == "application/pdf"
        cookie.flags = Flags.NONE
        assert cookie.flags == Flags.NONE
        assert cookie.buffer(PDF) == "PDF document, version 1.7"
        cookie.flags = int(Flags.MIME)
        assert cookie.buffer(b"hello\n") == "text/plain; charset=us-ascii"


def test_every_flag_member_is_a_distinct_header_value() -> None:
    """Flags carry the header's values (spot checks against magic.h 5.4x) and
    every NO_CHECK_* is included in NO_CHECK_BUILTIN except SOFT."""
    assert Flags.MIME == Flags.MIME_TYPE | Flags.MIME_ENCODING == 0x410
    assert Flags.NODESC == Flags.EXTENSION | Flags.MIME | Flags.APPLE
    # .value: mypy takes aliases of one value for distinct literals.
    assert Flags.NO_CHECK_ASCII.value == Flags.NO_CHECK_TEXT.value
    assert Flags.NO_CHECK_FORTRAN.value == Flags.NO_CHECK_TROFF.value == 0
    for member in Flags:
        if member.name and member.name.startswith("NO_CHECK_") and member.value \
                and member not in (Flags.NO_CHECK_SOFT, Flags.NO_CHECK_BUILTIN):
            assert member & Flags.NO_CHECK_BUILTIN == member, member


@pytest.mark.parametrize("param", [p for p in Param if p.supported])
def test_every_param_get_set(param: Param) -> None:
    """Each param reads back what was set, and a fresh Cookie has libmagic's default."""
    with Cookie() as cookie:
        default = cookie.getparam(param)
        assert default > 0
        cookie.setparam(param, default + 1)
        assert cookie.getparam(param) == default + 1
        cookie.setparam(param, PARAM_LIMITS[param] if PARAM_LIMITS[param] <= 0xFFFF else 1 << 20)
        assert cookie.getparam(param) == min(PARAM_LIMITS[param], 1 << 20)


# libmagic's defaults (src/file.h FILE_*_MAX and apprentice.c file_ms_alloc of
# each version; 5.44 as Debian 12 ships it, read with getparam).
PARAM_DEFAULTS = {
    547: {Param.INDIR_MAX: 50, Param.NAME_MAX: 150, Param.ELF_PHNUM_MAX: 2048,
          Param.ELF_SHNUM_MAX: 32768, Param.ELF_NOTES_MAX: 256, Param.REGEX_MAX: 8192,
          Param.BYTES_MAX: 7 << 20, Param.ENCODING_MAX: 65536,
          Param.ELF_SHSIZE_MAX: 128 << 20, Param.MAGWARN_MAX: 64},
    546: {Param.INDIR_MAX: 50, Param.NAME_MAX: 100, Param.ELF_PHNUM_MAX: 2048,
          Param.ELF_SHNUM_MAX: 32768, Param.ELF_NOTES_MAX: 256, Param.REGEX_MAX: 8192,
          Param.BYTES_MAX: 7 << 20, Param.ENCODING_MAX: 65536,
          Param.ELF_SHSIZE_MAX: 128 << 20, Param.MAGWARN_MAX: 64},
    544: {Param.INDIR_MAX: 50, Param.NAME_MAX: 50, Param.ELF_PHNUM_MAX: 2048,
          Param.ELF_SHNUM_MAX: 32768, Param.ELF_NOTES_MAX: 256, Param.REGEX_MAX: 8192,
          Param.BYTES_MAX: 7 << 20, Param.ENCODING_MAX: 65536},
}


def test_param_defaults() -> None:
    """A fresh Cookie has libmagic's defaults; params this libmagic lacks are
    refused with ValueError before reaching C."""
    expected = PARAM_DEFAULTS[magicguard.libmagic_version()]
    with Cookie() as cookie:
        assert {p: cookie.getparam(p) for p in Param if p.supported} == expected
        for param in Param:
            if not param.supported:
                with pytest.raises(ValueError, match=f"{param.name} is not supported by libmagic"):
                    cookie.getparam(param)


def test_size_t_params_hold_more_than_32_bits() -> None:
    """BYTES_MAX is size_t: 3 GiB reads back as 3 GiB (file-magic gets -1 GiB)."""
    with Cookie(params={Param.BYTES_MAX: 3 << 30}) as cookie:
        assert cookie.getparam(Param.BYTES_MAX) == 3 << 30
        cookie.setparam(Param.ENCODING_MAX, 5 << 30)
        assert cookie.getparam(Param.ENCODING_MAX) == 5 << 30


def test_params_change_answers(tmp_path: Path) -> None:
    """A tiny BYTES_MAX makes libmagic see only the head of a file."""
    path = tmp_path / "late-pdf"
    path.write_bytes(b"hello world\n" * 2 + b"\0\xff" * 100)
    with Cookie() as plain, Cookie(params={Param.BYTES_MAX: 16}) as small:
        assert plain.file(path) == "data"
        assert small.file(path) == "ASCII text"  # only "hello world\\nhell" read
        assert plain.buffer(PDF) == small.buffer(PDF)  # buffers are not capped


def _unreadable_descriptor(kind: str, tmp_path: Path) -> tuple[int, int, str]:
    """A descriptor whose read() fails at offset 0: (fd, errno, strerror).
    /proc/self/mem fails with EIO (Linux only); a write-only file with EBADF
    (everywhere)."""
    if kind == "proc-mem":
        return os.open("/proc/self/mem", os.O_RDONLY), errno.EIO, "Input/output error"
    path = tmp_path / "write-only"
    path.write_bytes(b"hello world\n")
    return os.open(path, os.O_WRONLY), errno.EBADF, "Bad file descriptor"


@pytest.mark.parametrize("kind", [
    pytest.param("proc-mem", marks=pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="/proc/self/mem is Linux's")),
    "write-only",
])
def test_error_and_errno_after_failure(kind: str, tmp_path: Path) -> None:
    """A libmagic failure raises MagicError with libmagic's text and errno, and
    error/errno expose the same afterwards.  (/proc/self/mem fails read() at
    offset 0 with EIO; a write-only descriptor with EBADF.)"""
    fd, code, text = _unreadable_descriptor(kind, tmp_path)
    try:
        with Cookie() as cookie:
            assert cookie.error is None and cookie.errno == 0
            with pytest.raises(MagicError) as info:
                cookie.descriptor(fd)
            assert info.value.errno == code
            assert info.value.function == "magic_descriptor"
            assert str(info.value) == f"magic_descriptor (descriptor {fd}): cannot read fd {fd} ({text})"
            assert cookie.errno == code
            assert cookie.error == f"cannot read fd {fd} ({text})"
    finally:
        os.close(fd)


def test_load_replaces_database(tmp_path: Path) -> None:
    """load(path) swaps the database; load() brings back the default."""
    source = tmp_path / "test.magic"
    source.write_bytes(SOURCE)
    with Cookie() as cookie:
        assert cookie.buffer(b"MGTEST data") != "magicguard test format"
        cookie.load(source)
        assert cookie.buffer(b"MGTEST data") == "magicguard test format"
        cookie.load()
        assert cookie.buffer(b"MGTEST data") != "magicguard test format"


def test_database_list_of_paths(tmp_path: Path) -> None:
    """A list of paths loads them all (libmagic's colon-separated list)."""
    source = tmp_path / "test.magic"
    source.write_bytes(SOURCE)
    database = magicguard.default_database_path() or "/usr/share/misc/magic.mgc"
    with Cookie(database=[source, database]) as cookie:
        assert cookie.buffer(b"MGTEST data") == "magicguard test format"
        assert cookie.buffer(PDF) == "PDF document, version 1.7"


def test_database_from_memory() -> None:
    """Compiled databases load from bytes, bytearray and memoryview, and the
    Cookie keeps working after the caller drops and mutates its buffer."""
    blob = bytearray(Path(magicguard.default_database_path() or "/usr/share/misc/magic.mgc").read_bytes())
    with Cookie(database=blob) as cookie:
        blob[:] = b"\0" * len(blob)
        del blob
        assert cookie.buffer(PDF) == "PDF document, version 1.7"
    raw = Path(magicguard.default_database_path() or "/usr/share/misc/magic.mgc").read_bytes()
    with Cookie(database=[memoryview(raw), raw]) as cookie:
        assert cookie.buffer(PDF) == "PDF document, version 1.7"


def test_compile_check_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """compile writes NAME.mgc in the current directory; check says True for a
    good source; list prints rules with strengths on stdout."""
    source = tmp_path / "test.magic"
    source.write_bytes(SOURCE + b"0\tstring\tMGOTHER\tanother format\n")
    monkeypatch.chdir(tmp_path)
    with Cookie() as cookie:
        cookie.compile(source)
        compiled = tmp_path / "test.magic.mgc"
        assert compiled.read_bytes()[:4] == bytes.fromhex("1c041ef1")
        assert cookie.check(source) is True
    with Cookie(database=compiled) as loaded:
        assert loaded.buffer(b"MGOTHER x") == "another format"
    code = ("import magicguard, sys; magicguard.Cookie().list(sys.argv[1]); "
            "print('after', flush=True)")
    out = subprocess.run([sys.executable, "-c", code, str(source)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "magicguard test format [application/x-mgtest]" in out.stdout
    assert out.stdout.rstrip().endswith("after")


def test_check_and_compile_bad_source(tmp_path: Path) -> None:
    """check() is False and compile() raises DatabaseError for a broken source."""
    broken = tmp_path / "broken.magic"
    broken.write_text("0\tstrin\tMGTEST\tx\n>>>> bad\n")
    with Cookie() as cookie:
        assert cookie.check(broken) is False
        with pytest.raises(DatabaseError, match="magic_compile"):
            cookie.compile(broken)


def test_loading_a_source_keeps_the_flags(tmp_path: Path) -> None:
    """libmagic turns MAGIC_CHECK on when it parses a source; the Cookie keeps
    the flags its owner chose."""
    source = tmp_path / "test.magic"
    source.write_bytes(SOURCE)
    with Cookie(Flags.MIME_TYPE, database=source) as cookie:
        assert cookie.flags == Flags.MIME_TYPE
        cookie.check(source)
        cookie.list(source)
        assert cookie.flags == Flags.MIME_TYPE


def test_pickle_round_trip_keeps_configuration(tmp_path: Path) -> None:
    """Pickling keeps flags, params and database, never C state."""
    source = tmp_path / "test.magic"
    source.write_bytes(SOURCE)
    with Cookie(Flags.MIME_TYPE, database=source, params={Param.NAME_MAX: 70}) as cookie:
        clone = pickle.loads(pickle.dumps(cookie))
    with clone:
        assert clone.flags == Flags.MIME_TYPE
        assert clone.getparam(Param.NAME_MAX) == 70
        assert clone.buffer(b"MGTEST x") == "application/x-mgtest"
    raw = Path(magicguard.default_database_path() or "/usr/share/misc/magic.mgc").read_bytes()
    with pickle.loads(pickle.dumps(Cookie(database=raw))) as from_memory:
        assert from_memory.buffer(PDF) == "PDF document, version 1.7"


def test_descriptor_keeps_offset_and_descriptor(tmp_path: Path) -> None:
    """descriptor() reads from the current offset, restores it, never closes."""
    path = tmp_path / "doc"
    path.write_bytes(b"hello world\n" * 10 + PDF)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, 120, os.SEEK_SET)
        with Cookie() as cookie:
            assert cookie.descriptor(fd) == "PDF document, version 1.7"
            assert os.lseek(fd, 0, os.SEEK_CUR) == 120
            os.fstat(fd)  # still open
    finally:
        os.close(fd)


def test_descriptor_file_object_uses_logical_position(tmp_path: Path) -> None:
    """A buffered file object is identified from tell(), though its buffer
    moved the OS offset, and both positions are left as they were."""
    path = tmp_path / "doc"
    path.write_bytes(b"hello world\n" * 10 + PDF)
    with open(path, "rb") as f, Cookie() as cookie:
        f.read(120)
        os_offset = os.lseek(f.fileno(), 0, os.SEEK_CUR)
        assert os_offset != 120  # the buffer read ahead
        assert cookie.descriptor(f) == "PDF document, version 1.7"
        assert f.tell() == 120
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == os_offset
        assert f.read() == PDF


def test_descriptor_writable_file_is_flushed(tmp_path: Path) -> None:
    """Unflushed writes in a file object are flushed before libmagic reads."""
    with open(tmp_path / "w", "w+b") as f, Cookie() as cookie:
        f.write(PDF)
        f.seek(0)
        assert cookie.descriptor(f) == "PDF document, version 1.7"


def test_descriptor_pipe() -> None:
    """A pipe is read (it cannot seek back) and identified."""
    r, w = os.pipe()
    try:
        os.write(w, PDF)
        os.close(w)
        with Cookie() as cookie:
            assert cookie.descriptor(r) == "PDF document, version 1.7"
    finally:
        os.close(r)


def test_repr_names_state() -> None:
    cookie = Cookie(Flags.MIME_TYPE)
    assert "open" in repr(cookie) and "MIME_TYPE" in repr(cookie)
    cookie.close()
    assert "closed" in repr(cookie)


def test_non_utf8_results_never_raise() -> None:
    """RAW results with bytes that are not UTF-8 decode with surrogateescape."""
    with Cookie(Flags.RAW) as cookie:
        result = cookie.buffer(b"#!/bin/sh\n# \xff\xfe caf\xe9\n")
        assert isinstance(result, str)
        result.encode("utf-8", "surrogateescape")


def test_stringio_is_refused() -> None:
    """A file object without a real descriptor raises io.UnsupportedOperation
    saying what it is and what to call instead (not cffi's bare 'fileno')."""
    with Cookie() as cookie, pytest.raises(io.UnsupportedOperation) as info:
        cookie.descriptor(io.BytesIO(PDF))
    assert "BytesIO has no OS file descriptor" in str(info.value)
    assert "buffer(" in str(info.value)
