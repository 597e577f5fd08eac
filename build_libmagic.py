"""Build the libmagic that magicguard bundles: file 5.47 + patches, with
zlib, bzip2, liblzma (xz) and zstd built in; static and PIC.

This module is imported by ``setup.py`` (from the project directory, which is
not always on ``sys.path`` under build isolation, so ``setup.py`` adds it).
It does five things, each of which fails loudly:

1. find each pinned release tarball -- file 5.47 and the four decompression
   libraries -- and verify its size and SHA-256 (``SOURCES``);
2. build the decompressors as static PIC objects with hidden visibility
   (only their decoders: libmagic never compresses);
3. unpack file 5.47 and apply the patches in ``patches/libmagic/`` (see
   "Patches" below), then ``configure`` it with the decompressors, ``make``,
   ``make check`` and ``make install`` into a prefix under ``build/libmagic/``
   keyed by version, OS, architecture, libc, compiler, flags and a hash of
   every input (sources, patches, allocation hooks);
4. add to ``libmagic.a`` the allocation wrappers (``csrc/alloc.c``) and the
   hooks the patched sources call (``csrc/tail.c``, ``csrc/capture.c``), the
   decompressors' objects and ``mg_engine_info()`` (a JSON string naming the
   release, the applied patches and the decompressors), so the archive is
   self-contained for every program that links it: ``file(1)`` and
   ``make check``'s tests, the extension, tests/c, tests/pm_same_lib.py;
5. report the paths the extension build needs (``libmagic.a``, ``magic.h``,
   ``magic.mgc``) and the reference ``file`` binary the tests compare against
   (built from exactly the same sources and patches).

Where each tarball comes from, in order (``Source.urls`` for the last step):

* an environment variable naming a file (``$MAGICGUARD_LIBMAGIC_TARBALL``,
  ``$MAGICGUARD_ZLIB_TARBALL``, ``..._BZIP2_...``, ``..._XZ_...``,
  ``..._ZSTD_...``);
* ``vendor/<name>`` in the source tree (the sdist carries all five there);
* the download cache, ``$XDG_CACHE_HOME/magicguard`` (``~/.cache/magicguard``);
* the upstream release URL where upstream's bytes are Debian's, then
  Debian's pool, then snapshot.debian.org by content hash.  A download is
  kept in the cache.  Whatever the source, size and SHA-256 must match.

Patches: ``patches/libmagic/security/*.patch`` (upstream fixes released
after 5.47, each rewritten by us and named by its upstream reference), then
``patches/libmagic/magicguard/*.patch`` (our own changes), then
``patches/libmagic/tuning/*.patch`` unless ``MAGICGUARD_LIBMAGIC_TUNING=0``.
Each is a unified diff after a header of ``#`` lines (reason, upstream
reference).  The applier here needs neither ``patch`` nor git: every hunk's
old text must occur exactly once in its file, or the build stops.

Compiler and flags: ``$CC`` (default ``cc``), ``$CFLAGS`` (default ``-O2``),
plus ``$MAGICGUARD_LIBMAGIC_CFLAGS`` appended, are used for libmagic and the
decompressors alike, and ``$LDFLAGS`` for linking ``file``; all are part of
the build key.  A sanitizer build for fuzzing, kept apart from the normal
one::

    CC=clang CFLAGS='-O1 -g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined' \\
        python build_libmagic.py --prefix /tmp/mg-asan --no-check

or, from Python, ``build_libmagic.ensure_built(prefix=Path(...), check=False)``
(``Built.static_lib`` is then the instrumented, self-contained archive).  The
build runs the ``file`` it just built to compile ``magic.mgc``, so give the
sanitizer runtime what it needs to run there (``ASAN_OPTIONS=detect_leaks=0``
if leaks at exit would fail it).

Commands: ``python build_libmagic.py [--prefix DIR] [--no-check]`` builds (or
reuses) and prints the prefix; ``python build_libmagic.py --fetch-only DIR``
puts every verified tarball in ``DIR`` (the sdist step uses this);
``python build_libmagic.py --info`` prints the engine description (JSON).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent
PATCHES = ROOT / "patches" / "libmagic"
#: Patch directories, in the order they are applied.
PATCH_SETS = ("security", "magicguard", "tuning")

_DEBIAN = ("https://deb.debian.org/debian/pool/main/", "http://deb.debian.org/debian/pool/main/")
_SNAPSHOT = "https://snapshot.debian.org/file/"


@dataclass(frozen=True)
class Source:
    """A pinned release tarball and where it may be found."""

    name: str       # short name: libmagic, zlib, bzip2, xz, zstd
    version: str    # upstream release
    filename: str   # its name in vendor/ and in the cache
    size: int
    sha256: str
    sha1: str       # snapshot.debian.org serves files by SHA-1
    topdir: str     # the directory the tarball unpacks to
    urls: tuple[str, ...]

    @property
    def env(self) -> str:
        """The environment variable that names a local copy of this tarball."""
        return f"MAGICGUARD_{self.name.upper()}_TARBALL"

    def all_urls(self) -> tuple[str, ...]:
        """Where to fetch it from: its own URLs, then the snapshot mirror by SHA-1."""
        return (*self.urls, _SNAPSHOT + self.sha1)


def _debian(path: str) -> tuple[str, ...]:
    return tuple(base + path for base in _DEBIAN)


VERSION = "5.47"
LIBMAGIC = Source(
    "libmagic", VERSION, f"file-{VERSION}.tar.gz", 2_676_776,
    "45672fec165cb4cc1358a2d76b5d57d22876dcb97ab169427ac385cbe1d5597a",
    "3d4e84b3db65c8498c4f2c95584621679ba04a14", f"file-{VERSION}",
    # Debian's orig tarball is upstream's release, byte for byte.
    (f"https://astron.com/pub/file/file-{VERSION}.tar.gz",
     *_debian(f"f/file/file_{VERSION}.orig.tar.gz")))
# The decompressors libmagic 5.47 can use in-process.  zlib's and zstd's
# Debian tarballs are repacked (+dfsg: documentation and contrib removed),
# so only Debian's archive has these exact bytes.
DECOMPRESSORS = (
    Source("zlib", "1.3.2", "zlib_1.3.dfsg+really1.3.2.orig.tar.gz", 1_295_859,
           "7b6903eb019983987b7112eccf90f1703f1c6c0e0cede36564bf611d19ca579d",
           "4db0dac92273fb295e6064d9be076e124f6c71bd", "zlib-1.3.dfsg+really1.3.2",
           _debian("z/zlib/zlib_1.3.dfsg+really1.3.2.orig.tar.gz")),
    Source("bzip2", "1.0.8", "bzip2_1.0.8.orig.tar.gz", 810_029,
           "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269",
           "bf7badf7e248e0ecf465d33c2f5aeec774209227", "bzip2-1.0.8",
           ("https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz",
            *_debian("b/bzip2/bzip2_1.0.8.orig.tar.gz"))),
    Source("xz", "5.8.4", "xz-utils_5.8.4.orig.tar.xz", 1_567_192,
           "4ce24038fd4221e0d13bc1a2de7a4db56e90b92b3bf75321f6c14be73f65de4b",
           "b1345221051ef5ac65297926418b56d2b941fe64", "xz-5.8.4",
           ("https://github.com/tukaani-project/xz/releases/download/v5.8.4/xz-5.8.4.tar.xz",
            *_debian("x/xz-utils/xz-utils_5.8.4.orig.tar.xz"))),
    Source("zstd", "1.5.7", "libzstd_1.5.7+dfsg.orig.tar.xz", 1_834_780,
           "0c092ef267edce57ba7f3f2645c861f72eaf5e76273c6c3632869423464b90a5",
           "232037627d9d8bd80033e4316bdb62f737c9968f", "zstd-1.5.7",
           _debian("libz/libzstd/libzstd_1.5.7+dfsg.orig.tar.xz")),
)
SOURCES = (LIBMAGIC, *DECOMPRESSORS)
# Kept for callers of the single-tarball interface (setup.py, scripts).
TARBALL = LIBMAGIC.filename
SHA256 = LIBMAGIC.sha256
SIZE = LIBMAGIC.size
# The compiled-database format this libmagic writes and alone reads
# (VERSIONNO in src/file.h); checked against the built magic.mgc.
DATABASE_FORMAT = 20

# Every libmagic and decompressor source is compiled with this header
# force-included: it renames malloc/free/... to the wrappers in
# csrc/alloc.c, so that blocks a trapped SIGBUS cuts loose -- libmagic's and
# a decoder's state alike -- can be reclaimed (see csrc/alloc.h).
ALLOC_REDIRECT = ROOT / "csrc" / "alloc_redirect.h"
ALLOC_SOURCE = ROOT / "csrc" / "alloc.c"
# What libmagic.a carries of the shim, compiled without the redirection:
# the wrappers, and the hooks the patched sources call -- the tail lent
# from a mapping (0001-mg-tail-from-mapping) and the captured stderr
# (0003-warnings-to-buffer).  The decompressors need only the wrappers.
HOOK_SOURCES = (ALLOC_SOURCE, ROOT / "csrc" / "tail.c", ROOT / "csrc" / "capture.c")
# The headers they include (part of what a finished build is made from).
HOOK_HEADERS = tuple(ROOT / "csrc" / name for name in ("alloc.h", "tail.h", "capture.h", "mg_tls.h"))
# The libmagic internals the shim calls (csrc/identify.c), declared by us;
# check_internal_prototypes compiles them against the unpacked src/file.h.
LIBMAGIC_INTERNAL = ROOT / "csrc" / "libmagic_internal.h"

# zlib and bzip2 are small and built whole (libmagic's configure probes
# gzopen and BZ2_bzCompressInit; the extension links only what libmagic
# calls).  zstd: common and decompress only, without its x86-64 assembly
# (portable C everywhere) and without legacy formats; liblzma: decoders only.
_ZLIB_SOURCES = ("adler32.c", "compress.c", "crc32.c", "deflate.c", "gzclose.c", "gzlib.c",
                 "gzread.c", "gzwrite.c", "infback.c", "inffast.c", "inflate.c", "inftrees.c",
                 "trees.c", "uncompr.c", "zutil.c")
_BZIP2_SOURCES = ("blocksort.c", "huffman.c", "crctable.c", "randtable.c",
                  "compress.c", "decompress.c", "bzlib.c")
_XZ_CONFIGURE = ("--disable-shared", "--enable-static", "--with-pic", "--disable-xz",
                 "--disable-xzdec", "--disable-lzmadec", "--disable-lzmainfo",
                 "--disable-lzma-links", "--disable-scripts", "--disable-doc",
                 "--disable-nls", "--enable-threads=no", "--disable-encoders",
                 "--disable-dependency-tracking")

# libmagic: the four decompressors in, everything else besides libc out
# (lzlib and lrzip are not built; seccomp belongs to file(1), not the library).
_CONFIGURE_FLAGS = (
    "--disable-shared",
    "--enable-static",
    "--with-pic",
    "--enable-zlib",
    "--enable-bzlib",
    "--enable-xzlib",
    "--enable-zstdlib",
    "--disable-lzlib",
    "--disable-lrziplib",
    "--disable-libseccomp",
    "--disable-dependency-tracking",
)
# What configure must have found, or the decompressors are silently absent.
_CONFIG_H_REQUIRED = ("HAVE_ZLIB_H", "HAVE_LIBZ", "HAVE_BZLIB_H", "HAVE_LIBBZ2",
                      "HAVE_LZMA_H", "HAVE_LIBLZMA", "HAVE_ZSTD_H", "HAVE_LIBZSTD")


class BuildError(RuntimeError):
    """The bundled libmagic could not be fetched, verified, patched or built."""


@dataclass(frozen=True)
class Built:
    """Where the pieces of a finished libmagic build are."""

    prefix: Path

    @property
    def include_dir(self) -> Path:
        """The built headers (magic.h)."""
        return self.prefix / "include"

    @property
    def static_lib(self) -> Path:
        """libmagic.a, carrying alloc.o, tail.o, capture.o, the decoders and
        mg_engine_info()."""
        return self.prefix / "lib" / "libmagic.a"

    @property
    def database(self) -> Path:
        """The compiled database the build installs."""
        return self.prefix / "share" / "misc" / "magic.mgc"

    @property
    def file_binary(self) -> Path:
        """The file(1) the build installs: the reference the tests compare with."""
        return self.prefix / "bin" / "file"

    @property
    def engine_json(self) -> Path:
        """The engine description (also compiled into mg_engine_info())."""
        return self.prefix / "share" / "magicguard-engine.json"


# --- fetching ---------------------------------------------------------------

def cache_dir() -> Path:
    """The download cache: $XDG_CACHE_HOME/magicguard, else ~/.cache/magicguard."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "magicguard"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(source: Source, path: Path) -> bool:
    return path.is_file() and path.stat().st_size == source.size and _sha256(path) == source.sha256


