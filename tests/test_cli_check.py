"""`magicguard --check`: one line (or JSON object) per file, exit 0 when all pass, 1 otherwise."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "magicguard", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def files(tmp_path: Any) -> dict[str, str]:
    out = {}
    good = os.path.join(tmp_path, "good")
    os.makedirs(os.path.join(good, "sub"))
    for rel, data in [("good/a.png", corpus.png(random.Random(1))),
                      ("good/sub/b.pdf", corpus.pdf(random.Random(1))),
                      ("good/sub/c.gif", corpus.gif(random.Random(1))),
                      ("renamed.jpg", corpus.png(random.Random(2))),
                      ("poly.gif", corpus.gif(random.Random(3)) + b"<?php system($_GET[1]); ?>")]:
        path = os.path.join(tmp_path, rel)
        with open(path, "wb") as f:
            f.write(data)
        out[rel] = path
    out["good"] = good
    out["dir"] = str(tmp_path)
    return out


def test_all_pass_exit_zero(files: dict[str, str]) -> None:
    r = run("--check", files["good/a.png"], files["good/sub/b.pdf"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == [f"{files['good/a.png']}: ALLOWED png (image/png)",
                     f"{files['good/sub/b.pdf']}: ALLOWED pdf (application/pdf)"]


def test_mismatch_or_polyglot_refused_exit_one(files: dict[str, str]) -> None:
    r = run("--check", files["good/a.png"], files["renamed.jpg"], files["poly.gif"])
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].endswith("ALLOWED png (image/png)")
    assert lines[1].startswith(f"{files['renamed.jpg']}: REFUSED png (image/png) -- "
                               "extension_mismatch: ")
    assert "REFUSED gif" in lines[2] and "multiple_formats" in lines[2]


def test_json_lines(files: dict[str, str]) -> None:
    r = run("--check", "--json", files["good/a.png"], files["renamed.jpg"])
    assert r.returncode == 1
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["path"] for o in objs] == [files["good/a.png"], files["renamed.jpg"]]
    assert [o["allowed"] for o in objs] == [True, False]
    assert "extension_mismatch" in {f["code"] for f in objs[1]["findings"]}
    assert objs[0]["label"] == "png" and objs[0]["mime_type"] == "image/png"


def test_recursive_and_jobs(files: dict[str, str]) -> None:
    r = run("--check", "-R", "-j", "2", files["good"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line.split(": ")[0] for line in r.stdout.splitlines()] == [
        os.path.join(files["good"], "a.png"), os.path.join(files["good"], "sub", "b.pdf"),
        os.path.join(files["good"], "sub", "c.gif")]
    r = run("--check", "--recursive", "--jobs=2", "--json", files["dir"])
    assert r.returncode == 1
    assert len(r.stdout.splitlines()) == 5


def test_directory_without_R_and_missing_file_fail(files: dict[str, str]) -> None:  # noqa: N802 - -R is the option's name
    r = run("--check", files["good"], os.path.join(files["dir"], "missing.png"))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"{files['good']}: ERROR is a directory (use -R to walk it)"
    assert lines[1].startswith(os.path.join(files["dir"], "missing.png") + ": ERROR ")
    assert "No such file or directory" in lines[1]


def test_policy_file(files: dict[str, str], tmp_path: Any) -> None:
    policy = os.path.join(tmp_path, "policy.toml")
    with open(policy, "w") as f:
        f.write('[policy]\nallow = ["image/*"]\nextension_must_match = false\n')
    r = run("--check", "--policy", policy, files["renamed.jpg"], files["good/sub/b.pdf"])
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert ": ALLOWED png" in lines[0]  # the extension no longer matters
    assert ": REFUSED pdf" in lines[1]
    r = run("--check", "--policy", policy, files["renamed.jpg"])
    assert r.returncode == 0


def test_bad_policy_and_usage_exit_two(tmp_path: Any, files: dict[str, str]) -> None:
    bad = os.path.join(tmp_path, "bad.toml")
    with open(bad, "w") as f:
        f.write("nope = 1\n")
    r = run("--check", "--policy", bad, files["good/a.png"])
    assert r.returncode == 2 and "unknown policy settings ['nope']" in r.stderr
    assert run("--check").returncode == 2
    assert run("--check", "-j", "0", files["good/a.png"]).returncode == 2


def test_stdin(files: dict[str, str]) -> None:
    with open(files["good/a.png"], "rb") as f:
        r = subprocess.run([sys.executable, "-m", "magicguard", "--check", "-"], stdin=f,
                           capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith(b"-: ALLOWED png"), r.stdout


def test_check_after_double_dash_is_a_file_name(tmp_path: Any) -> None:
    """`magicguard -- --check` names a file called --check (file(1)'s ordinary run)."""
    r = subprocess.run([sys.executable, "-m", "magicguard", "--", "--check"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert "--check: cannot open" in r.stdout
