"""magicguard.Policy: patterns, limits, isolation, TOML, and the reasons recorded."""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import pytest

import magicguard.verdict
from magicguard import Policy, inspect

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus

# Close the Pools/Sandboxes verdicts keep after each test (conftest.py).
pytestmark = pytest.mark.usefixtures("close_verdict_engines")

PNG = corpus.png(random.Random(5))
PDF = corpus.pdf(random.Random(5))


def test_default_policy_fields() -> None:
    p = Policy()
    assert p.isolation == "none" and p.timeout is None and p.max_size is None
    assert p.refusing == {"extension_mismatch", "declared_type_mismatch", "multiple_formats",
                          "too_large"}


def test_allow_by_mime_pattern_and_label() -> None:
    assert inspect(PNG, policy=Policy(allow=["image/*"])).allowed
    assert inspect(PNG, policy=Policy(allow=["png"])).allowed
    v = inspect(PDF, policy=Policy(allow=["image/*", "gif"]))
    assert not v.allowed
    assert "type application/pdf (pdf) matches none of the allow patterns ['image/*', 'gif']" \
        in v.reasons
    assert [f.code for f in v.findings] == ["refused_by_policy"]


def test_deny_wins_over_allow_and_every_reason_is_recorded() -> None:
    v = inspect(PNG, filename="a.jpg", policy=Policy(allow=["image/*"], deny=["png"]))
    assert not v.allowed
    assert "type image/png (png) matches deny pattern 'png'" in v.reasons
    assert "type image/png (png) matches allow pattern 'image/*'" in v.reasons
    assert any(r.startswith("refused: extension_mismatch") for r in v.reasons)
    assert sum(f.code == "refused_by_policy" for f in v.findings) == 2


def test_switches_for_findings() -> None:
    assert inspect(PNG, filename="a.jpg", policy=Policy(extension_must_match=False)).allowed
    assert inspect(PNG, declared_type="text/html",
                   policy=Policy(declared_type_must_match=False)).allowed
    poly = corpus.gif(random.Random(1)) + b"<?php echo 1; ?>"
    assert not inspect(poly).allowed
    # script_content is only noted by default: allow_multiple_formats lets the polyglot in.
    v = inspect(poly, policy=Policy(allow_multiple_formats=True))
    assert v.allowed and v.codes >= {"multiple_formats", "script_content"}
    assert not inspect(poly, policy=Policy(allow_multiple_formats=True,
                                           refuse=["script_content"])).allowed


def test_refuse_more_codes() -> None:
    sh = b"#!/bin/sh\necho hi\n"
    assert inspect(sh, filename="x.sh").allowed
    v = inspect(sh, filename="x.sh", policy=Policy(refuse=["script_content"]))
    assert not v.allowed and any(r.startswith("refused: script_content") for r in v.reasons)
    assert not inspect(b"", policy=Policy(refuse=["empty"])).allowed


def test_max_size() -> None:
    assert Policy(max_size="10 MiB").max_size == 10 << 20
    assert Policy(max_size="1.5kb").max_size == 1500
    v = inspect(PNG, policy=Policy(max_size=10))
    assert not v.allowed and "too_large" in v.codes


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"allow": [3]}, ValueError, "allow: each pattern must be a non-empty str"),
    ({"allow": 3}, TypeError, "allow must be a list"),
    ({"max_size": -1}, ValueError, "max_size must not be negative"),
    ({"max_size": "ten"}, ValueError, "a size such as '10 MiB'"),
    ({"max_size": 1.5}, TypeError, "max_size must be an int"),
    ({"isolation": "vm"}, ValueError, "isolation must be 'process', 'thread' or 'none'"),
    ({"timeout": 5}, ValueError, "timeout needs isolation 'process' or 'thread'"),
    ({"isolation": "thread", "timeout": -1}, ValueError, "positive, finite"),
    ({"isolation": "thread", "timeout": "5"}, TypeError, "timeout must be a number"),
    ({"refuse": ["nope"]}, ValueError, "unknown finding codes \\['nope'\\]"),
    ({"extension_must_match": 1}, TypeError, "extension_must_match must be a bool"),
])
def test_bad_fields(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Policy(**kwargs)


def test_policy_is_immutable_and_hashable() -> None:
    p = Policy(allow=["image/*"])
    with pytest.raises(AttributeError):
        p.allow = ()  # type: ignore[misc]
    assert p == Policy(allow=("image/*",)) and hash(p) == hash(Policy(allow=["image/*"]))
    assert Policy.from_mapping(p.to_dict()) == p


@pytest.mark.parametrize("text", [
    'allow = ["image/*", "pdf"]\nmax_size = "5 MiB"\nisolation = "thread"\ntimeout = 2.5\n',
    '[policy]\nallow = ["image/*", "pdf"]\nmax_size = 5242880\nisolation = "thread"\ntimeout = 2.5\n',
    ('[tool.magicguard.policy]\nallow = ["image/*", "pdf"]\nmax_size = "5MiB"\n'
     'isolation = "thread"\ntimeout = 2.5\n'),
])
def test_from_toml(tmp_path: Any, text: str) -> None:
    path = os.path.join(tmp_path, "policy.toml")
    with open(path, "w") as f:
        f.write(text)
    p = Policy.from_toml(path)
    assert p == Policy(allow=["image/*", "pdf"], max_size=5 << 20, isolation="thread", timeout=2.5)


def test_from_toml_errors_name_the_file(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "bad.toml")
    with open(path, "w") as f:
        f.write("allow = [\n")
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML"):
        Policy.from_toml(path)
    with open(path, "w") as f:
        f.write("alow = ['image/*']\n")
    with pytest.raises(ValueError, match=r"bad.toml: unknown policy settings \['alow'\]"):
        Policy.from_toml(path)
    with pytest.raises(FileNotFoundError):
        Policy.from_toml(os.path.join(tmp_path, "missing.toml"))


def test_process_isolation_with_timeout_judges_in_a_sandbox() -> None:
    v = inspect(PNG, filename="a.png", policy=Policy(isolation="process", timeout=30))
    assert v.label == "png" and v.allowed


def test_thread_isolation_timeout_raises_timeout_error() -> None:
    """Past the policy's timeout the caller stops waiting: a builtin TimeoutError."""
    # A 6 MiB JSON array that libmagic's JSON test parses to its end (~25 ms
    # with the tuned engine, which answers ~7 MiB of plain text in ~0.1 ms:
    # too fast to be sure of missing a 1 µs deadline).
    data = b"[" + b"1," * (3 << 20) + b"1]"
    with pytest.raises(TimeoutError, match=r"longer than the policy's timeout=1e-06s"):
        inspect(data, policy=Policy(isolation="thread", timeout=1e-6))
    # The engine stays usable for the next verdict.
    assert inspect(PNG, policy=Policy(isolation="thread", timeout=1e-6 * 1e7)).label == "png"


def test_shutdown_frees_the_kept_pool_threads() -> None:
    """A thread-isolated verdict keeps a Pool for reuse; shutdown() ends its
    threads, and the next verdict works with a new one."""
    import threading

    def pool_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("magicguard-pool")]

    policy = Policy(isolation="thread")
    assert inspect(b"%PDF-1.4\n", policy=policy).label == "pdf"
    assert pool_threads()
    magicguard.verdict.shutdown()
    assert not pool_threads()
    assert inspect(b"%PDF-1.4\n", policy=policy).label == "pdf"
