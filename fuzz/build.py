"""Build magicguard's fuzz targets: libmagic + shim under ASan and UBSan.

The libmagic compiled here is the one magicguard ships: ``build_libmagic``
fetches, verifies, unpacks and patches it and runs its own configure and
make (so its patches, the allocation redirection of csrc/alloc_redirect.h
and any decompression libraries it builds come along), only with clang,
sanitizer and coverage flags, into a prefix of its own under
``build/fuzz/``.  The harnesses (``fuzz/fuzz_*.c``) link that libmagic
(every static library the build installed in ``lib/``) with the shim
sources ``csrc/trap.c``, ``identify.c``, ``handle.c``, ``mapping.c`` and
``shim.c`` (build_ffi.py's SOURCES less the CLI's and the sandbox's),
compiled as ``build_ffi.py`` compiles them for the bundled build.

Everything is cached: a rebuild happens only when the compiler, the flags,
``build_libmagic``'s inputs or a harness source change.

    python fuzz/build.py          # build, print the target binaries

Environment: ``FUZZ_CC`` (default: clang-14, else clang).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
CSRC = ROOT / "csrc"
OUT = ROOT / "build" / "fuzz"
sys.path.insert(0, str(ROOT))
import build_libmagic as bl  # noqa: E402

TARGETS = ("buffer", "mapping", "database", "source")
# What each target's inputs are, for the seed corpus (seeds()).
SEED_KINDS = {"buffer": "files", "mapping": "files", "database": "mgc", "source": "magic"}

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=undefined"
COMMON_CFLAGS = f"-O1 -g -fno-omit-frame-pointer {SANITIZE}"
# libmagic: coverage instrumentation, no libFuzzer main.
LIB_CFLAGS = f"{COMMON_CFLAGS} -fsanitize=fuzzer-no-link"
# Leaks in make check's and file(1)'s short-lived runs are not findings.
BUILD_ASAN_OPTIONS = "detect_leaks=0"


class FuzzBuildError(RuntimeError):
    """A fuzz target could not be built."""


def compiler() -> str:
    given = os.environ.get("FUZZ_CC")
    if given:
        return given
    for name in ("clang-14", "clang"):
        if shutil.which(name):
            return name
    raise FuzzBuildError("no clang found (Debian: apt-get install clang-14 libclang-rt-14-dev); "
                         "or set FUZZ_CC")


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _libmagic_inputs() -> str:
    """What build_libmagic builds from (its own text covers its pins and
    patches; its stamp function, where it has one, the files it reads)."""
    stamp = getattr(bl, "_stamp_text", None)
    extra = stamp() if callable(stamp) else ""
    patches = sorted((ROOT / "patches").rglob("*")) if (ROOT / "patches").is_dir() else []
    return _digest(Path(bl.__file__).read_bytes(), extra,
                   *[p.read_bytes() for p in patches if p.is_file()])


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _ensure_built_into(prefix: Path, cc: str, cflags: str) -> Path:
    """build_libmagic's own build, with our compiler and flags, into prefix.

    Uses build_libmagic's prefix/compiler parameters when it has them;
    otherwise the environment it reads (CC, CFLAGS) and its prefix_dir()
    are pointed at ours for the duration of the call.
    """
    params = inspect.signature(bl.ensure_built).parameters
    env = {"CC": cc, "CFLAGS": cflags, "LDFLAGS": SANITIZE,
           "ASAN_OPTIONS": BUILD_ASAN_OPTIONS, "UBSAN_OPTIONS": "print_stacktrace=1"}
    with _environment(**env):
        if "prefix" in params:
            kwargs: dict[str, Any] = {"prefix": prefix}
            # libmagic's make check is the normal build's business; here it
            # would only cost time (CI's fuzz budget includes the build).
            if "check" in params:
                kwargs["check"] = False
            if "cc" in params:
                kwargs["cc"] = cc
            if "cflags" in params:
                kwargs["cflags"] = cflags
            built = bl.ensure_built(**kwargs)
        else:
            original = bl.prefix_dir
            bl.prefix_dir = lambda: prefix
            try:
                built = bl.ensure_built()
            finally:
                bl.prefix_dir = original
    return Path(built.prefix)


def libmagic(cc: str) -> Path:
    """The sanitized libmagic prefix, built unless current."""
    prefix = OUT / "libmagic"
    stamp = OUT / "libmagic.stamp"
    want = _digest(cc, _compiler_version(cc), LIB_CFLAGS, _libmagic_inputs())
    if (stamp.exists() and stamp.read_text() == want
            and (prefix / "lib" / "libmagic.a").exists()):
        return prefix
    if prefix.exists() and "prefix" not in inspect.signature(bl.ensure_built).parameters:
        # The old interface's own stamp does not cover the flags: start over.
        # (The new one keys its build on them and keeps its decompressors.)
        shutil.rmtree(prefix)
    stamp.unlink(missing_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"fuzz: building libmagic with {cc} {LIB_CFLAGS} in {prefix}", file=sys.stderr)
    got = _ensure_built_into(prefix, cc, LIB_CFLAGS)
    if got.resolve() != prefix.resolve():
        raise FuzzBuildError(f"build_libmagic built into {got}, not {prefix}")
    stamp.write_text(want)
    return prefix


def _compiler_version(cc: str) -> str:
    return subprocess.run([cc, "--version"], capture_output=True, text=True,
                          check=True).stdout


def _static_libs(prefix: Path) -> list[Path]:
    """libmagic.a first, then every other static library the build
    installed (decompressors), which libmagic.a may need."""
    libs = sorted((prefix / "lib").glob("*.a"))
    first = [p for p in libs if p.name == "libmagic.a"]
    return first + [p for p in libs if p.name != "libmagic.a"]


def _has_builtin_zlib(prefix: Path) -> bool:
    """Does this libmagic decompress gzip in-process (compress.c's
    zlib path compiled in)?"""
    out = subprocess.run(["nm", "-A", str(prefix / "lib" / "libmagic.a")],
                         capture_output=True, text=True).stdout
    return any(line.split()[-1] == "uncompresszlib" for line in out.splitlines() if line.strip())


def targets(cc: str, prefix: Path) -> dict[str, Path]:
    """Compile and link every harness (cached); returns name -> binary."""
    bindir = OUT / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    libs = _static_libs(prefix)
    spawn_is_bug = _has_builtin_zlib(prefix)
    database = prefix / "share" / "misc" / "magic.mgc"
    shared = [FUZZ / "common.c",
              *(CSRC / name for name in ("trap.c", "identify.c", "handle.c", "mapping.c",
                                         "shim.c"))]
    headers = sorted(FUZZ.glob("*.h")) + sorted(CSRC.glob("*.h"))
    flags = [*shlex.split(COMMON_CFLAGS), "-fsanitize=fuzzer",
             "-I", str(prefix / "include"), "-I", str(CSRC),
             "-DMG_BUNDLED_BUILD=1", f'-DFZ_DATABASE="{database}"',
             f"-DFZ_SPAWN_IS_BUG={int(spawn_is_bug)}", "-Wall", "-Wextra"]
    out: dict[str, Path] = {}
    for name in TARGETS:
        source = FUZZ / f"fuzz_{name}.c"
        binary = bindir / f"fuzz_{name}"
        stamp = bindir / f"fuzz_{name}.stamp"
        inputs = [source, *shared, *headers]
        want = _digest(cc, " ".join(flags), (OUT / "libmagic.stamp").read_text(),
                       *[p.read_bytes() for p in inputs])
        if not (binary.exists() and stamp.exists() and stamp.read_text() == want):
            cmd = [cc, *flags, str(source), *map(str, shared), *map(str, libs), "-ldl",
                   "-o", str(binary)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise FuzzBuildError(f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
            stamp.write_text(want)
        out[name] = binary
    return out


# -- seeds ---------------------------------------------------------------

def _upstream_tree() -> Path:
    """libmagic's test files and magic sources, unpacked from the same
    verified tarball the build uses (cached)."""
    tarball = bl.find_tarball()
    dest = OUT / "upstream"
    stamp = dest / ".tarball"
    if stamp.exists() and stamp.read_text() == str(tarball.stat().st_size) + tarball.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            if parts[1] == "tests" or parts[1:3] == ("magic", "Magdir"):
                data = tar.extractfile(member)
                if data is None:
                    continue
                target = dest.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read())
    stamp.write_text(str(tarball.stat().st_size) + tarball.name)
    return dest


def _copy_seeds(files: list[Path], dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, dest / f.name)
    return len(files)


def seeds(prefix: Path, cc: str) -> dict[str, Path]:
    """Seed directories per target (cached): libmagic's tests/ files, the
    files fuzz/make_seeds.py generates and fuzz/seeds/ (committed,
    self-made); for the database targets, magic sources from Magdir and
    tests/, and databases compiled from the small ones."""
    root = OUT / "seeds"
    stamp = root / ".stamp"
    want = _digest((OUT / "libmagic.stamp").read_text(),
                   (FUZZ / "make_seeds.py").read_bytes(),
                   *[p.read_bytes() for p in sorted((FUZZ / "seeds").rglob("*")) if p.is_file()])
    dirs = {kind: root / kind for kind in ("files", "magic", "mgc")}
    if not (stamp.exists() and stamp.read_text() == want):
        if root.exists():
            shutil.rmtree(root)
        up = _upstream_tree()
        tests = sorted((up / "tests").glob("*.testfile"))
        _copy_seeds(tests, dirs["files"])
        subprocess.run([sys.executable, str(FUZZ / "make_seeds.py"), str(dirs["files"]),
                        "--cc", cc], check=True)
        for kind in ("files", "magic", "mgc"):
            own = FUZZ / "seeds" / kind
            if own.is_dir():
                _copy_seeds(sorted(p for p in own.iterdir() if p.is_file()), dirs[kind])
        sources = sorted(p for p in (up / "magic" / "Magdir").iterdir()
                         if p.is_file() and p.stat().st_size <= 16384)
        sources += sorted((up / "tests").glob("*.magic"))
        _copy_seeds(sources, dirs["magic"])
        _compile_databases(prefix, [p for p in sources if p.stat().st_size <= 4096][:64],
                           dirs["mgc"])
        stamp.write_text(want)
    return {name: dirs[kind] for name, kind in SEED_KINDS.items()}


def _compile_databases(prefix: Path, sources: list[Path], dest: Path) -> None:
    """file -C -m SOURCE with the sanitized file(1): one small compiled
    database per magic source (those that compile alone)."""
    dest.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ASAN_OPTIONS=BUILD_ASAN_OPTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            local = Path(tmp) / src.name
            shutil.copyfile(src, local)
            subprocess.run([str(prefix / "bin" / "file"), "-C", "-m", local.name], cwd=tmp,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mgc = Path(tmp) / f"{src.name}.mgc"
            if mgc.exists():
                mgc.replace(dest / mgc.name)


def build(cc: Optional[str] = None) -> tuple[dict[str, Path], dict[str, Path]]:
    """Everything scripts/fuzz needs: (target binaries, seed directories)."""
    cc = cc or compiler()
    prefix = libmagic(cc)
    return targets(cc, prefix), seeds(prefix, cc)


def main() -> int:
    try:
        binaries, seed_dirs = build()
    except (FuzzBuildError, bl.BuildError, subprocess.CalledProcessError) as exc:
        print(f"fuzz: build failed: {exc}", file=sys.stderr)
        return 1
    for name, path in binaries.items():
        print(f"{name}\t{path}\t{seed_dirs[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
