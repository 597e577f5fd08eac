"""magicguard.compat behaves like python-magic 0.4.27, except where it is
deliberately better.

The first half compares exception kinds and coercions with the *installed*
python-magic (the test extra), which loads the system libmagic: these do not
depend on the library version, so they hold in the bundled and the system
build alike.  Answers are compared on the same library in
``test_compat_side_by_side.py``.

The second half pins each documented difference (docs/migrating.md), showing
python-magic's behaviour next to ours where that is safe to show.
"""

from __future__ import annotations

import array
import ctypes
import mmap
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import magicguard
from conftest import run_python
from magicguard import compat
from magicguard.flags import Flags, Param

# python-magic loads the system libmagic at import: where there is none (an
# installed wheel tested by scripts/check-wheel, with it hidden) there is
# nothing to compare with.
python_magic = pytest.importorskip(
    "magic", reason="python-magic cannot load: no system libmagic here", exc_type=ImportError)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def kind(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """"ok" or the kind of exception raised (both MagicExceptions are one kind)."""
    try:
        call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the kind of any exception is the result
        return "MagicException" if type(exc).__name__ == "MagicException" else type(exc).__name__
    return "ok"


# -- the same exceptions as python-magic ------------------------------------


@pytest.fixture
def a_dir_fd(tmp_path: Path) -> Any:
    fd = os.open(tmp_path, os.O_RDONLY)
    yield fd
    os.close(fd)


FILE_NAME_CASES = {
    "missing": "/nonexistent/file",
    "directory": "/",
    "empty": "",
    "nul": "a\0b",
    "none": None,
    "float": 1.5,
    "bytearray": bytearray(b"/bin/sh"),
}


@pytest.mark.parametrize("case", FILE_NAME_CASES, ids=str)
def test_from_file_raises_like_python_magic(case: str) -> None:
    """from_file refuses a bad name with python-magic's exception:
    FileNotFoundError, IsADirectoryError, ValueError (NUL), TypeError."""
    name = FILE_NAME_CASES[case]
    expected = {"missing": "FileNotFoundError", "directory": "IsADirectoryError",
                "empty": "FileNotFoundError", "nul": "ValueError"}.get(case, "TypeError")
    assert kind(compat.from_file, name) == kind(python_magic.from_file, name) == expected
    assert kind(compat.Magic(mime=True).from_file, name) == expected


def test_unreadable_file_raises_permission_error() -> None:
    """A file open() may not read raises PermissionError, as python-magic's
    open() does.  Root reads anything, so when the suite runs as root the
    child drops to "nobody" after building both Magic instances."""
    directory = tempfile.mkdtemp(prefix="compat-perm-")
    try:
        os.chmod(directory, 0o755)  # noqa: S103 - an executable script the test runs
        secret = os.path.join(directory, "secret")
        with open(secret, "wb") as f:
            f.write(PDF)
        os.chmod(secret, 0)
        code = f"""
import os
import magic
from magicguard import compat
instances = (magic.Magic(), compat.Magic())
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)
kinds = []
for m in instances:
    try:
        m.from_file({secret!r})
        kinds.append("ok")
    except Exception as exc:
        kinds.append(type(exc).__name__)
print(kinds)
"""
        result = run_python(code)
    finally:
        shutil.rmtree(directory)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['PermissionError', 'PermissionError']"


def test_from_buffer_rejects_non_buffers_like_python_magic() -> None:
    """int and None are TypeErrors in both."""
    for value in (5, None):
        assert kind(compat.from_buffer, value) == kind(python_magic.from_buffer, value) == "TypeError"


def test_bad_descriptors_raise_magic_exception_like_python_magic(a_dir_fd: int) -> None:
    """A closed descriptor and a directory's are MagicExceptions in both."""
    unused = os.open(os.devnull, os.O_RDONLY)
    os.close(unused)
    for fd in (unused, a_dir_fd):
        assert kind(compat.from_descriptor, fd) == kind(python_magic.from_descriptor, fd) == "MagicException"


def test_database_errors_raise_magic_exception_like_python_magic(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing or empty magic_file, and a bad or empty $MAGIC, raise
    MagicException from Magic() in both (python-magic's test_errors)."""
    for name in ("/nonexistent/magic", ""):
        assert kind(compat.Magic, magic_file=name) == kind(python_magic.Magic, magic_file=name) \
            == "MagicException"
    for value in ("/nonexistent/magic", ""):
        monkeypatch.setenv("MAGIC", value)
        assert kind(compat.Magic) == kind(python_magic.Magic) == "MagicException"


def test_bad_magic_in_environment_reaches_module_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """$MAGIC is read when a thread's first module-level call builds its
    Magic: a bad one raises MagicException there."""
    monkeypatch.setenv("MAGIC", "/nonexistent/magic")
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(kind(compat.from_buffer, PDF)))
    thread.start()
    thread.join(60)
    assert seen == ["MagicException"]


def test_params_refused_like_python_magic() -> None:
    """An unknown param is a MagicException; a non-int value a TypeError."""
    ours, theirs = compat.Magic(), python_magic.Magic()
    for m in (ours, theirs):
        assert kind(m.getparam, 99) == kind(m.setparam, 99, 1) == "MagicException"
        assert kind(m.setparam, compat.MAGIC_PARAM_INDIR_MAX, "1") == "TypeError"
        assert kind(m.setparam, compat.MAGIC_PARAM_INDIR_MAX, 1.5) == "TypeError"
    assert ours.setparam(compat.MAGIC_PARAM_INDIR_MAX, 20) == theirs.setparam(compat.MAGIC_PARAM_INDIR_MAX, 20) == 0


def test_magic_exception_is_python_magics_and_ours() -> None:
    """MagicException takes a message like python-magic's (bytes stay bytes in
    .message), and is a magicguard.MagicError with a readable str()."""
    exc = compat.MagicException("passthrough")
    assert exc.message == "passthrough" and str(exc) == "passthrough"
    with pytest.raises(magicguard.MagicError) as caught:
        compat.Magic(magic_file="/nonexistent/magic")
    assert isinstance(caught.value, compat.MagicException)
    assert caught.value.message == b"could not find any valid magic files!"
    assert "magic_load" in str(caught.value) and "/nonexistent/magic" in str(caught.value)


def test_version_is_an_int() -> None:
    """version() is magic_version() of magicguard's libmagic (546 bundled)."""
    assert compat.version() == magicguard.libmagic_version()
    assert python_magic.version() >= 544


def test_extension_flag_answers() -> None:
    """Magic(extension=True) gives libmagic's extension list (libmagic >= 5.24)."""
    assert compat.Magic(extension=True).from_buffer(PDF) == "pdf"


# -- deliberate differences (docs/migrating.md) -----------------------------


def test_module_functions_do_not_serialise_threads() -> None:
    """python-magic's module functions share one locked instance per mime
    value, so a call waits for any other thread's; compat gives each thread
    its own handle, so a call proceeds while another thread's is in progress
    (held here by holding that instance's lock)."""
    def call_in_thread(fn: Callable[[bytes], str]) -> tuple[threading.Thread, list[str]]:
        out: list[str] = []
        thread = threading.Thread(target=lambda: out.append(fn(PDF)), daemon=True)
        thread.start()
        return thread, out

    theirs = python_magic._get_magic_type(False)
    with theirs.lock:
        thread, out = call_in_thread(python_magic.from_buffer)
        thread.join(0.5)
        assert thread.is_alive() and not out, "python-magic's call should wait for the shared lock"
    thread.join(60)
    assert out and out[0].startswith("PDF document")

    ours = compat._get_magic_type(False)
    with ours.cookie._lock:
        thread, out = call_in_thread(compat.from_buffer)
        thread.join(60)
        assert not thread.is_alive() and out == [ours.from_buffer(PDF)]


def test_module_functions_are_correct_under_threads() -> None:
    """8 threads x 40 mixed calls give the single-threaded answers."""
    inputs = [PDF, b"\x7fELF\x02\x01\x01" + b"\0" * 120, b"hello world\n" * 30, b"", b"GIF89a" + b"\0" * 40]
    expected = [(compat.from_buffer(d), compat.from_buffer(d, mime=True)) for d in inputs]
    failures: list[object] = []

    def work(seed: int) -> None:
        for i in range(40):
            j = (seed + i) % len(inputs)
            got = (compat.from_buffer(inputs[j]), compat.from_buffer(inputs[j], mime=True))
            if got != expected[j]:
                failures.append((j, got))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures


def bytes_likes() -> dict[str, Any]:
    return {
        "bytearray": bytearray(PDF),
        "memoryview": memoryview(PDF),
        "memoryview-slice": memoryview(b"xx" + PDF)[2:],
        "array": array.array("B", PDF),
        "numpy": np.frombuffer(PDF, dtype=np.uint8),
    }


@pytest.mark.parametrize("name", list(bytes_likes()), ids=str)
def test_from_buffer_takes_every_bytes_like_object(name: str) -> None:
    """compat identifies any bytes-like object as its bytes; python-magic's
    ctypes call rejects all but bytes (ctypes.ArgumentError)."""
    data = bytes_likes()[name]
    assert compat.from_buffer(data) == compat.from_buffer(PDF)
    assert compat.Magic(mime=True).from_buffer(data) == "application/pdf"
    with pytest.raises(ctypes.ArgumentError):
        python_magic.from_buffer(data)


def test_from_buffer_takes_an_mmap(tmp_path: Path) -> None:
    """An mmap is identified in place."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(PDF)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert compat.from_buffer(mm, mime=True) == "application/pdf"
        with pytest.raises(ctypes.ArgumentError):
            python_magic.from_buffer(mm)


def test_python_magic_dies_on_truncated_mmap(tmp_path: Path) -> None:
    """The contrast: python-magic handed a mapping (through ctypes, the only
    way it takes one) whose file shrank is killed by SIGBUS."""
    code = f"""
import ctypes, mmap, os
import magic
fd = os.open({str(tmp_path / "shrinking")!r}, os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b"%PDF-1.4\\n" + b"a" * (1 << 20))
mm = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
view = (ctypes.c_char * len(mm)).from_buffer(mm)
print(magic.from_buffer(view), flush=True)
os.ftruncate(fd, 4096)
print(magic.from_buffer(view), flush=True)
"""
    result = run_python(code)
    assert result.returncode == -signal.SIGBUS, (result.returncode, result.stderr)
    assert result.stdout.startswith("PDF document")


def test_truncated_mmap_raises_instead_of_killing(tmp_path: Path) -> None:
    """A mapping whose file shrank under it raises MagicException; the
    process lives on (run in a child: without the trap it dies of SIGBUS)."""
    path = tmp_path / "shrinking"
    code = f"""
import mmap, os
from magicguard import compat
fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b"%PDF-1.4\\n" + b"a" * (1 << 20))
mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
os.ftruncate(fd, 4096)
try:
    compat.from_buffer(mm)
    print("answered")
except compat.MagicException as exc:
    print("raised")
print(compat.from_buffer(b"%PDF-1.4\\n", mime=True))
"""
    result = run_python(code)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert result.stdout.split() == ["raised", "application/pdf"]


def test_constants_are_the_headers() -> None:
    """Every MAGIC_* constant of python-magic exists with its value, except
    four python-magic gets wrong, which are <magic.h>'s: MAGIC_MIME is
    MIME_TYPE|MIME_ENCODING (0x410, python-magic 0x10), NO_CHECK_TROFF and
    NO_CHECK_FORTRAN are 0 (python-magic: the bits of NO_CHECK_CDF and
    NO_CHECK_CSV), NO_CHECK_BUILTIN has every builtin test's bit."""
    theirs = {k: v for k, v in vars(python_magic).items() if k.startswith("MAGIC_") and isinstance(v, int)}
    fixed = {"MAGIC_MIME", "MAGIC_NO_CHECK_TROFF", "MAGIC_NO_CHECK_FORTRAN", "MAGIC_NO_CHECK_BUILTIN"}
    for name, value in theirs.items():
        assert hasattr(compat, name), name
        if name not in fixed:
            assert getattr(compat, name) == value, name
    assert compat.MAGIC_MIME == compat.MAGIC_MIME_TYPE | compat.MAGIC_MIME_ENCODING == 0x410 != python_magic.MAGIC_MIME
    assert compat.MAGIC_NO_CHECK_TROFF == compat.MAGIC_NO_CHECK_FORTRAN == 0
    assert Flags.NO_CHECK_BUILTIN.value == compat.MAGIC_NO_CHECK_BUILTIN
    assert compat.MAGIC_NO_CHECK_BUILTIN & compat.MAGIC_NO_CHECK_JSON
    for name in compat.__all__:
        assert hasattr(compat, name), name


def test_name_max_is_raised_never_lowered() -> None:
    """python-magic sets MAGIC_PARAM_NAME_MAX to 64 whatever libmagic's default
    (lowering 5.46's 100); compat raises it to 64 only from a lower default."""
    default = magicguard.Cookie().getparam(Param.NAME_MAX)
    assert compat.Magic().getparam(compat.MAGIC_PARAM_NAME_MAX) == max(default, 64)
    assert python_magic.Magic().getparam(python_magic.MAGIC_PARAM_NAME_MAX) == 64


def test_setparam_refuses_values_libmagic_would_truncate() -> None:
    """python-magic lets libmagic keep 70000 as 4464 (16 bits) and -1 as 65535;
    compat raises ValueError and keeps the old value."""
    theirs = python_magic.Magic()
    theirs.setparam(python_magic.MAGIC_PARAM_INDIR_MAX, 70000)
    assert theirs.getparam(python_magic.MAGIC_PARAM_INDIR_MAX) == 70000 & 0xFFFF
    ours = compat.Magic()
    before = ours.getparam(compat.MAGIC_PARAM_INDIR_MAX)
    for value in (70000, -1):
        with pytest.raises(ValueError, match="INDIR_MAX"):
            ours.setparam(compat.MAGIC_PARAM_INDIR_MAX, value)
    assert ours.getparam(compat.MAGIC_PARAM_INDIR_MAX) == before


def test_fifo_is_answered_instead_of_waiting(tmp_path: Path) -> None:
    """python-magic's open() waits for a writer on a named pipe (shown in a
    thread, released by opening the write end), then answers; compat gives
    the same answer at once."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert compat.from_file(fifo) == "fifo (named pipe)"
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(python_magic.from_file(str(fifo))), daemon=True)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not out, "python-magic should be waiting in open()"
    writer = None
    for _ in range(200):  # the reader is blocked in open(): the writer gets in at once
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            thread.join(0.05)
    assert writer is not None
    os.close(writer)
    thread.join(60)
    assert out == ["fifo (named pipe)"]


def test_int_file_name_is_refused_not_closed(tmp_path: Path) -> None:
    """python-magic's open(filename) takes an int for a descriptor and closes
    it, then fails in ctypes; compat raises TypeError and leaves it open."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(PDF)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(TypeError, match="from_descriptor"):
            compat.from_file(fd)  # type: ignore[arg-type]
        os.fstat(fd)  # still open
    finally:
        os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(ctypes.ArgumentError):
        python_magic.from_file(fd)
    with pytest.raises(OSError):  # noqa: PT011 - any OSError says the descriptor is gone
        os.fstat(fd)  # python-magic closed it


def test_negative_descriptor_is_an_error() -> None:
    """libmagic answers "empty" for descriptor -1 (python-magic passes that
    on); compat raises MagicException, as for any other bad descriptor."""
    assert python_magic.from_descriptor(-1) == "empty"
    with pytest.raises(compat.MagicException, match="fd -1"):
        compat.from_descriptor(-1)


def test_wrong_argument_types_are_type_errors() -> None:
    """Where python-magic's ctypes call raises ctypes.ArgumentError (a list
    buffer, a str descriptor, an int magic_file, a str param), compat raises
    TypeError."""
    cases: list[tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = [
        (compat.from_buffer, python_magic.from_buffer, ([1, 2],)),
        (compat.from_descriptor, python_magic.from_descriptor, ("3",)),
        (compat.Magic().getparam, python_magic.Magic().getparam, ("0",)),
        (lambda m: compat.Magic(magic_file=m), lambda m: python_magic.Magic(magic_file=m), (3,)),
    ]
    for ours, theirs, args in cases:
        assert kind(ours, *args) == "TypeError"
        assert kind(theirs, *args) == "ArgumentError"


def test_nul_in_magic_file_is_refused_not_truncated() -> None:
    """python-magic hands libmagic a name cut at the NUL (loading another
    database than named); compat raises ValueError."""
    system_db = "/usr/share/misc/magic"  # the system libmagic's default (Debian)
    if os.path.exists(system_db + ".mgc"):
        python_magic.Magic(magic_file=system_db + "\0.junk")  # loads system_db
    good = magicguard.default_database_path() or system_db
    with pytest.raises(ValueError, match="NUL"):
        compat.Magic(magic_file=good + "\0.junk")


def test_close_and_context_manager() -> None:
    """Additions: close() frees the handle now; `with` closes on exit; a
    closed Magic refuses further calls with ValueError."""
    with compat.Magic(mime=True) as m:
        assert m.from_buffer(PDF) == "application/pdf"
    with pytest.raises(ValueError, match="closed"):
        m.from_buffer(PDF)
    m.close()  # idempotent


def test_module_functions_rebuild_a_closed_instance() -> None:
    """Closing the thread's cached instance does not break later calls."""
    compat._get_magic_type(True).close()
    assert compat.from_buffer(PDF, mime=True) == "application/pdf"


def test_null_answer_without_error_is_octet_stream_only_with_mime() -> None:
    """python-magic's "509 bug" rule: libmagic returning NULL with no error
    text and no errno is application/octet-stream under mime=True, else a
    MagicException with message None; a subclass of MagicError (a trapped
    fault, say) or a failure with libmagic's text always raises."""
    silent = magicguard.MagicError("magic_buffer: failed without saying why", function="magic_buffer")
    assert compat.Magic(mime=True)._failed(silent) == "application/octet-stream"
    with pytest.raises(compat.MagicException) as caught:
        compat.Magic()._failed(silent)
    assert caught.value.__cause__ is silent

    class Fault(magicguard.MagicError):
        pass

    with pytest.raises(compat.MagicException):
        compat.Magic(mime=True)._failed(Fault("magic_buffer: the memory faulted", function="magic_buffer"))
    told = magicguard.MagicError("magic_buffer: no memory", function="magic_buffer", reason="no memory")
    with pytest.raises(compat.MagicException) as caught:
        compat.Magic(mime=True)._failed(told)
    assert caught.value.message == b"no memory"


def test_special_files_like_python_magic(tmp_path: Path) -> None:
    """A character device is described; a socket file raises the OSError
    open() raises (ENXIO) -- in both."""
    import socket

    assert kind(compat.from_file, os.devnull) == kind(python_magic.from_file, os.devnull) == "ok"
    assert compat.from_file(os.devnull).startswith("character special")
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
        assert kind(compat.from_file, path) == kind(python_magic.from_file, path) == "OSError"
