"""Generate small real files as fuzz seeds: python fuzz/make_seeds.py DIR [--cc CC].

Each is made here, at build time, by the Python standard library (or, for
ELF objects, the C compiler), so no other project's binaries are committed.
They cover the code paths the libmagic tests/ files miss: the compressed
formats behind Flags.COMPRESS (gzip, bzip2, xz, lzma, zip, nested), archives,
images, text encodings, scripts, structured text and ELF.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import sqlite3
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 4
SCRIPT = b"#!/bin/sh\nset -e\nfor f in \"$@\"; do echo \"$f\"; done\n"
PYTHON = b"#!/usr/bin/env python3\nimport sys\nprint(sys.argv)\n"
C_SOURCE = b"#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\0" + bytes([x * 16, 255 - x * 16, 128]) * 4 for x in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def bmp() -> bytes:
    pixels = b"\x00\x00\xff\x00" * 4
    header = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 32, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(header) + len(pixels), 0, 0, 14 + len(header)) \
        + header + pixels


def gif() -> bytes:
    return (b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
            + b",\0\0\0\0\1\0\1\0\0\2\2D\1\0;")


def wav() -> bytes:
    data = bytes(range(0, 256, 8)) * 2
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" \
        + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("a.txt", TEXT), ("run.sh", SCRIPT)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        z.writestr(zipfile.ZipInfo("a.txt", (1980, 1, 1, 0, 0, 0)), TEXT)
        z.writestr(zipfile.ZipInfo("mimetype", (1980, 1, 1, 0, 0, 0)),
                   b"application/vnd.oasis.opendocument.text")
    return buf.getvalue()


def sqlite_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db"
        con = sqlite3.connect(path)
        con.execute("create table t (a)")
        con.commit()
        con.close()
        return path.read_bytes()


def elf_objects(cc: str) -> dict[str, bytes]:
    """A relocatable object and, where linking works, a small executable."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_bytes(C_SOURCE)
        for name, args in (("elf-object.o", ["-c", "-Os"]), ("elf-exec", ["-Os", "-s"])):
            dest = Path(tmp) / name
            proc = subprocess.run([cc, *args, str(src), "-o", str(dest)], capture_output=True)
            if proc.returncode == 0 and dest.stat().st_size <= 65536:
                out[name] = dest.read_bytes()
    return out


def seeds(cc: str) -> dict[str, bytes]:
    tar = tar_bytes()
    files: dict[str, bytes] = {
        "text.txt": TEXT,
        "utf8.txt": "naïve café — ünïcödé\n".encode() * 3,
        "utf16le.txt": "\ufeffUTF-16 text\r\n".encode("utf-16-le"),
        "utf16be.txt": "\ufeffUTF-16 text\n".encode("utf-16-be"),
        "latin1.txt": "caf\xe9 na\xefve\n".encode("latin-1") * 3,
        "script.sh": SCRIPT,
        "script.py": PYTHON,
        "source.c": C_SOURCE,
        "page.html": b"<!DOCTYPE html>\n<html><head><title>t</title></head><body>x</body></html>\n",
        "doc.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n<root><a b="c">d</a></root>\n',
        "data.json": json.dumps({"a": [1, 2.5, None, True], "b": {"c": "d"}}).encode(),
        "data.csv": b"name,size,kind\nfoo,1,a\nbar,2,b\nbaz,3,c\n",
        "image.png": png(),
        "image.bmp": bmp(),
        "image.gif": gif(),
        "sound.wav": wav(),
        "doc.pdf": pdf(),
        "archive.tar": tar,
        "archive.zip": zip_bytes(zipfile.ZIP_DEFLATED),
        "stored.zip": zip_bytes(zipfile.ZIP_STORED),
        "text.gz": gzip.compress(TEXT, mtime=0),
        "archive.tar.gz": gzip.compress(tar, mtime=0),
        "text.bz2": bz2.compress(TEXT),
        "archive.tar.bz2": bz2.compress(tar),
        "text.xz": lzma.compress(TEXT),
        "data.json.xz": lzma.compress(json.dumps({"k": list(range(20))}).encode()),
        "text.lzma": lzma.compress(TEXT, format=lzma.FORMAT_ALONE),
        "text.zlib": zlib.compress(TEXT),
        "nested.gz.gz": gzip.compress(gzip.compress(TEXT, mtime=0), mtime=0),
        "png.gz": gzip.compress(png(), mtime=0),
        "zeros.gz": gzip.compress(b"\0" * 65536, mtime=0),
        "db.sqlite": sqlite_bytes(),
        "ar.a": b"!<arch>\n" + b"a.txt/          0           0     0     644     "
                + str(len(TEXT)).encode().ljust(10) + b"`\n" + TEXT,
    }
    for name, data in elf_objects(cc).items():
        files[name] = data
        files[name + ".gz"] = gzip.compress(data, mtime=0)
    return files


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--cc", default="cc")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    made = seeds(args.cc)
    for name, data in made.items():
        (args.dest / f"gen-{name}").write_bytes(data)
    print(f"make_seeds: {len(made)} files in {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