def _download(source: Source, url: str, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:  # noqa: S310 - the URLs are this file's pinned https sources; the download is checksum-verified
        shutil.copyfileobj(response, out)
    if not _verified(source, tmp):
        got, size = _sha256(tmp), tmp.stat().st_size
        tmp.unlink()
        raise BuildError(f"{url}: {size} bytes, sha256 {got}; want {source.size} bytes, "
                         f"sha256 {source.sha256}")
    tmp.replace(dest)


def find_source(source: Source) -> Path:
    """Return a path to ``source``'s verified tarball, downloading it if needed."""
    tried: list[str] = []
    given = os.environ.get(source.env)
    candidates = [Path(given)] if given else []
    candidates += [ROOT / "vendor" / source.filename, cache_dir() / source.filename]
    for path in candidates:
        if _verified(source, path):
            return path
        if path.exists():
            tried.append(f"{path}: wrong size or sha256 (want {source.size} bytes, "
                         f"sha256 {source.sha256})")
        elif given and path == Path(given):
            raise BuildError(f"{source.env}={given}: no such file")
    dest = cache_dir() / source.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    for url in source.all_urls():
        try:
            _download(source, url, dest)
            return dest
        except (OSError, BuildError) as exc:
            tried.append(f"{url}: {exc}")
    raise BuildError(
        f"cannot get {source.filename} ({source.name} {source.version}, sha256 "
        f"{source.sha256}).  Tried:\n  " + "\n  ".join(tried)
        + f"\nPut the file in {cache_dir()} or {ROOT / 'vendor'}, or set {source.env}.")


def find_tarball() -> Path:
    """The verified libmagic tarball (see ``find_source``)."""
    return find_source(LIBMAGIC)


def fetch_all(dest: Path) -> list[Path]:
    """Copy every verified tarball into ``dest`` (for the sdist's vendor/)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for source in SOURCES:
        target = dest / source.filename
        if not _verified(source, target):
            shutil.copyfile(find_source(source), target)
        out.append(target)
    return out


def _unpack(source: Source, into: Path) -> Path:
    with tarfile.open(find_source(source)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python < 3.12 without the backported filter
            tar.extractall(into)  # noqa: S202 - checksum-verified archive
    top = into / source.topdir
    if not top.is_dir():
        raise BuildError(f"{source.filename} did not unpack to {source.topdir}/")
    return top


# --- patches ----------------------------------------------------------------

@dataclass(frozen=True)
class Hunk:
    """One hunk of a unified diff: the text it replaces, its replacement, its @@ line."""
    old: str
    new: str
    header: str  # the @@ line, for messages


@dataclass(frozen=True)
class Patch:
    """One patch file: its header comment and its hunks per file."""

    path: Path
    header: str
    files: tuple[tuple[str, tuple[Hunk, ...]], ...]

    @property
    def name(self) -> str:
        """e.g. ``security/0001-pr725-always-set-offset``."""
        return f"{self.path.parent.name}/{self.path.stem}"


def tuning_enabled() -> bool:
    """Tuning patches are applied unless MAGICGUARD_LIBMAGIC_TUNING is "0"."""
    return os.environ.get("MAGICGUARD_LIBMAGIC_TUNING", "1").strip() != "0"


def parse_patch(path: Path) -> Patch:
    """Read a unified diff with a ``#`` header; hunks become (old, new) text."""
    lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
    header: list[str] = []
    i = 0
    while i < len(lines) and not lines[i].startswith("--- "):
        header.append(lines[i])
        i += 1
    files: list[tuple[str, tuple[Hunk, ...]]] = []
    while i < len(lines):
        if not lines[i].startswith("--- ") or i + 1 >= len(lines) \
                or not lines[i + 1].startswith("+++ "):
            raise BuildError(f"{path}:{i + 1}: expected a '--- a/FILE' '+++ b/FILE' pair")
        target = lines[i + 1][4:].strip().split("\t")[0]
        if not target.startswith("b/") or ".." in Path(target).parts:
            raise BuildError(f"{path}:{i + 2}: bad target {target!r}")
        i += 2
        hunks: list[Hunk] = []
        while i < len(lines) and lines[i].startswith("@@"):
            m = re.match(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@", lines[i])
            if m is None:
                raise BuildError(f"{path}:{i + 1}: bad hunk header {lines[i]!r}")
            at = lines[i].rstrip("\n")
            want_old = int(m.group(1) if m.group(1) is not None else 1)
            want_new = int(m.group(2) if m.group(2) is not None else 1)
            i += 1
            old: list[str] = []
            new: list[str] = []
            while i < len(lines) and (len(old) < want_old or len(new) < want_new):
                line = lines[i]
                tag, text = line[:1], line[1:]
                if line == "\n":  # an empty context line some editors strip
                    tag, text = " ", "\n"
                if tag == " ":
                    old.append(text)
                    new.append(text)
                elif tag == "-":
                    old.append(text)
                elif tag == "+":
                    new.append(text)
                elif tag == "\\":
                    pass
                else:
                    raise BuildError(f"{path}:{i + 1}: unexpected line in hunk {at}")
                i += 1
            if len(old) != want_old or len(new) != want_new:
                raise BuildError(f"{path}: hunk {at} is truncated")
            hunks.append(Hunk("".join(old), "".join(new), at))
        if not hunks:
            raise BuildError(f"{path}: no hunks for {target}")
        files.append((target[2:], tuple(hunks)))
    if not files:
        raise BuildError(f"{path}: no file changes")
    return Patch(path, "".join(header), tuple(files))


def patch_files(tuning: Optional[bool] = None) -> list[Path]:
    """The patch files applied, in order."""
    if tuning is None:
        tuning = tuning_enabled()
    out: list[Path] = []
    for name in PATCH_SETS:
        if name == "tuning" and not tuning:
            continue
        out += sorted((PATCHES / name).glob("*.patch"))
    return out


def apply_patch(src: Path, patch: Patch) -> None:
    """Apply ``patch`` to the tree at ``src``: each hunk's old text must
    occur exactly once in its file (so a patch applies exactly once)."""
    for name, hunks in patch.files:
        path = src / name
        if not path.is_file():
            raise BuildError(f"patch {patch.name}: no file {name}")
        text = path.read_text(encoding="latin-1")
        for hunk in hunks:
            count = text.count(hunk.old)
            if count != 1:
                raise BuildError(f"patch {patch.name}: {name} {hunk.header}: its old text "
                                 f"occurs {count} times, not exactly once")
            text = text.replace(hunk.old, hunk.new)
        path.write_text(text, encoding="latin-1")


def _apply_patches(src: Path, tuning: Optional[bool] = None) -> list[Patch]:
    """Apply every patch (``patch_files``) to ``src``; the patches applied."""
    applied = []
    for path in patch_files(tuning):
        patch = parse_patch(path)
        apply_patch(src, patch)
        applied.append(patch)
    return applied


# --- keys, stamps -----------------------------------------------------------

def _toolchain() -> dict[str, str]:
    """Compiler and flags, from the environment (all part of the key)."""
    cflags = os.environ.get("CFLAGS", "-O2")
    extra = os.environ.get("MAGICGUARD_LIBMAGIC_CFLAGS")
    if extra:
        cflags = f"{cflags} {extra}"
    return {"CC": os.environ.get("CC", "cc"), "CFLAGS": cflags,
            "LDFLAGS": os.environ.get("LDFLAGS", ""), "AR": os.environ.get("AR", "ar")}


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _deps_stamp_text() -> str:
    tc = _toolchain()
    lines = [f"{s.filename} {s.sha256}" for s in DECOMPRESSORS]
    lines += [f"{k}={v}" for k, v in sorted(tc.items())]
    lines += [f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}"
              for p in (ALLOC_REDIRECT, ALLOC_SOURCE)]
    lines.append(f"builder {hashlib.sha256(_deps_builder_text().encode()).hexdigest()}")
    return "\n".join(lines) + "\n"


def _deps_builder_text() -> str:
    # The recipe itself: the decoder source lists and xz's configure flags.
    return repr((_ZLIB_SOURCES, _BZIP2_SOURCES, _XZ_CONFIGURE, "zstd-decompress-noasm-1"))


def _stamp_text(tuning: Optional[bool] = None) -> str:
    """What a finished build is made from: every tarball, every patch, the
    allocation hooks, the toolchain and configure flags (a change to any
    means rebuilding)."""
    lines = [f"{s.filename} {s.sha256}" for s in SOURCES]
    lines += [f"patch {p.relative_to(PATCHES)} {hashlib.sha256(p.read_bytes()).hexdigest()}"
              for p in patch_files(tuning)]
    lines += [f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}"
              for p in (ALLOC_REDIRECT, *HOOK_SOURCES, *HOOK_HEADERS, LIBMAGIC_INTERNAL)]
    lines += [f"{k}={v}" for k, v in sorted(_toolchain().items())]
    lines.append(f"configure {' '.join(_CONFIGURE_FLAGS)}")
    lines.append(f"deps {_digest([_deps_stamp_text()])}")
    return "\n".join(lines) + "\n"


