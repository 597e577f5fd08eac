"""magicguard.inspect: the verdict, its fields, and every kind of source."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

import magicguard
import magicguard.verdict
from magicguard import Finding, Policy, Verdict, inspect

# Close the Pools/Sandboxes verdicts keep after each test (conftest.py).
pytestmark = pytest.mark.usefixtures("close_verdict_engines")

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus  # noqa: E402

RNG_SEED = 7


def _png() -> bytes:
    import random

    return corpus.png(random.Random(RNG_SEED))


def _jpeg_zip() -> bytes:
    import random

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("x.txt", "hello")
    return corpus.jpeg(random.Random(RNG_SEED)) + inner.getvalue()


def test_public_names_are_exported_lazily() -> None:
    """`import magicguard` does not import the verdict modules; the names resolve on use."""
    code = ("import sys, magicguard; "
            "assert 'magicguard.verdict' not in sys.modules and 'magicguard.policy' not in sys.modules; "
            "magicguard.Policy; assert 'magicguard.policy' in sys.modules; "
            "print(magicguard.inspect.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "magicguard.verdict"
    for name in ("inspect", "ainspect", "Verdict", "Finding", "Policy"):
        assert name in magicguard.__all__
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        magicguard.nonexistent  # noqa: B018


def test_verdict_fields_for_a_png() -> None:
    """A correctly named PNG: libmagic's type, encoding, description, extensions, label; allowed."""
    v = inspect(_png(), filename="photo.png", declared_type="image/png")
    assert v.mime_type == "image/png"
    assert v.encoding == "binary"
    assert v.description.startswith("PNG image data")
    assert v.extensions[0] == "png"
    assert v.label == "png"
    assert v.matches[0] == v.decided_by
    assert v.findings == ()
    assert v.allowed is True
    assert "extension .png fits the content (png)" in v.reasons
    assert "declared type image/png matches the content (png)" in v.reasons


