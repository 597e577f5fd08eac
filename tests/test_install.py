"""The installation checks itself: the import-time version check and the doctor.

The doctor runs ``python -m magicguard.doctor`` in a child process, as a
user would; its failure paths are driven in-process by replacing the probe's
code, so no test here needs a broken installation of its own, except the
import check, which runs on a copy of the package in a subprocess.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import magicguard
from conftest import run_python
from magicguard import _lowlevel, doctor

MAGICNO = 0xF11E041C
PACKAGE = Path(magicguard.__file__).resolve().parent


def _header(version: int, order: str = "<") -> bytes:
    """A compiled-database header (magic number, format version) plus padding."""
    return struct.pack(f"{order}II", MAGICNO, version) + bytes(368)


@pytest.mark.parametrize("order", ["<", ">"])
def test_database_format_reads_either_byte_order(tmp_path: Path, order: str) -> None:
    """database_format() returns the header's version whatever the byte order."""
    path = tmp_path / "db.mgc"
    path.write_bytes(_header(20, order))
    assert _lowlevel.database_format(str(path)) == 20


@pytest.mark.parametrize("content", [b"", b"\x1c\x04\x1e", b"0\tstring\tFOO\tfoo\n"])
def test_database_format_of_a_non_database_is_none(tmp_path: Path, content: bytes) -> None:
    """An empty, short or magic-source file has no compiled format: None."""
    path = tmp_path / "db"
    path.write_bytes(content)
    assert _lowlevel.database_format(str(path)) is None


def test_bundled_database_has_the_libmagic_format() -> None:
    """The installed database is of the format the linked libmagic reads.

    Bundled: format 20 (file 5.46's VERSIONNO); the system build carries no
    database of its own.
    """
    if magicguard.BUNDLED_LIBMAGIC:
        assert _lowlevel.database_format(_lowlevel.BUNDLED_DATABASE) == 20
        _lowlevel.check_installation()
    else:
        assert _lowlevel.default_database_path() is None
        assert _lowlevel.constant("MG_DATABASE_FORMAT") == 0


def test_check_installation_refuses_another_format(tmp_path: Path) -> None:
    """A database of another format (file 5.44 writes 18) is refused by name.

    The system build checks no database (the distribution pairs them).
    """
    path = tmp_path / "magic.mgc"
    path.write_bytes(_header(18))
    if magicguard.BUNDLED_LIBMAGIC:
        with pytest.raises(ImportError, match=r"magic\.mgc has format 18, but the bundled "
                                              r"libmagic 5\.47 reads only format 20; reinstall"):
            _lowlevel.check_installation(str(path))
    else:
        _lowlevel.check_installation(str(path))


def test_check_installation_refuses_a_missing_database(tmp_path: Path) -> None:
    """A missing bundled database is refused, naming the path and the errno text."""
    path = tmp_path / "gone.mgc"
    if magicguard.BUNDLED_LIBMAGIC:
        with pytest.raises(ImportError, match=r"cannot read the bundled database .*gone\.mgc: "
                                              r"No such file or directory"):
            _lowlevel.check_installation(str(path))
    else:
        _lowlevel.check_installation(str(path))


@pytest.mark.skipif(not magicguard.BUNDLED_LIBMAGIC, reason="the system build has no bundled database")
def test_import_of_a_mismatched_install_fails_cleanly(tmp_path: Path) -> None:
    """A copy of the package whose magic.mgc is a format-18 database cannot
    be used: the first name that needs libmagic (the package's names are
    imported on first use) raises one ImportError naming the file, and none
    of the warnings libmagic would print while loading it appear."""
    copy = tmp_path / "site" / "magicguard"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "_data" / "magic.mgc").write_bytes(_header(18))
    proc = subprocess.run([sys.executable, "-c", "import magicguard; magicguard.Cookie"], cwd=copy.parent,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(copy.parent)})
    assert proc.returncode == 1
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"ImportError: magicguard: the bundled database {copy / '_data' / 'magic.mgc'} has format 18, "
        "but the bundled libmagic 5.47 reads only format 20; reinstall magicguard "
        "(pip install --force-reinstall --no-cache-dir magicguard)")
    assert "magic" not in proc.stdout
    # A traceback (through the lazy import) and nothing of libmagic's:
    # loading that file would print dozens of "Warning:"/"magic.mgc, N:" lines.
    assert [ln for ln in proc.stderr.splitlines() if "arning" in ln or "magic.mgc," in ln] == []
    assert len(proc.stderr.splitlines()) < 30