def _platform_key() -> str:
    libc, libc_version = platform.libc_ver()
    parts = [sysconfig.get_platform(), libc or "libc", libc_version or "0"]
    return "-".join(p.replace(os.sep, "_").replace(" ", "_") for p in parts)


def build_key(tuning: Optional[bool] = None) -> str:
    """Name the build by version, platform, and a hash of all its inputs."""
    return f"{VERSION}-{_platform_key()}-{_digest([_stamp_text(tuning)])[:12]}"


def prefix_dir() -> Path:
    """The default prefix of this configuration's build."""
    return ROOT / "build" / "libmagic" / build_key()


def deps_dir() -> Path:
    """Where the decompression libraries are built, keyed by platform and their pinned sources."""
    return ROOT / "build" / "deps" / f"{_platform_key()}-{_digest([_deps_stamp_text()])[:12]}"


# --- building ---------------------------------------------------------------

def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    with open(log, "ab") as out:
        out.write(f"$ (cd {cwd}) {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise BuildError(f"{' '.join(cmd)} failed ({proc.returncode}); log {log}:\n" + "\n".join(tail))


def _jobs() -> str:
    return str(max(1, min(os.cpu_count() or 1, 8)))


def _compile_all(cc: list[str], cflags: list[str], sources: list[Path], objdir: Path,
                 prefix: str, log: Path, env: dict[str, str]) -> list[Path]:
    """Compile each source to objdir/<prefix><stem>.o (names unique across
    libraries: they all end up in libmagic.a), a few at a time."""
    objdir.mkdir(parents=True, exist_ok=True)
    objects = [objdir / f"{prefix}{s.stem}.o" for s in sources]
    jobs = int(_jobs())
    pending = list(zip(sources, objects))
    with open(log, "ab") as out:
        while pending:
            batch, pending = pending[:jobs], pending[jobs:]
            procs = []
            for src, obj in batch:
                cmd = [*cc, *cflags, "-c", str(src), "-o", str(obj)]
                out.write(f"$ {' '.join(cmd)}\n".encode())
                out.flush()
                procs.append((cmd, subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                    env=env)))
            for cmd, proc in procs:
                if proc.wait() != 0:
                    tail = log.read_text(errors="replace").splitlines()[-30:]
                    raise BuildError(f"{' '.join(cmd)} failed; log {log}:\n" + "\n".join(tail))
    return objects


