"""Every input the fuzzers found a bug with, replayed through Cookie.

``tests/fuzz_regressions/TARGET/NAME`` holds minimised inputs of the fuzz
target TARGET (fuzz/README.md); each is fed to the magicguard API that
target stands for, in a subprocess with a timeout, which must exit cleanly:
no crash, no hang, nothing printed to stderr by the library (except for
``source``, whose check/compile print libmagic's warnings by design).
libmagic's refusals (``MagicError``) are fine -- a hostile database may
well be refused; an abort, a signal or another exception is not.

Without sanitizers some of these bugs (a one-byte overread) do not crash;
``scripts/fuzz`` also replays every file here through its ASan+UBSan
build of the same C code before fuzzing, which catches those.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "fuzz_regressions"
TARGETS = ("buffer", "mapping", "database", "source")
# Inputs libmagic's probes of fuzz/probes.h do not cover are identified too.
PROBES = (b"", b"#!/bin/sh\necho hello\n", b"\x7fELF\x02\x01\x01" + b"\0" * 9,
          b"\x89PNG\r\n\x1a\n", b"\x1f\x8b\x08\0\0\0\0\0\0\x03", b"PK\x03\x04",
          b'<?xml version="1.0"?>\n<a/>\n', b'{"a": 1}\n', b"\xff\xfea\0b\0",
          b"\xef\xbb\xbfUTF-8 \xc3\xa9\n", b"\0" * 32, b"\xff" * 16)


def _cases() -> list[tuple[str, Path]]:
    return [(target, path) for target in TARGETS if (INPUTS / target).is_dir()
            for path in sorted((INPUTS / target).iterdir()) if path.is_file()]


def replay(target: str, data: bytes, workdir: str) -> None:
    """Run ``data`` through the API ``target`` stands for (in this process)."""
    from magicguard import Cookie, Flags, MagicError, Mapping

    os.chdir(workdir)
    if target == "buffer":
        for flags in (Flags.NONE, Flags.COMPRESS | Flags.CONTINUE | Flags.MIME):
            assert isinstance(Cookie(flags).buffer(data), str)
    elif target == "mapping":
        path = Path(workdir, "input")
        path.write_bytes(data)
        with Mapping.open(path) as mapping:
            assert isinstance(Cookie().buffer(mapping), str)
        with open(path, "rb") as f:
            assert isinstance(Cookie(Flags.COMPRESS | Flags.CONTINUE).descriptor(f), str)
    elif target == "database":
        try:
            cookie = Cookie(database=data)
        except MagicError:
            return
        for flags in (Flags.NONE, Flags.CONTINUE | Flags.MIME):
            cookie.flags = flags
            for probe in (*PROBES, data):
                assert isinstance(cookie.buffer(probe), str)
    elif target == "source":
        Path(workdir, "src").write_bytes(data)
        Cookie().check("src")
        try:
            loaded = Cookie(database="src")
            for probe in (*PROBES, data):
                assert isinstance(loaded.buffer(probe), str)
        except MagicError:
            pass
        try:
            Cookie().compile("src")
        except MagicError:
            return
        compiled = Path(workdir, "src.mgc").read_bytes()
        try:
            again = Cookie(Flags.CONTINUE, database=compiled)
        except MagicError:
            return
        for probe in (*PROBES, data):
            assert isinstance(again.buffer(probe), str)
    else:
        raise ValueError(f"unknown fuzz target {target!r}")


def test_every_target_has_a_directory() -> None:
    """The layout the fuzz tooling writes to and this test reads agree."""
    assert INPUTS.is_dir()
    for child in INPUTS.iterdir():
        if child.is_dir():
            assert child.name in TARGETS, f"{child}: not a fuzz target"


@pytest.mark.parametrize(("target", "path"), _cases(),
                         ids=[f"{t}/{p.name}" for t, p in _cases()])
def test_fuzz_regression(target: str, path: Path) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.run([sys.executable, __file__, target, str(path), workdir],
                              capture_output=True, timeout=120)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"{target}/{path.name}: exit {proc.returncode}\n{err[-3000:]}"
    assert proc.stdout == b"ok\n"
    if target != "source":
        assert err == "", f"{target}/{path.name}: printed on stderr:\n{err[-3000:]}"


if __name__ == "__main__":
    replay(sys.argv[1], Path(sys.argv[2]).read_bytes(), sys.argv[3])
    print("ok")