def test_loaded_object_is_where_libmagic_lives() -> None:
    """dladdr(magic_version): the extension itself when bundled, else a libmagic."""
    loaded = _lowlevel.loaded_object()
    assert loaded is not None
    native = sys.modules["magicguard._native"].__file__
    assert native is not None
    if magicguard.BUNDLED_LIBMAGIC:
        assert os.path.samefile(loaded, native)
    else:
        assert "libmagic" in os.path.basename(loaded)
        assert not os.path.samefile(loaded, native)


def _run_doctor(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "magicguard.doctor", *args], capture_output=True,
                          text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout)


def test_doctor_reports_this_installation() -> None:
    """`python -m magicguard.doctor` exits 0 with a report of this very build."""
    status, report = _run_doctor()
    assert report["problems"] == []
    assert (status, report["ok"]) == (0, True)
    assert report["magicguard_version"] == magicguard.__version__
    version = "{}.{:02d}".format(*divmod(magicguard.libmagic_version(), 100))
    build = "bundled" if magicguard.BUNDLED_LIBMAGIC else "system"
    assert report["libmagic"]["version"] == version
    assert report["libmagic"]["build"] == build
    assert report["libmagic"]["loaded_from"] == _lowlevel.loaded_object()
    assert report["extension"] == {"imports": True, "error": None,
                                   "path": sys.modules["magicguard._native"].__file__}
    assert report["database"]["path"] == _lowlevel.default_database_path()
    assert report["database"]["loads"] is True
    assert report["database"]["format"] == (20 if magicguard.BUNDLED_LIBMAGIC else None)
    assert report["sample"]["identified"] is True
    assert report["sample"]["buffer"] == "PDF document, version 1.7"
    assert report["sample"]["file"].startswith("ELF" if sys.platform.startswith("linux") else "Mach-O")
    assert report["sigbus_trap"] == {"installed": True, "on_top": True}
    assert report["probe"]["returncode"] == 0
    assert report["platform"]["system"] == platform.system()
    assert report["platform"]["machine"] == platform.machine()


@pytest.mark.parametrize(
    ("code", "timeout", "problem"),
    [
        ("import os; os.abort()", 60.0, "the probe process was killed by SIGABRT"),
        ("import sys; sys.exit(3)", 60.0, "the probe process exited with status 3"),
        ("print('not json')", 60.0, "the probe process printed no report"),
        ("import time; time.sleep(30)", 1.0, "the probe process did not finish within 1 s"),
        ("raise ImportError('no libmagic.so.1 here')", 60.0,
         "the probe process exited with status 1"),
    ],
)
def test_doctor_reports_a_broken_probe(monkeypatch: pytest.MonkeyPatch, code: str, timeout: float,
                                       problem: str) -> None:
    """A probe that crashes, fails, babbles or hangs is a problem in the report."""
    monkeypatch.setattr(doctor, "_PROBE_CODE", code)
    report = doctor.diagnose(timeout)
    assert report["ok"] is False
    assert problem in report["problems"]