def test_verdict_is_immutable_and_json_ready() -> None:
    """Verdict and Finding are frozen; to_dict() round-trips through JSON."""
    v = inspect(_jpeg_zip(), filename="cat.jpg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.allowed = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.findings[0].code = "x"  # type: ignore[misc]
    data = json.loads(json.dumps(v.to_dict()))
    assert data["label"] == "jpeg" and data["allowed"] is False
    assert {"code", "message", "offset"} <= set(data["findings"][0])
    assert [f["label"] for f in data["formats"]] == ["jpeg", "zip"]
    assert isinstance(v, Verdict) and all(isinstance(f, Finding) for f in v.findings)


def test_jpeg_with_appended_zip_is_multiple_formats() -> None:
    """libmagic alone calls it JPEG; the ZIP end record ending the file shows the second format."""
    data = _jpeg_zip()
    assert magicguard.from_buffer(data).startswith("JPEG image data")
    v = inspect(data, filename="cat.jpg")
    finding = next(f for f in v.findings if f.code == "multiple_formats")
    jpeg_length = len(corpus.jpeg(__import__("random").Random(RNG_SEED)))
    assert finding.offset == jpeg_length
    assert "zip" in finding.message
    assert not v.allowed
    assert any(r.startswith("refused: multiple_formats") for r in v.reasons)


def _zip_bytes() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("payload.php", "<?php system($_GET['c']); ?>")
    return inner.getvalue()


@pytest.mark.parametrize("head_kind", ["bmp", "gif", "png", "jpeg", "pdf"])
def test_zip_named_from_its_end_still_shows_the_format_at_the_start(head_kind: str) -> None:
    """libmagic 5.47 names a ZIP from its end record even when another format
    starts the file (a BMP with a ZIP appended is "Zip archive"): the bytes
    before the ZIP are identified on their own, and both formats reported."""
    import random

    head = getattr(corpus, head_kind)(random.Random(RNG_SEED))
    data = head + _zip_bytes()
    v = inspect(data, filename=f"x.{head_kind}")
    assert "multiple_formats" in v.codes and not v.allowed, (v.description, v.codes)
    offsets = {f.label: f.offset for f in v.formats}
    assert offsets.get(head_kind) == 0, v.formats
    assert offsets.get("zip") == len(head), v.formats
    # The same from a stream of chunks, which is never seeked back.
    chunks = (data[i:i + 4096] for i in range(0, len(data), 4096))
    assert "multiple_formats" in inspect(chunks, filename=f"x.{head_kind}").codes


@pytest.mark.skipif(not magicguard.BUNDLED_LIBMAGIC,
                    reason="pins how the bundled libmagic 5.47 names these files; "
                           "the system build's libmagic answers otherwise")
def test_zip_with_offsets_counted_from_the_file_start_shows_the_head() -> None:
    """A ZIP whose offsets were rewritten to count from the file's start
    (``zip -A``, self-extracting archives): its start is its first local header."""
    import random

    head = corpus.bmp(random.Random(RNG_SEED))
    buf = io.BytesIO(head)
    buf.seek(len(head))
    with zipfile.ZipFile(buf, "a") as z:  # appending to non-zip data: offsets from byte 0
        z.writestr("a.txt", "hello")
    v = inspect(buf.getvalue(), filename="x.bmp")
    offsets = {f.label: f.offset for f in v.formats}
    assert offsets.get("bmp") == 0 and offsets.get("zip") == len(head), v.formats
    assert "multiple_formats" in v.codes


@pytest.mark.skipif(not magicguard.BUNDLED_LIBMAGIC,
                    reason="pins how the bundled libmagic 5.47 names these files; "
                           "the system build's libmagic answers otherwise")
def test_plain_zip_and_zip_after_padding_are_one_format() -> None:
    """A ZIP that starts the file, or follows only zero padding or bytes libmagic
    knows nothing of, is one format: no polyglot finding."""
    z = _zip_bytes()
    for data in (z, b"\0" * 64 + z, bytes(range(7, 107)) * 3 + z):
        v = inspect(data, filename="a.zip")
        assert v.label == "zip", v.description
        assert "multiple_formats" not in v.codes, (len(data) - len(z), v.formats)


def test_fake_zip_directory_behind_another_format_costs_bounded_time() -> None:
    """An end record pointing nowhere and 1 MiB of implausible local headers."""
    import time

    data = b"BM" + b"PK\x03\x04\xff\xff" * 170_000 + b"PK\x05\x06" + b"\xff" * 16 + b"\0\0"
    t = time.perf_counter()
    v = inspect(data, filename="x.bmp")
    assert time.perf_counter() - t < 10
    json.dumps(v.to_dict())


def test_extension_mismatch_names_both_sides() -> None:
    v = inspect(_png(), filename="holiday.jpg")
    f = next(f for f in v.findings if f.code == "extension_mismatch")
    assert "'holiday.jpg' says jpeg (.jpg) but the content is png" in f.message
    assert not v.allowed


def test_declared_type_mismatch_and_aliases() -> None:
    """A lying Content-Type is found; aliases and parameters are not mismatches."""
    png = _png()
    assert "declared_type_mismatch" in inspect(png, declared_type="application/pdf").codes
    assert "declared_type_mismatch" not in inspect(png, declared_type="IMAGE/PNG; q=1").codes
    assert "declared_type_mismatch" not in inspect(png, declared_type="application/octet-stream").codes
    bmp = corpus.bmp(__import__("random").Random(1))
    assert "declared_type_mismatch" not in inspect(bmp, declared_type="image/x-ms-bmp").codes


def test_no_extension_and_unknown_extension_are_not_mismatches() -> None:
    assert "extension_mismatch" not in inspect(_png(), filename="README").codes
    v = inspect(_png(), filename="x.weirdext")
    assert "extension_mismatch" not in v.codes
    assert any("not one magicguard knows" in r for r in v.reasons)


def test_empty_and_truncated() -> None:
    assert "empty" in inspect(b"").codes
    png = _png()
    v = inspect(png[:-12], filename="a.png")
    assert "truncated" in v.codes and "IEND" in next(f.message for f in v.findings
                                                    if f.code == "truncated")
    assert "truncated" not in inspect(png, filename="a.png").codes


def test_script_and_executable_content() -> None:
    v = inspect(b"#!/bin/sh\necho hi\n", filename="run.sh")
    assert v.label == "shell" and "script_content" in v.codes and v.allowed
    with open(sys.executable, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith(b"\x7fELF"):
        assert "executable_content" in inspect(head).codes


def test_php_in_html_and_script_in_image() -> None:
    html = b"<!DOCTYPE html>\n<html><body><p>hi</p><?php system($_GET['c']); ?></body></html>\n"
    v = inspect(html, filename="page.html")
    assert v.label == "html"
    assert {"script_content", "multiple_formats"} <= v.codes
    v = inspect(_png() + b"<script>alert(1)</script>", filename="a.png")
    assert {"script_content", "multiple_formats"} <= v.codes


def test_plain_text_mentioning_php_is_not_a_polyglot() -> None:
    """A text file quoting <?php is noted as script content, never as several formats."""
    v = inspect(b"To start a PHP block write <?php and end it with ?>.\n", filename="notes.txt")
    assert "multiple_formats" not in v.codes and v.allowed


def test_compressed_content_is_looked_into() -> None:
    """gzip data: what is inside, decompressed here (no external program)."""
    v = inspect(gzip.compress(b"%PDF-1.4\n%%EOF\n"), filename="doc.pdf.gz")
    assert v.label == "gzip"
    assert v.inner is not None and v.inner.label == "pdf"
    assert v.to_dict()["inner"]["mime_type"] == "application/pdf"
    assert "extension_mismatch" not in v.codes


def test_office_file_recognised_from_the_zip_directory() -> None:
    """A docx is docx, even where libmagic's answer from the head is only zip or data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    v = inspect(buf.getvalue(), filename="letter.docx")
    assert v.label == "docx"
    assert v.mime_type.endswith("wordprocessingml.document")
    assert "extension_mismatch" not in v.codes
    assert inspect(buf.getvalue(), filename="letter.zip").label == "docx"


SOURCES = ["bytes", "bytearray", "memoryview", "path", "pathlike", "mapping", "fd", "file",
           "nonseekable", "iterator", "generator"]


@pytest.mark.parametrize("kind", SOURCES)
def test_every_source_kind_gives_the_same_verdict(kind: str, tmp_path: os.PathLike[str]) -> None:
    data = _jpeg_zip()
    path = os.path.join(tmp_path, "cat.jpg")
    with open(path, "wb") as f:
        f.write(data)
    expected = inspect(data, filename="cat.jpg")
    if kind == "bytes":
        v = inspect(bytes(data), filename="cat.jpg")
    elif kind == "bytearray":
        v = inspect(bytearray(data), filename="cat.jpg")
    elif kind == "memoryview":
        v = inspect(memoryview(data), filename="cat.jpg")
    elif kind == "path":
        v = inspect(path)
        assert v.name == path
    elif kind == "pathlike":
        import pathlib

        v = inspect(pathlib.Path(path))
    elif kind == "mapping":
        with magicguard.Mapping.open(path) as m:
            v = inspect(m, filename="cat.jpg")
    elif kind == "fd":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.lseek(fd, 5, os.SEEK_SET)
            v = inspect(fd, filename="cat.jpg")
            assert os.lseek(fd, 0, os.SEEK_CUR) == 5  # pread: the offset never moved
        finally:
            os.close(fd)
    elif kind == "file":
        with open(path, "rb") as f:
            v = inspect(f)
            assert f.tell() == 0
            assert v.position_restored is True
    elif kind == "nonseekable":
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            v = inspect(f, filename="cat.jpg")
    elif kind == "iterator":
        v = inspect(iter([data[i:i + 7] for i in range(0, len(data), 7)]), filename="cat.jpg")
    else:
        v = inspect((data[i:i + 100] for i in range(0, len(data), 100)), filename="cat.jpg")
    assert (v.label, v.mime_type, v.size, v.codes) == (
        expected.label, expected.mime_type, expected.size, expected.codes)
    assert v.name.endswith("cat.jpg") if v.name else False


def test_file_object_read_from_its_position_and_put_back() -> None:
    """A file object is judged from where it stands, and returned there."""
    f = io.BytesIO(b"junk" + _png())
    f.seek(4)
    v = inspect(f, filename="a.png")
    assert v.label == "png" and f.tell() == 4


def test_bad_sources_and_arguments() -> None:
    with pytest.raises(TypeError, match="text stream"):
        inspect(io.StringIO("hello"))
    with pytest.raises(TypeError, match="not float"):
        inspect(1.5)
    with pytest.raises(TypeError, match="each chunk must be bytes-like, not int"):
        inspect(iter([b"ab", 3]))
    with pytest.raises(TypeError, match="filename must be a str"):
        inspect(b"x", filename=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"policy must be a magicguard\.Policy"):
        inspect(b"x", policy={"allow": []})  # type: ignore[arg-type]
    with pytest.raises(IsADirectoryError):
        inspect(os.path.dirname(__file__))
    with pytest.raises(ValueError, match="NUL"):
        inspect("a\0b")


def test_fifo_path_is_refused_without_blocking(tmp_path: os.PathLike[str]) -> None:
    fifo = os.path.join(tmp_path, "fifo")
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        inspect(fifo)


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_isolation_gives_the_same_verdict(isolation: str) -> None:
    data = _jpeg_zip()
    local = inspect(data, filename="cat.jpg")
    v = inspect(data, filename="cat.jpg", policy=Policy(isolation=isolation, timeout=30))  # type: ignore[arg-type]
    assert v.to_dict() == local.to_dict()


def test_hostile_repetitions_cost_bounded_time() -> None:
    """7 MiB of fake ZIP headers, PDF headers and PHP openers: one verdict, quickly."""
    import time

    data = b"\xff\xd8\xff\xe0" + (b"PK\x03\x04\xff\xff%PDF-1.1<?PhP<script>" * 300_000)
    t = time.perf_counter()
    v = inspect(data, filename="x.jpg")
    assert time.perf_counter() - t < 10
    assert "script_content" in v.codes


def test_random_bytes_never_break_a_verdict() -> None:
    """Whatever the bytes and the name, inspect returns a Verdict (hypothesis)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=2048), st.sampled_from(["a.png", "b.zip", "c", "d.txt", None]),
           st.sampled_from([None, "image/png", "text/plain", "application/octet-stream"]))
    def check(data: bytes, name: str | None, declared: str | None) -> None:
        for blob in (data, b"PK\x03\x04" + data, data + b"PK\x05\x06" + bytes(18),
                     data + _zip_bytes()):
            v = inspect(blob, filename=name, declared_type=declared)
            assert isinstance(v.allowed, bool) and v.size == len(blob)
            json.dumps(v.to_dict())

    check()


