"""The one opener of a loaded libmagic handle (``_lowlevel.open_handle``).

Cookie, the command line and (through Cookie) the sandbox's workers all get
their handles from it (issue 14): the default database's rule is written
once, a failed load closes the handle yet leaves the C errno file(1) prints,
and ``environ`` gives the command line file(1)'s ``$MAGIC`` rule.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Union

import pytest

from magicguard import Cookie, DatabaseError, Param, _lowlevel, cli

PDF = b"%PDF-1.7\n"


def test_opens_and_loads_the_default_database() -> None:
    handle = _lowlevel.open_handle(0)
    try:
        assert handle.buffer(PDF) == b"PDF document, version 1.7"
    finally:
        handle.close()


def test_sets_params_before_use() -> None:
    handle = _lowlevel.open_handle(0, None, [(int(Param.BYTES_MAX), 4321)])
    try:
        assert handle.getparam(int(Param.BYTES_MAX)) == 4321
    finally:
        handle.close()


def test_loads_paths_and_buffers(tmp_path: Path) -> None:
    source = tmp_path / "my.magic"
    source.write_bytes(b"0\tstring\tSHOPPING\tmy shopping list\n")
    handle = _lowlevel.open_handle(0, os.fsencode(source))
    try:
        assert handle.buffer(b"SHOPPING: eggs") == b"my shopping list"
    finally:
        handle.close()
    with open(_lowlevel.BUNDLED_DATABASE if _lowlevel.BUNDLED else "/dev/null", "rb") as f:
        compiled = f.read()
    if compiled:
        handle = _lowlevel.open_handle(0, [compiled])
        try:
            assert handle.buffer(PDF) == b"PDF document, version 1.7"
        finally:
            handle.close()


def test_failed_load_keeps_the_c_errno(tmp_path: Path) -> None:
    """file(1) prints strerror(errno) after 'could not find any valid magic
    files!', an errno libmagic itself reports as 0: it must survive the close."""
    missing = os.fsencode(tmp_path / "nothing-here")
    with pytest.raises(DatabaseError) as info:
        _lowlevel.open_handle(0, missing)
    assert info.value.function == "magic_load"
    assert info.value.reason == "could not find any valid magic files!"
    assert _lowlevel.last_errno() == errno.ENOENT


@pytest.mark.skipif(not _lowlevel.BUNDLED, reason="the default is libmagic's own in a system build")
def test_magic_environment_only_with_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library loads the bundled database whatever $MAGIC says; the command
    line (environ=True) lets libmagic read $MAGIC, as file(1) does."""
    monkeypatch.setenv("MAGIC", str(tmp_path / "nothing-here"))
    handle = _lowlevel.open_handle(0)
    handle.close()
    assert _lowlevel.default_database(environ=True) is None
    with pytest.raises(DatabaseError):
        _lowlevel.open_handle(0, environ=True)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    real = _lowlevel.open_handle

    def spy(flags: int, database: Union[bytes, list[bytes], None] = None, params: Any = (), *,
            capture: bool = False, environ: bool = False) -> _lowlevel.Handle:
        calls.append((flags, database, capture, environ))
        return real(flags, database, params, capture=capture, environ=environ)

    monkeypatch.setattr(_lowlevel, "open_handle", spy)
    return calls


def test_cookie_opens_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    with Cookie() as cookie:
        assert cookie.buffer(PDF) == "PDF document, version 1.7"
    assert calls == [(0, None, True, False)]


def test_command_line_opens_through_it(monkeypatch: pytest.MonkeyPatch,
                                       capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    calls = _spy(monkeypatch)
    assert cli.main(["-b", "-j", "1", os.devnull]) == 0
    assert capsysbinary.readouterr().out == b"character special (1/3)\n"
    assert [(database, capture, environ) for _, database, capture, environ in calls] == [
        (None, False, True)]

