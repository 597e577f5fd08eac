"""magicguard.compat answers exactly as python-magic 0.4.27 does.

Both run side by side in this process on the *same* libmagic and database
(see ``pm_same_lib``: the installed python-magic in the system build; in the
bundled build python-magic's own code bound to a shared copy of the bundled
libmagic 5.46).  Comparing with python-magic on the system libmagic 5.44
would compare two library versions, not two bindings: those answers differ
legitimately.  Behaviour that does not depend on the library version
(exception types, coercions) is compared with the installed python-magic in
``test_compat.py`` in both builds.

An outcome is the returned string, or the kind of exception raised
(python-magic's and compat's ``MagicException`` count as the same kind).
"""

from __future__ import annotations

import gzip
import itertools
import os
import types
from pathlib import Path
from typing import Any, Callable

import pytest

import pm_same_lib
from magicguard import _lowlevel, compat

KEYWORDS = ("mime", "mime_encoding", "keep_going", "uncompress", "raw", "extension")
#: Every combination of Magic()'s boolean keywords: 64.
COMBOS = [dict(zip(KEYWORDS, bits)) for bits in itertools.product((False, True), repeat=len(KEYWORDS))]
#: Each combination runs over every STRIDE-th corpus file (a different slice
#: for consecutive combinations), so each corpus file meets 64 / STRIDE of
#: them and the whole test stays within the suite's time budget.
STRIDE = 32


