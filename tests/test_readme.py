"""The README's Python runs as written, and says what it returns.

Every ```python block of README.md is run, in order, in one fresh
interpreter (the tour's later blocks use the names and files of the earlier
ones, as a reader pasting them into one session would), in a child process
with a timeout.  Where a line is an expression followed by a comment that
starts with a Python literal (``magicguard.from_buffer(...)   # 'application/pdf'``),
the expression's value must equal that literal; a string literal ending in
``...`` is a prefix.  The line still runs exactly once, as written.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import magicguard

README = Path(__file__).resolve().parent.parent / "README.md"

_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_CLAIM = re.compile(r"^(?P<indent>\s*)(?P<code>\S.*?)\s{2,}# (?P<comment>.+)$")
_LITERAL = re.compile(r"""^(b?'(?:[^'\\]|\\.)*'|\((?:[^()'"]|'(?:[^'\\]|\\.)*')*\)|True|False|None|-?\d+)""")

_PRELUDE = '''
def __claim(value, expected, line):
    if isinstance(expected, str) and expected.endswith("..."):
        ok = isinstance(value, str) and value.startswith(expected[:-3])
    else:
        ok = value == expected
    if not ok:
        raise AssertionError(f"README line {line}: got {value!r}, the comment says {expected!r}")
    return value
'''


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def with_claims_checked(code: str, first_line: int) -> tuple[str, int]:
    """``code`` with each ``expression  # literal`` line checked; and how many."""
    out, claims = [], 0
    for offset, line in enumerate(code.splitlines()):
        match = _CLAIM.match(line)
        literal = _LITERAL.match(match.group("comment")) if match else None
        if match and literal:
            try:
                ast.parse(match.group("code"), mode="eval")
                expected = ast.literal_eval(literal.group(1))
            except (SyntaxError, ValueError):
                out.append(line)
                continue
            out.append(f"{match.group('indent')}__claim(({match.group('code')}), {expected!r}, "
                       f"{first_line + offset})")
            claims += 1
        else:
            out.append(line)
    return "\n".join(out) + "\n", claims


def test_readme_has_python_blocks_with_claims() -> None:
    """The extraction finds the tour, Pool and Mapping blocks and their claims
    (so the test below cannot pass by finding nothing)."""
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3
    claims = sum(with_claims_checked(code, line)[1] for line, code in blocks)
    assert claims >= 10


@pytest.mark.skipif(not magicguard.BUNDLED_LIBMAGIC,
                    reason="the README's tour states the bundled build's answers (libmagic 5.47 "
                           "and its database); the system build links another libmagic")
def test_readme_python_runs_as_written(tmp_path: Path) -> None:
    """Issue 13 item 11: the README tour runs (before: undefined names such
    as ``data``, files that do not exist, a top-level ``await``), and every
    value its comments state is the value it returns."""
    script = _PRELUDE + "".join(with_claims_checked(code, line)[0]
                                for line, code in python_blocks(README.read_text()))
    (tmp_path / "readme.py").write_text(script)
    got = subprocess.run([sys.executable, str(tmp_path / "readme.py")], cwd=tmp_path,
                         capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert got.returncode == 0, got.stderr.decode(errors="replace")
    assert got.stderr == b"", "the README's code printed to stderr"


@pytest.mark.parametrize(("line", "expected"), [
    ("x = 1  # 'one'", None),                                # a statement: run, not checked
    ("f()  # 'ab...'", "'ab...'"),
    ("m[:4], g()   # (b'\\x7fELF', b'\\x7fELF'): copies", "(b'\\x7fELF', b'\\x7fELF')"),
    ("f()  # change what is reported", None),               # not a literal: not checked
])
def test_claim_extraction(line: str, expected: str | None) -> None:
    """Which comment is a claim, and what it claims."""
    code, claims = with_claims_checked(line, 1)
    assert claims == (expected is not None)
    if expected is not None:
        assert repr(ast.literal_eval(expected)) in code
