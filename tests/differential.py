"""Tuned libmagic vs stock libmagic: the same answers, byte for byte.

Builds (or reuses) two libmagics from the same sources and the same
security and magicguard patches -- one with ``patches/libmagic/tuning/``
(the bundled build) and one without (``MAGICGUARD_LIBMAGIC_TUNING=0``) --
links ``tests/c/diff_driver.c`` against each, runs both on the same inputs
and compares their outputs.  Inputs: real files of every kind found on this
machine (stratified like the test corpus) plus files generated here; for
each, magic_file, magic_descriptor and magic_buffer on the whole file, its
heads and tails of 1..4096 bytes and mutated copies; random and mutated
well-known headers; every flag combination the command line exposes; the C
and C.UTF-8 locales; default and reduced limits.

    scripts/differential               # the full run (384 jobs: hours on 2 cores)
    scripts/differential --shard 3/8   # every 8th job from the 3rd: a full run in parts
    scripts/differential --quick       # the bounded sample CI runs

The full run's jobs are the same on every run of a tree and machine (fixed
seeds, a fixed file sample), so ``--shard K/N`` for K = 1..N, run at any
time or on several machines of the same kind, together make one full run.

Exit status 0 when there is no difference, 1 with the first differences
printed otherwise.  ``scripts/differential`` runs ``main()``; this module
lives in tests/ so that the sdist carries it for
``tests/test_engine_differential.py``, which runs the ``--quick`` sample.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import itertools
import json
import lzma
import os
import random
import shlex
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from hostcorpus import stratified_files

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "c" / "diff_driver.c"
STOCK_PREFIX = ROOT / "build" / "libmagic-stock"

# MAGIC_* values (magic.h); numbers, so this runs without the extension.
NONE, COMPRESS, DEVICES, MIME_TYPE, CONTINUE = 0x0, 0x4, 0x8, 0x10, 0x20
RAW, ERROR, MIME_ENCODING, MIME, APPLE = 0x100, 0x200, 0x400, 0x410, 0x800
EXTENSION, COMPRESS_TRANSP = 0x1000000, 0x2000000
NO_CHECKS = {
    "compress": 0x1000, "tar": 0x2000, "soft": 0x4000, "apptype": 0x8000,
    "elf": 0x10000, "text": 0x20000, "cdf": 0x40000, "csv": 0x80000,
    "tokens": 0x100000, "encoding": 0x200000, "json": 0x400000, "simh": 0x800000,
}
#: What the command line can ask for (cli.py's options): an output mode
#: (default, -i, --mime-type, --mime-encoding, --apple, --extension) with
#: any of -k, -r, -E, -z/-Z (-s, -p and -L change nothing for a buffer);
#: and -e NAME for each test.
MODES = (NONE, MIME, MIME_TYPE, MIME_ENCODING, APPLE, EXTENSION)
MODIFIERS = (CONTINUE, RAW, ERROR, COMPRESS, COMPRESS | COMPRESS_TRANSP)


def all_flags() -> list[int]:
    """Every combination of an output mode with a subset of the modifiers
    (-z and -Z are alternatives), then each -e alone, all of them together
    and a few pairs, with and without -k."""
    out: list[int] = []
    plain = [m for m in MODIFIERS if not m & COMPRESS]
    for mode in MODES:
        for n in range(len(plain) + 1):
            for mods in itertools.combinations(plain, n):
                out.extend(mode | z | sum(mods) for z in (0, COMPRESS, COMPRESS | COMPRESS_TRANSP))
    everything = sum(NO_CHECKS.values())
    for base in (NONE, CONTINUE, MIME):
        out += [base | v for v in NO_CHECKS.values()]
        out += [base | everything, base | (everything & ~NO_CHECKS["soft"]),
                base | NO_CHECKS["soft"] | NO_CHECKS["encoding"],
                base | NO_CHECKS["text"] | NO_CHECKS["tokens"]]
    return sorted(set(out))


#: The bounded sample: each mode, the modifiers, the tests that change which
#: code runs (soft magic off, text off, encoding off).
QUICK_FLAGS = [NONE, MIME, MIME_TYPE, MIME_ENCODING, APPLE, EXTENSION, CONTINUE,
               CONTINUE | RAW | ERROR, MIME | CONTINUE, NONE | COMPRESS,
               NO_CHECKS["soft"], NO_CHECKS["text"] | NO_CHECKS["encoding"]]
LENGTHS = (1, 2, 3, 4, 5, 8, 16, 32, 64, 100, 256, 512, 1000, 1024, 2048, 4095, 4096)
QUICK_LENGTHS = (1, 2, 4, 16, 64, 512, 4096)
LOCALES = ("C", "C.UTF-8")
#: Reduced limits, so that the prefilters meet truncated regions.
PARAMS = ("", "bytes=2048,encoding=300,regex=100")


# --- the two builds -----------------------------------------------------------

@dataclass(frozen=True)
class Build:
    """One libmagic build and the driver linked against it."""

    name: str
    prefix: Path
    driver: Path

    @property
    def database(self) -> Path:
        return self.prefix / "share" / "misc" / "magic.mgc"


def build_libmagic(tuning: bool, prefix: Optional[Path]) -> Path:
    """Run build_libmagic.py (it reuses a finished build of the same inputs)."""
    env = dict(os.environ, MAGICGUARD_LIBMAGIC_TUNING="1" if tuning else "0")
    cmd = [sys.executable, str(ROOT / "build_libmagic.py")]
    if prefix is not None:
        cmd += ["--prefix", str(prefix), "--no-check"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"differential: {shlex.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def compile_driver(prefix: Path, out: Path) -> Path:
    cmd = [os.environ.get("CC", "cc"), "-O2", "-Wall", "-Wextra", f"-I{prefix / 'include'}",
           "-o", str(out), str(DRIVER), str(prefix / "lib" / "libmagic.a"), "-lm"]
    subprocess.run(cmd, check=True)
    return out


def builds(workdir: Path) -> tuple[Build, Build]:
    """(stock, tuned): the tuned one is the bundled build itself."""
    tuned = build_libmagic(True, None)
    stock = build_libmagic(False, STOCK_PREFIX)
    if tuned.resolve() == stock.resolve():
        raise SystemExit("differential: the stock and tuned builds are the same directory")
    return (Build("stock", stock, compile_driver(stock, workdir / "driver-stock")),
            Build("tuned", tuned, compile_driver(tuned, workdir / "driver-tuned")))


# --- inputs -------------------------------------------------------------------

def system_corpus(limit: int, per_stratum: int, seed: int, scan_limit: int = 6000) -> list[str]:
    """Real files, stratified by (extension, first bytes) as tests/conftest.py does,
    so that every kind of file present is represented."""
    return stratified_files(limit, per_stratum, seed, scan_limit, 4 << 20)


def generated_files(where: Path, extra: Sequence[Path] = ()) -> list[str]:
    """Files of many kinds made here: texts in every encoding libmagic
    tells apart, scripts, markup, data formats, compressed and archived
    copies, and the ELF drivers themselves."""
    where.mkdir(parents=True, exist_ok=True)
    rng = random.Random(547)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "int", "return", "void", "if", "else"]
    prose = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(200)) + "\n"
    c_src = "#include <stdio.h>\n\nint\nmain(void)\n{\n\tprintf(\"hi\\n\");\n\treturn 0;\n}\n"
    files: dict[str, bytes] = {
        "empty": b"",
        "one.txt": b"a",
        "nl.txt": b"\n",
        "prose.txt": prose.encode(),
        "crlf.txt": prose.replace("\n", "\r\n").encode(),
        "cr.txt": prose.replace("\n", "\r").encode(),
        "longline.txt": ("x" * 20000 + "\n").encode(),
        "utf8.txt": ("h\u00e9llo w\u00f6rld \u2603 \u65e5\u672c\n" * 50).encode(),
        "utf8bom.txt": b"\xef\xbb\xbf" + ("caf\u00e9\n" * 50).encode(),
        "utf16le.txt": "\ufeffhello world\n".encode("utf-16-le") * 20,
        "utf16be.txt": "\ufeffhello world\n".encode("utf-16-be") * 20,
        "utf32le.txt": "\ufeffhi there\n".encode("utf-32-le") * 10,
        "latin1.txt": ("caf\u00e9 na\u00efve \u00fcber\n" * 40).encode("latin-1"),
        "cp1252.txt": b"smart \x93quotes\x94 \x85 and \x80 euro\n" * 30,
        "ebcdic.txt": "HELLO WORLD THIS IS EBCDIC\n".encode("cp500") * 20,
        "utf7.txt": b"+AGEAYgBj- hello +ZeVnLIqe-\n" * 10,
        "hello.c": c_src.encode(),
        "hello.h": b"#ifndef X_H\n#define X_H\nextern int x;\n#endif\n",
        "hello.cpp": b"#include <iostream>\nclass A { public: int f(); };\nint main() { std::cout << 1; }\n",
        "script.sh": b"#!/bin/sh\nset -e\nfor f in *; do echo \"$f\"; done\n",
        "script.py": b"#!/usr/bin/env python3\nimport sys\n\ndef main():\n    print(sys.argv)\n",
        "script.pl": b"#!/usr/bin/perl\nuse strict;\nmy $x = 1;\nprint \"$x\\n\";\n",
        "noshebang.py": b"import os\nfrom pathlib import Path\nclass A:\n    def f(self):\n        return 1\n",
        "page.html": b"<!DOCTYPE html>\n<html><head><title>t</title></head><body><p>x</p></body></html>\n",
        "doc.xml": b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><a b=\"c\">d</a></root>\n",
        "image.svg": b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\"/>\n",
        "data.json": json.dumps({"a": [1, 2.5, None, True], "b": {"c": "d" * 40}}, indent=1).encode(),
        "data.csv": b"".join(b"%d,%d,\"name %d\",%f\n" % (i, i * i, i, i / 7) for i in range(200)),
        "Makefile": b"all: prog\n\nprog: prog.o\n\t$(CC) -o $@ $^\n\nclean:\n\trm -f prog *.o\n",
        "mail.eml": b"From: a@example.com\nTo: b@example.com\nSubject: hi\nDate: Mon, 1 Jan 2024\n\nbody\n",
        "diff.patch": b"--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-old\n+new\n same\n",
        "style.css": b"body { color: red; }\n.a > .b { margin: 0 auto; }\n@media print { p { x: y } }\n",
        "code.js": b"'use strict';\nfunction f(a) { return a + 1; }\nconst x = () => f(2);\nmodule.exports = x;\n",
        "doc.tex": b"\\documentclass{article}\n\\begin{document}\nHello\n\\end{document}\n",
        "man.1": b".TH FOO 1\n.SH NAME\nfoo \\- bar\n.SH SYNOPSIS\n.B foo\n",
        "doc.rtf": b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Hello}\n",
        "doc.pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
                    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"),
        "ps.ps": b"%!PS-Adobe-3.0\n%%Title: t\n/Times findfont 12 scalefont setfont\nshowpage\n",
        "random.bin": bytes(rng.randrange(256) for _ in range(8192)),
        "zeros.bin": bytes(5000),
        "ff.bin": b"\xff" * 3000,
        "png.png": (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
                    + struct.pack(">IIBBBBB", 16, 16, 8, 6, 0, 0, 0) + b"\0\0\0\0"
                    + struct.pack(">I", 0) + b"IEND\xaeB`\x82"),
        "gif.gif": b"GIF89a\x10\x00\x10\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
                   b"\x00\x00\x00\x00\x10\x00\x10\x00\x00\x02\x02D\x01\x00;",
        "jpeg.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00"
                    + bytes(64) + b"\xff\xd9",
        "bmp.bmp": b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 16,
                                                                              2835, 2835, 0, 0) + bytes(16),
        "wav.wav": b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
                   + b"data\0\0\0\0",
        "sqlite.db": b"SQLite format 3\x00" + struct.pack(">HBBBBBBIIIIIIIIIIII", 4096, 1, 1, 0, 64, 32, 32,
                                                          1, 1, 0, 0, 1, 4, 0, 0, 0, 1, 0, 0) + bytes(4000),
        "ole.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
                   + bytes(4000),
        "pe.exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(46) + struct.pack("<I", 64)
                  + b"PE\0\0\x4c\x01\x01\x00" + bytes(300),
        "class.class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34\x00\x10" + bytes(100),
        "ar.a": b"!<arch>\nfoo.o/          0           0     0     644     4         `\nabcd",
        "ustar.tar": b"",  # filled below
    }
    tar_io = io.BytesIO()
    with tarfile.open(fileobj=tar_io, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("hello.c", "prose.txt"):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(files[name]))
    files["ustar.tar"] = tar_io.getvalue()
    zip_io = io.BytesIO()
    with zipfile.ZipFile(zip_io, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype", (2024, 1, 1, 0, 0, 0)), "application/epub+zip")
        zf.writestr(zipfile.ZipInfo("a/b.txt", (2024, 1, 1, 0, 0, 0)), prose)
    files["zip.zip"] = zip_io.getvalue()
    for name in ("prose.txt", "hello.c", "data.json", "ustar.tar", "random.bin"):
        files[name + ".gz"] = gzip.compress(files[name], mtime=0)
        files[name + ".bz2"] = bz2.compress(files[name])
        files[name + ".xz"] = lzma.compress(files[name])
        files[name + ".lzma"] = lzma.compress(files[name], format=lzma.FORMAT_ALONE)
    files["zlib.z"] = zlib.compress(files["prose.txt"])
    out = []
    for name, data in sorted(files.items()):
        path = where / name
        path.write_bytes(data)
        out.append(str(path))
    out += [str(p) for p in extra]
    return out


# --- running ------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One run of both drivers: paths, flags, locale, limits, seed."""

    paths: tuple[str, ...]
    flags: tuple[int, ...]
    locale: str
    params: str
    seed: int
    nrandom: int
    lengths: tuple[int, ...]

    def argv(self, build: Build) -> list[str]:
        argv = [str(build.driver), "diff", str(build.database), ",".join(hex(f) for f in self.flags),
                str(self.seed), str(self.nrandom), ",".join(map(str, self.lengths))]
        return [*argv, self.params] if self.params else argv


