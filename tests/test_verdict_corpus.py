"""Accuracy on the generated test set (tests/verdict_corpus.py).

Every planted mismatch and polyglot is found; no correctly named file of a
covered kind gets a mismatch finding, and its label is its true type.  The
same figures, against python-magic + mimetypes, are in bench/RESULTS.md
(``python bench/bench_verdicts.py``).
"""

from __future__ import annotations

import os
import sys

import pytest

from magicguard import inspect

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus

MISMATCH = {"extension_mismatch", "declared_type_mismatch", "multiple_formats"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[corpus.Case]:
    return corpus.build(str(tmp_path_factory.mktemp("verdict-corpus")))


def test_the_set_covers_what_it_should(cases: list[corpus.Case]) -> None:
    """Office files are written by python-docx/openpyxl (test extras), so they are in the set."""
    groups = {c.group for c in cases}
    assert {"png", "gif", "bmp", "jpeg", "pdf", "zip", "tar", "wav", "sqlite", "json",
            "docx", "xlsx", "python", "shell", "php", "renamed", "declared", "polyglot"} <= groups
    assert sum(c.kind == "polyglot" for c in cases) >= 10


def test_every_planted_finding_is_found(cases: list[corpus.Case]) -> None:
    missed = []
    for c in cases:
        if c.expect:
            v = inspect(c.path, filename=c.name, declared_type=c.declared)
            if not c.expect <= v.codes or v.allowed:
                missed.append((c.name, sorted(c.expect - v.codes), v.allowed))
    assert missed == []


def test_no_false_mismatch_on_correctly_named_files(cases: list[corpus.Case]) -> None:
    wrong = []
    for c in cases:
        if c.kind == "correct":
            v = inspect(c.path, filename=c.name, declared_type=c.declared)
            if v.codes & MISMATCH or not v.allowed or v.label != c.truth:
                wrong.append((c.name, v.label, sorted(v.codes)))
    assert wrong == []


def test_polyglots_found_from_a_stream_of_chunks(cases: list[corpus.Case]) -> None:
    """The same answers when the bytes arrive as 4 KiB chunks (no seeking back)."""
    for c in cases:
        if c.kind == "polyglot":
            with open(c.path, "rb") as f:
                data = f.read()
            chunks = (data[i:i + 4096] for i in range(0, len(data), 4096))
            assert "multiple_formats" in inspect(chunks, filename=c.name).codes, c.name
