"""Build the libmagic that magicguard bundles: file 5.46, static and PIC.

This module is imported by ``setup.py`` (from the project directory, which is
not always on ``sys.path`` under build isolation, so ``setup.py`` adds it).
It does four things, each of which fails loudly:

1. find the pinned release tarball and verify its SHA-256;
2. unpack it and apply the one-line fix 5.46 needs (see ``_PATCHES``);
3. ``configure && make && make check && make install`` into a prefix under
   ``build/libmagic/`` keyed by version, OS, architecture and libc;
4. report the paths the extension build needs (``libmagic.a``, ``magic.h``,
   ``magic.mgc``) and the reference ``file`` binary the tests compare against.

Where the tarball comes from, in order:

* ``$MAGICGUARD_LIBMAGIC_TARBALL`` -- a path given by the user;
* ``vendor/file-5.46.tar.gz`` in the source tree (the sdist carries it there);
* the download cache, ``$XDG_CACHE_HOME/magicguard`` (``~/.cache/magicguard``);
* the upstream release URL, then Debian's archive (its pool, then its
  snapshot service), which holds the identical bytes as
  ``file_5.46.orig.tar.gz`` -- useful on machines that reach only Debian's
  mirrors.  A download is kept in the cache.  Whatever the source, the
  SHA-256 must match.

Run ``python build_libmagic.py`` to build (or reuse) and print the prefix,
``python build_libmagic.py --fetch-only DIR`` to put the verified tarball in
``DIR`` (the sdist step uses this).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VERSION = "5.46"
TARBALL = f"file-{VERSION}.tar.gz"
SHA256 = "c9cc77c7c560c543135edc555af609d5619dbef011997e988ce40a3d75d86088"
SIZE = 1_312_892
# The compiled-database format this libmagic writes and alone reads
# (VERSIONNO in src/file.h); checked against the built magic.mgc.
DATABASE_FORMAT = 20
URLS = (
    f"https://astron.com/pub/file/{TARBALL}",
    f"https://deb.debian.org/debian/pool/main/f/file/file_{VERSION}.orig.tar.gz",
    f"http://deb.debian.org/debian/pool/main/f/file/file_{VERSION}.orig.tar.gz",
    # The archive's permanent history, should the pool have moved past 5.46.
    f"https://snapshot.debian.org/archive/debian/20250601T000000Z/pool/main/f/file/"
    f"file_{VERSION}.orig.tar.gz",
)

ROOT = Path(__file__).resolve().parent

# Every libmagic source is compiled with this header force-included: it
# renames libmagic's malloc/free/... to the wrappers in csrc/alloc.c, which
# the extension links, so that blocks a trapped SIGBUS cuts loose can be
# reclaimed (see csrc/alloc.h).  alloc.c is compiled here and added to
# libmagic.a, so the archive stays self-contained for every program that
# links it: file(1) and make check's tests, the extension, tests/c.
ALLOC_REDIRECT = ROOT / "csrc" / "alloc_redirect.h"
ALLOC_SOURCE = ROOT / "csrc" / "alloc.c"

# (file, exact text, replacement).  Each must match exactly once, or the
# build stops: a silent no-op would ship a known bug.
_PATCHES = (
    # PR/579: a stack overrun on the ELF path with a real descriptor; fixed
    # upstream after 5.46 (Debian carries the same change).
    ("src/readelf.c", "\tchar interp[128];\n", "\tchar interp[NBUFSIZE];\n"),
    # magicguard: the file's tail (for rules at negative offsets) may be
    # borrowed from a Mapping of the same file instead of pread() into a
    # copy of up to BYTES_MAX bytes; mg_tail declines unless the shim
    # registered a mapping of that descriptor covering the range
    # (csrc/alloc.c), and mg_tail_release frees only what was allocated.
    ("src/buffer.c",
     "\tif ((b->ebuf = malloc(b->elen)) == NULL)\n\t\tgoto out;\n\n"
     "\tb->eoff = b->st.st_size - b->elen;\n",
     "\tb->eoff = b->st.st_size - b->elen;\n"
     "\tif (mg_tail(b->fd, CAST(long long, b->eoff), b->elen, &b->ebuf))\n\t\treturn 0;\n"
     "\tif ((b->ebuf = malloc(b->elen)) == NULL)\n\t\tgoto out;\n\n"),
    ("src/buffer.c",
     "buffer_fini(struct buffer *b)\n{\n\tfree(b->ebuf);\n",
     "buffer_fini(struct buffer *b)\n{\n\tmg_tail_release(b->ebuf);\n"),
    # ---- procmodel (issue 13): libmagic never writes to the process's stderr.
    # Same change as patches/libmagic/magicguard/0100-warnings-to-buffer.patch
    # (drop this entry when build_libmagic.py applies that directory).
    # Every libmagic source includes file.h: its `stderr` becomes
    # mg_stderr() (csrc/alloc.c), the real stderr unless the calling thread
    # is capturing (load/compile/check through a Cookie), when the text goes
    # to a per-thread buffer the shim hands back with the result.
    ("src/file.h", "#endif /* __file_h__ */\n",
     "/* magicguard: see csrc/alloc.h, mg_stderr. */\n"
     "FILE *mg_stderr(void);\n#undef stderr\n#define stderr mg_stderr()\n\n"
     "#endif /* __file_h__ */\n"),
    # ---- end procmodel
)

# Everything libmagic can use besides libc is off: the compression libraries
# only matter for MAGIC_COMPRESS (the formats are still recognised by the
# database), and seccomp belongs to file(1), not the library.
_CONFIGURE_FLAGS = (
    "--disable-shared",
    "--enable-static",
    "--with-pic",
    "--disable-zlib",
    "--disable-bzlib",
    "--disable-xzlib",
    "--disable-zstdlib",
    "--disable-lzlib",
    "--disable-lrziplib",
    "--disable-libseccomp",
    "--disable-dependency-tracking",
)


class BuildError(RuntimeError):
    """The bundled libmagic could not be fetched, verified or built."""


@dataclass(frozen=True)
class Built:
    """Where the pieces of a finished libmagic build are."""

    prefix: Path

    @property
    def include_dir(self) -> Path:
        return self.prefix / "include"

    @property
    def static_lib(self) -> Path:
        return self.prefix / "lib" / "libmagic.a"

    @property
    def database(self) -> Path:
        return self.prefix / "share" / "misc" / "magic.mgc"

    @property
    def file_binary(self) -> Path:
        return self.prefix / "bin" / "file"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "magicguard"


def build_key() -> str:
    """Name the build by everything that makes its objects incompatible."""
    libc, libc_version = platform.libc_ver()
    parts = [VERSION, sysconfig.get_platform(), libc or "libc", libc_version or "0"]
    return "-".join(p.replace(os.sep, "_").replace(" ", "_") for p in parts)


def prefix_dir() -> Path:
    return ROOT / "build" / "libmagic" / build_key()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE and _sha256(path) == SHA256


def _download(url: str, dest: Path) -> None:
    tmp = dest.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    if not _verified(tmp):
        got = _sha256(tmp)
        tmp.unlink()
        raise BuildError(f"{url}: checksum mismatch (sha256 {got}, want {SHA256})")
    tmp.replace(dest)


def find_tarball() -> Path:
    """Return a path to the verified tarball, downloading it if needed."""
    tried: list[str] = []
    given = os.environ.get("MAGICGUARD_LIBMAGIC_TARBALL")
    candidates = [Path(given)] if given else []
    candidates += [ROOT / "vendor" / TARBALL, cache_dir() / TARBALL]
    for path in candidates:
        if _verified(path):
            return path
        if path.exists():
            tried.append(f"{path}: wrong size or sha256 (want {SHA256})")
        elif given and path == Path(given):
            raise BuildError(f"MAGICGUARD_LIBMAGIC_TARBALL={given}: no such file")
    dest = cache_dir() / TARBALL
    dest.parent.mkdir(parents=True, exist_ok=True)
    for url in URLS:
        try:
            _download(url, dest)
            return dest
        except (OSError, BuildError) as exc:
            tried.append(f"{url}: {exc}")
    raise BuildError(
        f"cannot get {TARBALL} (sha256 {SHA256}).  Tried:\n  "
        + "\n  ".join(tried)
        + f"\nPut the tarball in {cache_dir()} or set MAGICGUARD_LIBMAGIC_TARBALL."
    )


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


def _apply_patches(src: Path) -> None:
    for name, old, new in _PATCHES:
        path = src / name
        text = path.read_text(encoding="latin-1")
        count = text.count(old)
        if count != 1:
            raise BuildError(f"patch for {name}: expected 1 match of {old!r}, found {count}")
        path.write_text(text.replace(old, new), encoding="latin-1")


def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise BuildError(f"{' '.join(cmd)} failed ({proc.returncode}); log {log}:\n" + "\n".join(tail))


def _stamp_text() -> str:
    """What a finished build was made from: the tarball, its patches and the
    allocation hooks compiled into it (a change to any means rebuilding)."""
    digests = [f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}"
               for p in (ALLOC_REDIRECT, ALLOC_SOURCE)]
    patches = hashlib.sha256(repr(_PATCHES).encode()).hexdigest()
    return "\n".join([f"{TARBALL} {SHA256}", f"patches {patches}", *digests]) + "\n"


def ensure_built(verbose: bool = True) -> Built:
    """Build libmagic unless a finished build for this platform exists."""
    built = Built(prefix_dir())
    stamp = built.prefix / ".complete"
    if (stamp.exists() and stamp.read_text() == _stamp_text()
            and built.static_lib.exists() and built.database.exists()):
        return built
    tarball = find_tarball()
    if built.prefix.exists():
        shutil.rmtree(built.prefix)
    work = Path(tempfile.mkdtemp(prefix="magicguard-libmagic-", dir=ROOT / "build"
                                 if (ROOT / "build").is_dir() else None))
    try:
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(work, filter="data")
            else:  # Python < 3.12 without the backported filter
                tar.extractall(work)  # noqa: S202 - checksum-verified archive
        src = work / f"file-{VERSION}"
        _apply_patches(src)
        env = dict(os.environ)
        env.setdefault("CFLAGS", "-O2")
        extra = os.environ.get("MAGICGUARD_LIBMAGIC_CFLAGS")
        if extra:
            env["CFLAGS"] = f"{env['CFLAGS']} {extra}"
        if sys.platform == "darwin":
            env.setdefault("MACOSX_DEPLOYMENT_TARGET", "11.0")
        jobs = str(max(1, min(os.cpu_count() or 1, 8)))
        log = work / "build.log"
        # The wrappers themselves call the real allocator: compiled before
        # the redirection joins CFLAGS.
        alloc_obj = work / "alloc.o"
        _run([*shlex.split(env.get("CC", "cc")), *shlex.split(env["CFLAGS"]), "-fPIC",
              "-c", str(ALLOC_SOURCE), "-o", str(alloc_obj)], src, log, env)
        env["LIBS"] = f"{alloc_obj} {env.get('LIBS', '')}".strip()
        # -U_FORTIFY_SOURCE: a fortified <stdio.h> turns asprintf into an
        # inline call of __asprintf_chk, which would allocate behind the
        # redirection.
        env["CFLAGS"] = f"{env['CFLAGS']} -U_FORTIFY_SOURCE -include {ALLOC_REDIRECT}"
        if verbose:
            print(f"magicguard: building libmagic {VERSION} in {built.prefix} (log {log})",
                  file=sys.stderr)
        _run(["./configure", f"--prefix={built.prefix}", *_CONFIGURE_FLAGS], src, log, env)
        _run(["make", f"-j{jobs}"], src, log, env)
        _run(["make", "check"], src, log, env)
        _run(["make", "install"], src, log, env)
        got = database_format(built.database)
        if got != DATABASE_FORMAT:
            raise BuildError(f"{built.database}: database format {got}, but this build "
                             f"pins DATABASE_FORMAT = {DATABASE_FORMAT} for file {VERSION}")
        _run([os.environ.get("AR", "ar"), "rs", str(built.static_lib), str(alloc_obj)], src, log, env)
        stamp.write_text(_stamp_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return built


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--fetch-only":
        dest = Path(argv[1])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(find_tarball(), dest / TARBALL)
        print(dest / TARBALL)
        return 0
    if argv:
        print("usage: build_libmagic.py [--fetch-only DIR]", file=sys.stderr)
        return 2
    print(ensure_built().prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