@pytest.fixture(scope="module")
def pm(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """python-magic 0.4.27 on magicguard's own libmagic and database."""
    try:
        return pm_same_lib.load(tmp_path_factory.mktemp("pm_same_lib"))
    except LookupError as exc:
        pytest.skip(f"python-magic cannot be bound to magicguard's libmagic here: {exc}")


@pytest.fixture(scope="module")
def extras(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Small files that exercise decoding and naming corner cases."""
    d = tmp_path_factory.mktemp("compat_extras")
    files: dict[bytes, bytes] = {
        b"empty": b"",
        # gzip header naming the original file "caf\xe9" (Latin-1): libmagic
        # prints the name, raw (-r) as the byte itself, else as octal \351.
        b"latin1-name.gz": gzip.compress(b"hello\n", mtime=0)[:3] + b"\x08" + b"\0" * 6
        + b"caf\xe9\0" + gzip.compress(b"hello\n", mtime=0)[10:],
        b"latin1.txt": "café au lait, naïve déjà vu\n".encode("latin-1") * 20,
        b"utf8.txt": "καλημέρα κόσμε — ✓\n".encode() * 20,
        b"script.py": b"#!/usr/bin/env python3\nprint('hello')\n",
        b"json.json": b'{"a": [1, 2, {"b": null}]}\n',
        "λ-name.txt".encode(): b"plain text\n",
        b"non-utf8-\xff-name.txt": b"plain text\n",
    }
    paths = []
    for name, data in files.items():
        path = os.path.join(os.fsencode(d), name)
        with open(path, "wb") as f:
            f.write(data)
        paths.append(os.fsdecode(path))
    return paths


def outcome(call: Callable[..., Any], *args: Any) -> tuple[str, object]:
    """("ok", answer) or ("raise", kind of exception)."""
    try:
        return ("ok", call(*args))
    except Exception as exc:  # noqa: BLE001 - the kind of any exception is the result
        kind = "MagicException" if type(exc).__name__ == "MagicException" else type(exc).__name__
        return ("raise", kind)


def three_ways(m: Any, path: str, data: bytes) -> list[tuple[str, object]]:
    """from_file (str and bytes name), from_buffer and from_descriptor outcomes."""
    results = [outcome(m.from_file, path), outcome(m.from_file, os.fsencode(path)),
               outcome(m.from_buffer, data)]
    with open(path, "rb") as f:
        results.append(outcome(m.from_descriptor, f.fileno()))
    return results


def combo_id(index: int) -> str:
    on = [k for k, v in COMBOS[index].items() if v]
    return "+".join(on) or "defaults"


@pytest.mark.parametrize("index", range(len(COMBOS)), ids=combo_id)
def test_every_keyword_combination(index: int, pm: types.ModuleType, corpus: list[str],
                                   extras: list[str]) -> None:
    """For each combination of Magic() keywords, compat.Magic and python-magic's
    Magic give the same outcome for every method on a slice of the corpus and
    on the extra files."""
    keywords = COMBOS[index]
    ours, theirs = compat.Magic(**keywords), pm.Magic(**keywords)
    files = corpus[index % STRIDE::STRIDE] + extras
    mismatches = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        mine, reference = three_ways(ours, path, data), three_ways(theirs, path, data)
        if mine != reference:
            mismatches.append((path, mine, reference))
    assert not mismatches, f"{len(mismatches)} of {len(files)} files differ, first: {mismatches[:3]}"


@pytest.mark.parametrize("mime", [False, True], ids=["description", "mime"])
def test_module_functions_over_the_whole_corpus(mime: bool, pm: types.ModuleType,
                                                corpus: list[str]) -> None:
    """compat.from_file / from_buffer / from_descriptor answer like python-magic's
    module functions for every corpus file."""
    mismatches = []
    for path in corpus:
        with open(path, "rb") as f:
            data = f.read()
            mine = [outcome(compat.from_file, path, mime), outcome(compat.from_buffer, data, mime),
                    outcome(compat.from_descriptor, f.fileno(), mime)]
            reference = [outcome(pm.from_file, path, mime), outcome(pm.from_buffer, data, mime),
                         outcome(pm.from_descriptor, f.fileno(), mime)]
        if mine != reference:
            mismatches.append((path, mine, reference))
    assert not mismatches, f"{len(mismatches)} of {len(corpus)} files differ, first: {mismatches[:3]}"


def test_str_buffers_are_encoded_like_python_magic(pm: types.ModuleType) -> None:
    """A str buffer is UTF-8 encoded, unencodable characters replaced: the same
    answers for ASCII, non-ASCII and lone-surrogate text."""
    texts = ["#!/usr/bin/env python\nprint('foo')\n", "καλημέρα\n" * 10, "caf\udce9\n" * 10, ""]
    for mime in (False, True):
        ours, theirs = compat.Magic(mime=mime), pm.Magic(mime=mime)
        assert [ours.from_buffer(t) for t in texts] == [theirs.from_buffer(t) for t in texts]


def test_path_forms_are_accepted_like_python_magic(pm: types.ModuleType, extras: list[str]) -> None:
    """str, bytes, os.PathLike returning str and returning bytes name the same file."""

    class BytesPath:
        def __init__(self, raw: bytes) -> None:
            self.raw = raw

        def __fspath__(self) -> bytes:
            return self.raw

    ours, theirs = compat.Magic(), pm.Magic()
    for path in extras:
        forms: list[Any] = [path, os.fsencode(path), Path(path), BytesPath(os.fsencode(path))]
        assert [ours.from_file(f) for f in forms] == [theirs.from_file(f) for f in forms]


def test_symbolic_links_like_python_magic(pm: types.ModuleType, tmp_path: Path) -> None:
    """A link is described as a link; a dangling one and one to a directory
    raise what open() raises -- in both."""
    (tmp_path / "target.txt").write_text("hello\n")
    (tmp_path / "link").symlink_to(tmp_path / "target.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "dirlink").symlink_to(tmp_path)
    ours, theirs = compat.Magic(), pm.Magic()
    for name in ("link", "dangling", "dirlink"):
        path = str(tmp_path / name)
        assert outcome(ours.from_file, path) == outcome(theirs.from_file, path), name
    assert ours.from_file(str(tmp_path / "link")).startswith("symbolic link to ")


def test_database_errors_like_python_magic(pm: types.ModuleType, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """A missing, empty, directory-of-garbage or colon-led magic_file, and a bad
    $MAGIC, raise MagicException with libmagic's message in ``.message``;
    a colon list with one good file loads, in both."""
    # The database both load by default (libmagic adds ".mgc" to a source name).
    good = _lowlevel.default_database_path() or _lowlevel.getpath().split(":")[-1]
    garbage = tmp_path / "garbage"
    garbage.write_text("this is not magic\n")
    names = ["/nonexistent/magic", "", ":" + good, str(garbage)]
    names += ["/nonexistent:" + good, good + ":/nonexistent"]
    for name in names:
        mine = outcome(compat.Magic, False, name)
        theirs = outcome(pm.Magic, False, name)
        assert mine[0] == theirs[0] and (mine[0] == "ok" or mine == theirs), name
    with pytest.raises(compat.MagicException) as ours:
        compat.Magic(magic_file="/nonexistent/magic")
    with pytest.raises(pm.MagicException) as theirs:
        pm.Magic(magic_file="/nonexistent/magic")
    assert ours.value.message == theirs.value.message == b"could not find any valid magic files!"
    for value in ("/nonexistent/magic", ""):
        monkeypatch.setenv("MAGIC", value)
        assert outcome(compat.Magic) == outcome(pm.Magic) == ("raise", "MagicException")


def test_params_like_python_magic(pm: types.ModuleType) -> None:
    """getparam/setparam round-trip every param both accept, and refuse an
    unknown one with MagicException; NAME_MAX aside (see test_compat.py)."""
    ours, theirs = compat.Magic(), pm.Magic()
    for param in range(10):
        if param == compat.MAGIC_PARAM_NAME_MAX:
            continue
        assert outcome(ours.getparam, param) == outcome(theirs.getparam, param), param
    assert outcome(ours.setparam, compat.MAGIC_PARAM_INDIR_MAX, 7) == \
        outcome(theirs.setparam, compat.MAGIC_PARAM_INDIR_MAX, 7) == ("ok", 0)
    assert ours.getparam(compat.MAGIC_PARAM_INDIR_MAX) == theirs.getparam(compat.MAGIC_PARAM_INDIR_MAX) == 7
    for bad in (99, -1):
        assert outcome(ours.getparam, bad) == outcome(theirs.getparam, bad) == ("raise", "MagicException")
        assert outcome(ours.setparam, bad, 1) == outcome(theirs.setparam, bad, 1) == \
            ("raise", "MagicException")


def test_version_is_the_same_library(pm: types.ModuleType) -> None:
    """version() is magic_version() of the one library both use."""
    assert compat.version() == pm.version() >= 544