@pytest.mark.skipif(not magicguard.BUNDLED_LIBMAGIC,
                    reason="pins how the bundled libmagic 5.47 names these files; "
                           "the system build's libmagic answers otherwise")
def test_answers_new_in_libmagic_547_have_labels() -> None:
    """5.47 names INI files application/x-wine-extension-ini (5.46: text/plain),
    TrueType fonts font/ttf (5.46: font/sfnt) and describes SVG without its
    text encoding: each still has its label, and a correctly named file of
    each kind is no mismatch."""
    from magicguard.labels import label_for

    assert label_for("application/x-wine-extension-ini") == "ini"
    assert label_for("font/ttf") == label_for("font/sfnt") == "ttf"
    ini = b"[tox]\nenvlist = py3\n\n[testenv]\ndeps = pytest\ncommands = pytest -q\n"
    v = inspect(ini, filename="tox.ini")
    assert v.label == "ini" and v.mime_type == "application/x-wine-extension-ini", v.mime_type
    assert v.codes == frozenset() and v.allowed, v.findings
    for name, declared in (("setup.cfg", None), ("notes.txt", "text/plain"),
                           ("x.ini", "application/x-wine-extension-ini")):
        w = inspect(ini, filename=name, declared_type=declared)
        assert not w.codes & {"extension_mismatch", "declared_type_mismatch"}, (name, w.findings)
    svg = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">'
           b'<rect width="1" height="1"/></svg>\n')
    s = inspect(svg, filename="icon.svg", declared_type="image/svg+xml")
    assert s.label == "svg" and s.description == "SVG Scalable Vector Graphics image", s.description
    assert s.allowed and not s.codes, s.findings


def test_byte_compiled_python_and_lua_scripts_have_labels(tmp_path: os.PathLike[str]) -> None:
    """libmagic's MIME type for .pyc files (application/x-bytecode.python) and
    5.47's for Lua scripts (text/x-lua) have labels: a correctly named .pyc is
    no extension mismatch, and both are seen as code."""
    import py_compile

    src = os.path.join(os.fspath(tmp_path), "m.py")
    with open(src, "w") as f:
        f.write("X = 1\n")
    pyc = py_compile.compile(src, cfile=os.path.join(os.fspath(tmp_path), "m.pyc"))
    v = inspect(pyc)
    assert v.mime_type == "application/x-bytecode.python" and v.label == "pyc", v.mime_type
    assert "extension_mismatch" not in v.codes and "executable_content" in v.codes, v.findings
    lua = inspect(b"#!/usr/bin/env lua\nprint('hi')\n", filename="hi.lua")
    assert lua.label == "lua" and "script_content" in lua.codes, (lua.mime_type, lua.findings)
    assert "extension_mismatch" not in lua.codes