def run_one(build: Build, job: Job, timeout: float) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "MAGIC")}
    env["LC_ALL"] = job.locale
    proc = subprocess.run(job.argv(build), input="\n".join(job.paths).encode() + b"\n",
                          capture_output=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{build.name} driver failed ({proc.returncode}): {proc.stderr[-2000:]!r}")
    return proc.stdout


@dataclass
class Outcome:
    jobs: int = 0
    answers: int = 0
    differences: int = 0
    report: str = ""


def compare(stock: Build, tuned: Build, jobs: Sequence[Job], timeout: float = 900,
            workers: int = 2, show: int = 10, progress: bool = False) -> Outcome:
    """Run every job with both builds and compare the outputs line by line
    (with ``progress``, a line per job: jobs, answers and differences so far)."""
    outcome = Outcome()
    lines: list[str] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for number, job in enumerate(jobs, 1):
            if progress and number > 1:
                print(f"differential: job {number - 1}/{len(jobs)} done, {outcome.answers} answers, "
                      f"{outcome.differences} differences, {time.monotonic() - start:.0f} s", flush=True)
            a_future = pool.submit(run_one, stock, job, timeout)
            b_future = pool.submit(run_one, tuned, job, timeout)
            a, b = a_future.result().split(b"\n"), b_future.result().split(b"\n")
            outcome.jobs += 1
            outcome.answers += len(a)
            if a == b:
                continue
            where = f"locale={job.locale} params={job.params or 'default'} seed={job.seed}"
            for i, (x, y) in enumerate(itertools.zip_longest(a, b, fillvalue=b"<missing>")):
                if x != y:
                    outcome.differences += 1
                    if len(lines) < show:
                        context = next((a[j] for j in range(i, -1, -1) if b" file " in a[j][:24]), b"")
                        lines.append(f"{where}\n  {context.decode('utf-8', 'replace')}\n"
                                     f"  stock: {x.decode('utf-8', 'replace')}\n"
                                     f"  tuned: {y.decode('utf-8', 'replace')}")
    outcome.report = "\n".join(lines)
    return outcome


def make_jobs(paths: Sequence[str], flags: Sequence[int], lengths: Sequence[int], nrandom: int,
              files_per_job: int, flags_per_job: int, locales: Sequence[str] = LOCALES,
              params: Sequence[str] = PARAMS) -> list[Job]:
    jobs = []
    seed = 1
    for locale, param in itertools.product(locales, params):
        for i in range(0, len(flags), flags_per_job):
            for j in range(0, len(paths), files_per_job):
                jobs.append(Job(tuple(paths[j:j + files_per_job]), tuple(flags[i:i + flags_per_job]),
                                locale, param, seed, nrandom if j == 0 else 0, tuple(lengths)))
                seed += 1
    return jobs


def quick_jobs(paths: Sequence[str], nrandom: int) -> list[Job]:
    """The bounded sample: every quick flag in both locales with default
    limits, and in the C locale with reduced ones."""
    both = make_jobs(paths, QUICK_FLAGS, QUICK_LENGTHS, nrandom, files_per_job=len(paths),
                     flags_per_job=len(QUICK_FLAGS), params=("",))
    reduced = make_jobs(paths, QUICK_FLAGS, QUICK_LENGTHS, nrandom, files_per_job=len(paths),
                        flags_per_job=len(QUICK_FLAGS), locales=("C",), params=PARAMS[1:])
    return both + [Job(j.paths, j.flags, j.locale, j.params, 100 + j.seed, j.nrandom, j.lengths)
                   for j in reduced]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the bounded sample CI runs")
    parser.add_argument("--files", type=int, help="real files to take (default 60 quick, 600 full)")
    parser.add_argument("--random", type=int, help="random buffers per job (default 150 quick, 2000 full)")
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    parser.add_argument("--shard", metavar="K/N", help="run only every N-th job, from the K-th (1 <= K <= N)")
    args = parser.parse_args(argv)
    shard = (1, 1)
    if args.shard is not None:
        try:
            k, n = (int(part) for part in args.shard.split("/"))
        except ValueError:
            parser.error(f"--shard wants K/N, e.g. 3/8, not {args.shard!r}")
        if not 1 <= k <= n:
            parser.error(f"--shard {args.shard}: K must be between 1 and N")
        shard = (k, n)
    quick = args.quick
    nfiles = args.files if args.files is not None else (40 if quick else 600)
    nrandom = args.random if args.random is not None else (100 if quick else 2000)
    work = Path(tempfile.mkdtemp(prefix="mg-differential-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    stock, tuned = builds(work)
    generated = generated_files(work / "generated", extra=(stock.driver, tuned.prefix / "lib" / "libmagic.a"))
    real = system_corpus(nfiles, 2 if quick else 6, seed=547)
    paths = generated + real
    if quick:
        jobs = quick_jobs(paths, nrandom)
    else:
        jobs = make_jobs(paths, all_flags(), LENGTHS, nrandom, files_per_job=200, flags_per_job=8)
    total = len(jobs)
    jobs = jobs[shard[0] - 1::shard[1]]
    print(f"differential: {len(paths)} files ({len(generated)} generated), "
          f"{len(QUICK_FLAGS) if quick else len(all_flags())} flag combinations, "
          f"locales {', '.join(LOCALES)}, {len(jobs)} jobs"
          f"{f' (shard {shard[0]}/{shard[1]} of {total})' if shard != (1, 1) else ''}; "
          f"stock {stock.prefix}, tuned {tuned.prefix}", flush=True)
    outcome = compare(stock, tuned, jobs, progress=not quick)
    print(f"differential: {outcome.answers} answers compared, {outcome.differences} differences")
    if outcome.differences:
        print(outcome.report)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