def _archive(ar: list[str], lib: Path, objects: list[Path], log: Path, env: dict[str, str]) -> None:
    lib.parent.mkdir(parents=True, exist_ok=True)
    if lib.exists():
        lib.unlink()
    _run([*ar, "rcs", str(lib), *map(str, objects)], lib.parent, log, env)


def _build_deps(deps: Path, work: Path, alloc_obj: Path, log: Path, verbose: bool) -> None:
    """Build zlib, bzip2, liblzma and zstd's decoders into ``deps``:
    include/, lib/lib{z,bz2,lzma,zstd}.a and objects/ (what goes into
    libmagic.a, uniquely named)."""
    tc = _toolchain()
    cc = shlex.split(tc["CC"])
    ar = shlex.split(tc["AR"])
    base = [*shlex.split(tc["CFLAGS"]), "-fPIC", "-fvisibility=hidden", "-U_FORTIFY_SOURCE",
            "-include", str(ALLOC_REDIRECT)]
    env = dict(os.environ)
    include, lib, objdir = deps / "include", deps / "lib", deps / "objects"
    for d in (include, lib, objdir):
        d.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    # zlib: its shipped zconf.h works unconfigured on every Unix.
    top = _unpack(DECOMPRESSORS[0], work)
    objs = _compile_all(cc, [*base, "-DHAVE_UNISTD_H", "-DHAVE_STDARG_H", "-I", str(top)],
                        [top / s for s in _ZLIB_SOURCES], objdir, "mgz-", log, env)
    _archive(ar, lib / "libz.a", objs, log, env)
    for h in ("zlib.h", "zconf.h"):
        shutil.copyfile(top / h, include / h)

    # bzip2: the library's seven sources, as its Makefile compiles them.
    top = _unpack(DECOMPRESSORS[1], work)
    objs = _compile_all(cc, [*base, "-D_FILE_OFFSET_BITS=64", "-I", str(top)],
                        [top / s for s in _BZIP2_SOURCES], objdir, "mgbz2-", log, env)
    _archive(ar, lib / "libbz2.a", objs, log, env)
    shutil.copyfile(top / "bzlib.h", include / "bzlib.h")

    # zstd: common + decompress, portable C, no legacy formats, no threads.
    top = _unpack(DECOMPRESSORS[3], work)
    zlib_dir = top / "lib"
    zsrc = sorted((zlib_dir / "common").glob("*.c")) + sorted((zlib_dir / "decompress").glob("*.c"))
    objs = _compile_all(cc, [*base, "-DZSTD_DISABLE_ASM", "-DZSTD_LEGACY_SUPPORT=0",
                             "-UZSTD_MULTITHREAD",
                             "-I", str(zlib_dir), "-I", str(zlib_dir / "common")],
                        zsrc, objdir, "mgzstd-", log, env)
    _archive(ar, lib / "libzstd.a", objs, log, env)
    for h in ("zstd.h", "zstd_errors.h", "zdict.h"):
        shutil.copyfile(zlib_dir / h, include / h)

    # liblzma: its own configure (config.h has many platform facts), decoders
    # only, no threads; configure's link tests need the wrappers (LIBS).
    top = _unpack(DECOMPRESSORS[2], work)
    xenv = dict(env)
    xenv["CC"] = tc["CC"]
    xenv["CFLAGS"] = " ".join(shlex.quote(a) for a in base)
    xenv["LIBS"] = str(alloc_obj)
    _run(["./configure", f"--prefix={work / 'xz-prefix'}", *_XZ_CONFIGURE], top, log, xenv)
    _run(["make", f"-j{_jobs()}", "-C", "src/liblzma"], top, log, xenv)
    _run(["make", "-C", "src/liblzma", "install"], top, log, xenv)
    shutil.copyfile(work / "xz-prefix" / "lib" / "liblzma.a", lib / "liblzma.a")
    shutil.copytree(work / "xz-prefix" / "include", include, dirs_exist_ok=True)
    # Its objects, renamed uniquely, for libmagic.a.
    xobj = work / "xz-objects"
    xobj.mkdir()
    _run([*ar, "x", str(lib / "liblzma.a")], xobj, log, env)
    for obj in sorted(xobj.glob("*.o")):
        obj.replace(objdir / f"mglzma-{obj.name}")
    if verbose:
        print(f"magicguard: decompressors built in {time.monotonic() - started:.0f} s "
              f"({deps})", file=sys.stderr)