def test_doctor_reports_an_extension_that_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the probe cannot import magicguard, the report carries the error."""
    code = ("import json; print(json.dumps({'extension': {'imports': False, 'path': None, "
            "'error': 'ImportError: libmagic.so.1: cannot open shared object file'}}))")
    monkeypatch.setattr(doctor, "_PROBE_CODE", code)
    report = doctor.diagnose()
    assert report["problems"] == [
        "magicguard does not import: ImportError: libmagic.so.1: cannot open shared object file"]
    assert report["extension"]["imports"] is False


def test_doctor_judges_wrong_answers() -> None:
    """A bundled build whose libmagic comes from elsewhere, whose database does
    not load and whose sample is misidentified gets one problem for each."""
    facts: dict[str, Any] = {
        "extension": {"imports": True, "error": None, "path": "/x/_native.abi3.so"},
        "package": str(PACKAGE),
        "libmagic": {"version": "5.47", "build": "bundled",
                     "loaded_from": "/usr/lib/libmagic.so.1", "patches": [], "tuning": True,
                     "decompressors": {"zlib": "1", "bzip2": "1", "xz": "1", "zstd": "1"}},
        "database": {"path": "/x/magic.mgc", "format": 20, "expected_format": 20,
                     "loads": False, "error": "DatabaseError: magic_load: bad"},
        "sample": {"identified": False, "buffer": "data", "mime": "application/octet-stream",
                   "file": None, "error": None},
        "sigbus_trap": {"installed": True, "on_top": False},
    }
    assert doctor._judge(facts) == [
        ("the bundled build's libmagic comes from /usr/lib/libmagic.so.1, not from the "
         "extension /x/_native.abi3.so"),
        "the default database does not load: DatabaseError: magic_load: bad",
        ("the sample PDF was not identified as 'PDF document, version 1.7' / 'application/pdf': "
         "'data' / 'application/octet-stream'"),
        "the SIGBUS handler is not on top",
    ]


def test_doctor_main_exit_status(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """main() prints the JSON report and returns 1 when anything is wrong."""
    monkeypatch.setattr(doctor, "_PROBE_CODE", "import sys; sys.exit(3)")
    assert doctor.main([]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False


def test_doctor_main_ignores_the_callers_argv(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """main() with no arguments reads no options, whatever sys.argv holds
    (the CLI calls it while its own --doctor is there)."""
    monkeypatch.setattr(doctor, "_PROBE_CODE", "import sys; sys.exit(3)")
    monkeypatch.setattr(sys, "argv", ["magicguard", "--doctor", "-b"])
    assert doctor.main() == 1
    assert json.loads(capsys.readouterr().out)["problems"][0] == "the probe process exited with status 3"


def test_doctor_refuses_a_bad_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """--timeout must be a positive number: usage error, status 2."""
    with pytest.raises(SystemExit) as exc:
        doctor.main(["--timeout", "0"])
    assert exc.value.code == 2
    assert "--timeout must be positive, not 0.0" in capsys.readouterr().err


def test_sigbus_handler_status_follows_the_handler() -> None:
    """Not installed before the first guarded call (a bytes object is heap
    memory that cannot fault: not guarded, no syscall); installed and on top
    after one; not on top once someone resets SIGBUS (until the next guarded
    call puts it back).  In a child: the test changes a signal action."""
    code = """
import signal, magicguard
from magicguard import _lowlevel
magicguard.from_buffer(b"x")
print(_lowlevel.sigbus_handler_status())
magicguard.from_buffer(bytearray(b"x"))
print(_lowlevel.sigbus_handler_status())
signal.signal(signal.SIGBUS, signal.SIG_DFL)
print(_lowlevel.sigbus_handler_status())
magicguard.from_buffer(memoryview(b"x"))
print(_lowlevel.sigbus_handler_status())
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["(False, False)", "(True, True)", "(True, False)",
                                         "(True, True)"]


def test_library_and_cli_run_without_rich() -> None:
    """rich is the [cli] extra's, for the progress bar only: with it absent,
    the library imports, the command identifies, and the progress path (on a
    terminal stderr) passes the answers through with no bar."""
    proc = run_python('''
import sys
sys.modules["rich"] = None  # any "import rich..." now raises ImportError
import magicguard
from magicguard import cli
from magicguard.cli import progress
assert magicguard.from_buffer(b"%PDF-1.7\\n") == "PDF document, version 1.7"
progress._is_tty = lambda stream: stream is sys.stderr
assert list(progress.with_progress(iter(["a", "b"]), 2)) == ["a", "b"]
status = cli.main(["-b", sys.executable])
assert status == 0, status
assert not any(name == "rich" or name.startswith("rich.") for name in sys.modules if sys.modules[name])
''')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() != "" and proc.stderr == ""
