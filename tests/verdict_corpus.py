"""A generated test set for upload verdicts: files whose true type is known.

Every file is made here, with the standard library (zipfile, gzip, bz2,
lzma, tarfile, wave, sqlite3, json), by hand (PNG, GIF, BMP, JPEG, PDF), with
python-docx/openpyxl when installed, or copied from the system (an ELF).
Then the planted cases: renamed files, wrong declared Content-Types, and
polyglots (GIF+PHP, JPEG+ZIP, PNG+ZIP, JPEG+PDF, PHP in a JPEG comment,
<script> in a PNG, PHP inside HTML).

Used by tests/test_verdict_corpus.py and bench/bench_verdicts.py.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import sqlite3
import struct
import tarfile
import wave
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

__all__ = ["GENERATORS", "Case", "build"]


@dataclass(frozen=True)
class Case:
    """One file of the set.

    kind: "correct" (named as it is), "renamed", "declared" (wrong
    Content-Type), "polyglot".  truth: the label of the content's (first)
    format.  expect: finding codes a verdict must report; forbid: codes it
    must not report.
    """

    path: str
    name: str
    kind: str
    group: str
    truth: str
    declared: Optional[str] = None
    expect: frozenset[str] = field(default_factory=frozenset)
    forbid: frozenset[str] = field(default_factory=frozenset)


# -- formats written by hand ---------------------------------------------------


def png(rng: random.Random) -> bytes:
    w, h = rng.randint(1, 64), rng.randint(1, 64)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(rng.getrandbits(8) for _ in range(w * 3)) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def gif(rng: random.Random) -> bytes:
    w, h = rng.randint(1, 500), rng.randint(1, 500)
    return (b"GIF89a" + struct.pack("<HH", w, h) + b"\x80\x00\x00" + b"\xff\xff\xff\x00\x00\x00"
            + b"!\xf9\x04\x01\x00\x00\x00\x00" + b"," + struct.pack("<HHHH", 0, 0, w, h)
            + b"\x00\x02\x02D\x01\x00;")


def bmp(rng: random.Random) -> bytes:
    w, h = rng.randint(1, 40), rng.randint(1, 40)
    row = (w * 3 + 3) & ~3
    pixels = bytes(rng.getrandbits(8) for _ in range(row * h))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def jpeg(rng: random.Random, comment: bytes = b"") -> bytes:
    w, h = rng.randint(1, 2000), rng.randint(1, 2000)

    def seg(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    out = b"\xff\xd8" + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if comment:
        out += seg(0xFE, comment)
    out += seg(0xDB, b"\x00" + bytes(rng.randint(1, 50) for _ in range(64)))
    out += seg(0xC0, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
    out += seg(0xC4, b"\x00" + bytes([0, 1] + [0] * 14) + b"\x00")
    out += seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    out += bytes(rng.randint(0, 0xFE) for _ in range(rng.randint(16, 400)))
    return out + b"\xff\xd9"


def pdf(rng: random.Random) -> bytes:
    text = f"Hello {rng.randint(0, 10**6)}".encode()
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = b"%PDF-1." + str(rng.randint(3, 7)).encode() + b"\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


# -- formats from the standard library -----------------------------------------


def _text(rng: random.Random) -> str:
    words = ["upload", "file", "magic", "verdict", "policy", "stream", "type", "name"]
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
                     for _ in range(rng.randint(2, 30))) + "\n"


def zip_(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(rng.randint(1, 4)):
            z.writestr(f"dir/file{i}.txt", _text(rng))
    return buf.getvalue()


def gzip_(rng: random.Random) -> bytes:
    return gzip.compress(_text(rng).encode(), mtime=0)


def bzip2_(rng: random.Random) -> bytes:
    return bz2.compress(_text(rng).encode())


def xz_(rng: random.Random) -> bytes:
    return lzma.compress(_text(rng).encode())


def tar_(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(rng.randint(1, 3)):
            data = _text(rng).encode()
            info = tarfile.TarInfo(f"member{i}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wav_(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(rng.choice([1, 2]))
        w.setsampwidth(2)
        w.setframerate(rng.choice([8000, 22050, 44100]))
        w.writeframes(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200) * 4)))
    return buf.getvalue()


def sqlite_(rng: random.Random) -> bytes:
    path = f"/tmp/mg-corpus-{os.getpid()}-{rng.getrandbits(32)}.db"
    try:
        con = sqlite3.connect(path)
        con.execute("create table t (a, b)")
        con.executemany("insert into t values (?, ?)",
                        [(i, _text(rng)) for i in range(rng.randint(1, 20))])
        con.commit()
        con.close()
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def json_(rng: random.Random) -> bytes:
    return json.dumps({"id": rng.randint(0, 999), "tags": ["a", "b"], "ok": True,
                       "items": [{"n": i} for i in range(rng.randint(1, 5))]}, indent=2).encode()


def csv_(rng: random.Random) -> bytes:
    rows = ["name,count,price"] + [f"item{i},{rng.randint(0, 99)},{rng.random():.2f}"
                                   for i in range(rng.randint(3, 20))]
    return ("\n".join(rows) + "\n").encode()


def txt_(rng: random.Random) -> bytes:
    return _text(rng).encode()


def html_(rng: random.Random) -> bytes:
    return (f"<!DOCTYPE html>\n<html>\n<head><title>Page {rng.randint(0, 99)}</title></head>\n"
            f"<body><p>{_text(rng)}</p></body>\n</html>\n").encode()


def python_(rng: random.Random) -> bytes:
    return (f"#!/usr/bin/env python3\nimport sys\n\n\ndef main():\n    print({rng.randint(0, 99)})\n"
            f"\n\nif __name__ == '__main__':\n    sys.exit(main())\n").encode()


def shell_(rng: random.Random) -> bytes:
    return f"#!/bin/sh\nset -e\necho {rng.randint(0, 99)}\nexit 0\n".encode()


def php_(rng: random.Random) -> bytes:
    return f"<?php\necho 'hello {rng.randint(0, 99)}';\n?>\n".encode()


def elf_(rng: random.Random) -> bytes:
    """A copy of an ELF program of the system (none on macOS: the kind is left out)."""
    for path in ("/bin/true", "/usr/bin/true"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            if data.startswith(b"\x7fELF"):
                return data
    raise FileNotFoundError("no ELF /bin/true to copy")


def docx_(rng: random.Random) -> bytes:
    import docx  # python-docx

    doc = docx.Document()
    doc.add_paragraph(_text(rng))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def xlsx_(rng: random.Random) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for i in range(rng.randint(1, 10)):
        sheet.append([i, rng.random(), "x"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


#: label -> (extension, declared Content-Type, generator)
GENERATORS: dict[str, tuple[str, str, Callable[[random.Random], bytes]]] = {
    "png": ("png", "image/png", png),
    "gif": ("gif", "image/gif", gif),
    "bmp": ("bmp", "image/bmp", bmp),
    "jpeg": ("jpg", "image/jpeg", jpeg),
    "pdf": ("pdf", "application/pdf", pdf),
    "zip": ("zip", "application/zip", zip_),
    "gzip": ("gz", "application/gzip", gzip_),
    "bzip2": ("bz2", "application/x-bzip2", bzip2_),
    "xz": ("xz", "application/x-xz", xz_),
    "tar": ("tar", "application/x-tar", tar_),
    "wav": ("wav", "audio/wav", wav_),
    "sqlite": ("sqlite", "application/vnd.sqlite3", sqlite_),
    "json": ("json", "application/json", json_),
    "csv": ("csv", "text/csv", csv_),
    "text": ("txt", "text/plain", txt_),
    "html": ("html", "text/html", html_),
    "python": ("py", "text/x-python", python_),
    "shell": ("sh", "application/x-sh", shell_),
    "php": ("php", "application/x-httpd-php", php_),
    "elf": ("so", "application/octet-stream", elf_),
    "docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             docx_),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx_),
}


def _available() -> dict[str, tuple[str, str, Callable[[random.Random], bytes]]]:
    out = {}
    for label, entry in GENERATORS.items():
        try:
            entry[2](random.Random(0))
        except (ImportError, FileNotFoundError):
            continue
        out[label] = entry
    return out


def build(directory: str, per_kind: int = 5, seed: int = 1234) -> list[Case]:
    """Write the set into ``directory`` and describe it."""
    rng = random.Random(seed)
    cases: list[Case] = []
    gens = _available()
    made: dict[str, bytes] = {}

    def write(name: str, data: bytes) -> str:
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    mismatch = frozenset({"extension_mismatch", "declared_type_mismatch", "multiple_formats"})
    for label, (ext, ctype, gen) in gens.items():
        for i in range(per_kind):
            data = gen(rng)
            made.setdefault(label, data)
            name = f"{label}-{i}.{ext}"
            cases.append(Case(write(name, data), name, "correct", label, label, ctype,
                              forbid=mismatch))

    # Renamed: the content of one kind under another kind's extension.
    renames = [("png", "jpg"), ("jpeg", "png"), ("gif", "png"), ("pdf", "docx"), ("zip", "pdf"),
               ("elf", "png"), ("elf", "pdf"), ("php", "jpg"), ("php", "gif"), ("html", "png"),
               ("docx", "pdf"), ("xlsx", "csv"), ("bmp", "gif"), ("wav", "mp3"),
               ("sqlite", "json"), ("gzip", "zip"), ("python", "png"), ("shell", "jpg"),
               ("tar", "zip"), ("text", "exe"), ("pdf", "jpg"), ("zip", "docx")]
    for content, ext in renames:
        if content not in made:
            continue
        name = f"renamed-{content}-as.{ext}"
        cases.append(Case(write(name, made[content]), name, "renamed", "renamed", content,
                          expect=frozenset({"extension_mismatch"})))

    # Declared types that lie (the name is right, the Content-Type is not).
    lies = [("png", "image/jpeg"), ("pdf", "image/png"), ("elf", "image/gif"),
            ("php", "image/jpeg"), ("zip", "application/pdf"), ("html", "image/png"),
            ("jpeg", "application/pdf"), ("gif", "text/plain")]
    for content, ctype in lies:
        if content not in made:
            continue
        ext = gens[content][0]
        name = f"declared-{content}.{ext}"
        cases.append(Case(write(name, made[content]), name, "declared", "declared", content,
                          declared=ctype, expect=frozenset({"declared_type_mismatch"})))

    # Polyglots, named as their first format.
    php = b"<?php system($_GET['cmd']); ?>"
    inner_zip = io.BytesIO()
    with zipfile.ZipFile(inner_zip, "w") as z:
        z.writestr("payload.php", php)
    polys = [
        ("gif-php.gif", "gif", gif(rng) + php),
        ("gif-php-header.gif", "gif", b"GIF89a" + php + gif(rng)[6:]),
        ("jpeg-zip.jpg", "jpeg", jpeg(rng) + inner_zip.getvalue()),
        ("png-zip.png", "png", png(rng) + inner_zip.getvalue()),
        ("jpeg-pdf.jpg", "jpeg", jpeg(rng) + pdf(rng)),
        ("jpeg-php-comment.jpg", "jpeg", jpeg(rng, comment=php)),
        ("png-script.png", "png", png(rng) + b"<script>alert(document.cookie)</script>"),
        ("html-php.html", "html", html_(rng).replace(b"<body>", b"<body>" + php)),
        ("bmp-zip.bmp", "bmp", bmp(rng) + inner_zip.getvalue()),
        ("gif-zip.gif", "gif", gif(rng) + inner_zip.getvalue()),
    ]
    if "docx" in made:
        polys.append(("jpeg-docx.jpg", "jpeg", jpeg(rng) + made["docx"]))
    for name, truth, data in polys:
        cases.append(Case(write(name, data), name, "polyglot", "polyglot", truth,
                          expect=frozenset({"multiple_formats"})))
    return cases