def ensure_deps(verbose: bool = True, deps: Optional[Path] = None) -> Path:
    """Build the decompressors unless a finished build of the same inputs exists."""
    deps = deps or deps_dir()
    stamp = deps / ".complete"
    text = _deps_stamp_text()
    if stamp.exists() and stamp.read_text() == text:
        return deps
    if deps.exists():
        shutil.rmtree(deps)
    deps.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="magicguard-deps-", dir=deps.parent))
    try:
        log = deps / "build.log"
        tc = _toolchain()
        alloc_obj = work / "alloc.o"
        _run([*shlex.split(tc["CC"]), *shlex.split(tc["CFLAGS"]), "-fPIC", "-c",
              str(ALLOC_SOURCE), "-o", str(alloc_obj)], work, log, dict(os.environ))
        if verbose:
            print(f"magicguard: building zlib, bzip2, xz, zstd decoders in {deps} (log {log})",
                  file=sys.stderr)
        _build_deps(deps, work, alloc_obj, log, verbose)
        stamp.write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return deps


def database_format(path: Path) -> int:
    """The format version in a compiled magic database's header.

    The header starts with two 32-bit words in the writer's byte order: the
    magic number 0xF11E041C, then the format version (VERSIONNO).
    """
    with open(path, "rb") as f:
        head = f.read(8)
    for order in ("little", "big"):
        if len(head) == 8 and int.from_bytes(head[:4], order) == 0xF11E041C:
            return int.from_bytes(head[4:8], order)
    raise BuildError(f"{path}: not a compiled magic database (header {head.hex()})")


