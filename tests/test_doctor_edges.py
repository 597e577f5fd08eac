"""The doctor's report when parts of the probe fail (issue 13, item 9)."""

from __future__ import annotations

import json

import pytest

from conftest import run_python
from magicguard import doctor


def test_trap_reported_installed_even_when_the_sample_fails() -> None:
    """Before: "not installed" whenever the sample identification failed
    (the trap was only installed as a side effect of the sample)."""
    proc = run_python("""
import magicguard
def broken(*args, **kwargs):
    raise RuntimeError("sample broken on purpose")
magicguard.from_buffer = broken
from magicguard import doctor
doctor.probe()
""")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["sample"]["identified"] is False and "on purpose" in facts["sample"]["error"]
    assert facts["sigbus_trap"] == {"installed": True, "on_top": True}


def test_crashed_probe_keeps_every_documented_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "database" and "sample" were null when the probe crashed."""
    monkeypatch.setattr(doctor, "_run_probe", lambda timeout: (
        None, {"returncode": -11, "stderr": None}, ["the probe process was killed by SIGSEGV"]))
    report = doctor.diagnose(5)
    assert report["ok"] is False
    assert set(report["database"]) >= {"path", "search_path", "format", "expected_format",
                                       "loads", "error"}
    assert set(report["sample"]) >= {"identified", "buffer", "mime", "file"}
    assert report["sigbus_trap"] == {"installed": "unknown", "on_top": "unknown"}