def engine_info(patches: list[Patch], tuning: bool) -> dict[str, object]:
    """What the engine is made of (``mg_engine_info()`` returns this, as JSON)."""
    return {
        "release": VERSION,
        "patches": [p.name for p in patches],
        "tuning": tuning,
        "decompressors": {s.name: s.version for s in DECOMPRESSORS},
    }


def _engine_source(info: dict[str, object]) -> str:
    text = json.dumps(info, sort_keys=True, separators=(",", ":"))
    literal = text.replace("\\", "\\\\").replace('"', '\\"')
    return ("/* Generated by build_libmagic.py: what this libmagic.a is made of. */\n"
            "const char *mg_engine_info(void);\n"
            f'const char *mg_engine_info(void) {{ return "{literal}"; }}\n')


def _prune_siblings(prefix: Path) -> None:
    """Remove older default builds of this version and platform (other
    input hashes), so tests that look for build/libmagic/*/bin/file find
    only the current one."""
    stem = prefix.name.rsplit("-", 1)[0] + "-"
    for other in prefix.parent.iterdir():
        if other != prefix and other.name.startswith(stem) and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def check_internal_prototypes(src: Path, header: Path = LIBMAGIC_INTERNAL,
                              cc: Optional[list[str]] = None) -> None:
    """Compile ``header`` (our declarations of libmagic internals) after
    libmagic's own ``src/file.h`` in one translation unit, so that a
    prototype of ours that differs from libmagic's is a "conflicting types"
    error: the build stops instead of linking a call with the wrong types.

    Args:
        src: the unpacked (patched) libmagic tree, configured or not (its
            ``config.h`` is used when present).
        header: the declarations to check.
        cc: the compiler command (default: ``$CC`` or ``cc``).

    Raises:
        BuildError: the compiler's message, when the two disagree.
    """
    cc = cc or shlex.split(os.environ.get("CC", "cc"))
    defines = ["-DHAVE_STDINT_H", "-DHAVE_INTTYPES_H"]
    if (src / "config.h").exists():
        defines.append("-DHAVE_CONFIG_H")
    unit = f'#include "file.h"\n#include "{header.resolve()}"\n'
    proc = subprocess.run([*cc, "-fsyntax-only", *defines, "-I", str(src), "-I", str(src / "src"),
                           "-x", "c", "-"], input=unit, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{header.name} does not match libmagic {VERSION}'s src/file.h "
                         f"(a prototype differs):\n{proc.stdout}{proc.stderr}")


def ensure_built(verbose: bool = True, prefix: Optional[Path] = None,
                 check: bool = True) -> Built:
    """Build libmagic unless a finished build of the same inputs exists.

    Args:
        verbose: say on stderr what is being built.
        prefix: install here instead of ``prefix_dir()`` (a sanitizer build,
            say); its decompressors are then built in ``prefix/deps``.
        check: run libmagic's ``make check`` (skip it when the binaries
            cannot run as built, e.g. a sanitizer needing a runtime option).
    """
    default = prefix is None
    built = Built(Path(prefix).resolve() if prefix is not None else prefix_dir())
    stamp = built.prefix / ".complete"
    tuning = tuning_enabled()
    text = _stamp_text(tuning)
    if (stamp.exists() and stamp.read_text() == text
            and built.static_lib.exists() and built.database.exists()):
        return built
    deps = ensure_deps(verbose, None if default else built.prefix / "deps")
    tarball = find_tarball()
    if built.prefix.exists():
        keep_deps = not default and deps.parent == built.prefix
        for child in built.prefix.iterdir():
            if keep_deps and child == deps:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    built.prefix.mkdir(parents=True, exist_ok=True)
    (ROOT / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="magicguard-libmagic-", dir=ROOT / "build"))
    started = time.monotonic()
    try:
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(work, filter="data")
            else:  # Python < 3.12 without the backported filter
                tar.extractall(work)  # noqa: S202 - checksum-verified archive
        src = work / LIBMAGIC.topdir
        patches = _apply_patches(src, tuning)
        tc = _toolchain()
        env = dict(os.environ)
        env["CC"] = tc["CC"]
        env["CFLAGS"] = tc["CFLAGS"]
        if sys.platform == "darwin":
            env.setdefault("MACOSX_DEPLOYMENT_TARGET", "11.0")
        log = work / "build.log"
        # The wrappers themselves call the real allocator: compiled before
        # the redirection joins CFLAGS.
        hook_objs = [work / f"{source.stem}.o" for source in HOOK_SOURCES]
        for source, obj in zip(HOOK_SOURCES, hook_objs):
            _run([*shlex.split(tc["CC"]), *shlex.split(tc["CFLAGS"]), "-fPIC",
                  "-c", str(source), "-o", str(obj)], src, log, env)
        env["LIBS"] = " ".join([*map(str, hook_objs), env.get("LIBS", "")]).strip()
        env["CPPFLAGS"] = f"-I{deps / 'include'} {env.get('CPPFLAGS', '')}".strip()
        env["LDFLAGS"] = f"-L{deps / 'lib'} {tc['LDFLAGS']}".strip()
        # -U_FORTIFY_SOURCE: a fortified <stdio.h> turns asprintf into an
        # inline call of __asprintf_chk, which would allocate behind the
        # redirection.
        env["CFLAGS"] = f"{env['CFLAGS']} -U_FORTIFY_SOURCE -include {ALLOC_REDIRECT}"
        if verbose:
            print(f"magicguard: building libmagic {VERSION} with {len(patches)} patches in "
                  f"{built.prefix} (log {log})", file=sys.stderr)
        _run(["./configure", f"--prefix={built.prefix}", *_CONFIGURE_FLAGS], src, log, env)
        config_h = (src / "config.h").read_text(errors="replace")
        missing = [m for m in _CONFIG_H_REQUIRED if not re.search(rf"^#define {m} 1$", config_h, re.MULTILINE)]
        if missing:
            raise BuildError(f"libmagic's configure did not find the built decompressors "
                             f"({', '.join(missing)} unset); log {log}")
        # Our prototypes of libmagic internals against its own file.h (and
        # the config.h configure just wrote), before anything is compiled.
        check_internal_prototypes(src, cc=shlex.split(tc["CC"]))
        _run(["make", f"-j{_jobs()}"], src, log, env)
        if check:
            _run(["make", "check"], src, log, env)
        _run(["make", "install"], src, log, env)
        got = database_format(built.database)
        if got != DATABASE_FORMAT:
            raise BuildError(f"{built.database}: database format {got}, but this build "
                             f"pins DATABASE_FORMAT = {DATABASE_FORMAT} for file {VERSION}")
        info = engine_info(patches, tuning)
        engine_c = work / "mg_engine.c"
        engine_c.write_text(_engine_source(info))
        engine_o = work / "mg_engine.o"
        _run([*shlex.split(tc["CC"]), *shlex.split(tc["CFLAGS"]), "-fPIC", "-c",
              str(engine_c), "-o", str(engine_o)], src, log, env)
        objects = sorted((deps / "objects").glob("*.o"))
        _run([*shlex.split(tc["AR"]), "rs", str(built.static_lib), *map(str, hook_objs),
              str(engine_o), *map(str, objects)], src, log, env)
        built.engine_json.parent.mkdir(parents=True, exist_ok=True)
        built.engine_json.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        shutil.copyfile(log, built.prefix / "build.log")
        stamp.write_text(text)
        if verbose:
            print(f"magicguard: libmagic built in {time.monotonic() - started:.0f} s",
                  file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if default:
        _prune_siblings(built.prefix)
    return built


def main(argv: list[str]) -> int:
    """Command line: build (or only fetch, or describe) the bundled libmagic; returns the exit status."""
    usage = "usage: build_libmagic.py [--prefix DIR] [--no-check] | --fetch-only DIR | --info"
    if len(argv) == 2 and argv[0] == "--fetch-only":
        for path in fetch_all(Path(argv[1])):
            print(path)
        return 0
    if argv == ["--info"]:
        built = ensure_built()
        print(built.engine_json.read_text(), end="")
        return 0
    prefix: Optional[Path] = None
    check = True
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--prefix" and args:
            prefix = Path(args.pop(0))
        elif arg == "--no-check":
            check = False
        else:
            print(usage, file=sys.stderr)
            return 2
    try:
        print(ensure_built(prefix=prefix, check=check).prefix)
    except BuildError as exc:
        print(f"build_libmagic.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
