"""The engine: libmagic 5.47 + patches, with zlib, bzip2, xz and zstd built in.

What build_libmagic.py promises and the bundled extension must show:

* the release, the patch set and the decompressors are reported
  (``libmagic_build()``, ``--doctor``), and the patch applier is strict:
  every patch applies to the pristine release exactly once;
* ``Flags.COMPRESS`` decompresses gzip, bzip2, xz and zstd in-process, with
  or without ``Flags.NO_COMPRESS_FORK``, and never starts a program: no
  ``execve``/``fork`` under ``strace -f``, nothing run from ``$PATH``, and
  ``PATH=/nonexistent magicguard -z`` answers exactly as the reference
  file(1) built from the same sources and patches;
* a decompression bomb (1 GiB of zeros; bzip2: 64 MiB) is identified in
  bounded time and memory, because libmagic inflates at most
  ``Param.BYTES_MAX`` (7 MiB) of it;
* upstream fixes with an observable effect are checked (PR/725: a 2 KiB
  MP4 or WebM head through ``magic_buffer``).

The bombs are generated here, cheaply: a fixed-Huffman deflate stream of
(length 258, distance 1) matches, zstd RLE blocks, and a run of identical
LZMA2 chunks in one .xz block -- 6.8 MB, 32 KiB and 157 KiB for 1 GiB.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest

import magicguard
from conftest import QEMU_MAPPING_RSS, QEMU_PTRACE, ROOT, emulator, file_brief
from magicguard import Cookie, Flags, Param

pytestmark = pytest.mark.skipif(
    not magicguard.BUNDLED_LIBMAGIC,
    reason="the engine (release, patches, built-in decompressors) is the bundled build's; "
           "the system build links the distribution's libmagic as it is")

GIB = 1 << 30
TEXT = b"hello, compressed world\n" * 4


# --- sample and bomb generators ----------------------------------------------

def _crc32_zeros(size: int) -> int:
    crc, chunk = 0, bytes(1 << 24)
    while size:
        step = min(size, len(chunk))
        crc = zlib.crc32(memoryview(chunk)[:step], crc)
        size -= step
    return crc


class _Bits:
    """Deflate's bit packing: fields least-significant bit first, Huffman
    codes most-significant bit first."""

    def __init__(self) -> None:
        self.acc = 0
        self.n = 0
        self.out = bytearray()

    def put(self, value: int, nbits: int) -> None:
        self.acc |= value << self.n
        self.n += nbits
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def code(self, code: int, nbits: int) -> None:
        self.put(int(format(code, f"0{nbits}b")[::-1], 2), nbits)

    def flush(self) -> bytes:
        if self.n:
            self.out.append(self.acc & 0xFF)
        self.acc = self.n = 0
        return bytes(self.out)


def gzip_zeros(size: int = GIB) -> bytes:
    """A gzip member of ``size`` zeros: one fixed-Huffman block, a literal 0
    then (258, distance 1) matches of 13 bits, so 8 of them are 13 bytes."""
    matches, rest = divmod(size - 1, 258)
    length_258, distance_1 = (0b11000101, 8), (0, 5)
    head = _Bits()
    head.put(1, 1)           # BFINAL
    head.put(1, 2)           # BTYPE 01: fixed Huffman codes
    head.code(0x30, 8)       # literal 0
    head.code(*length_258)
    head.code(*distance_1)   # 3 + 8 + 13 bits: byte-aligned again
    eight = _Bits()
    for _ in range(8):
        eight.code(*length_258)
        eight.code(*distance_1)
    tail = _Bits()
    for _ in range((matches - 1) % 8):
        tail.code(*length_258)
        tail.code(*distance_1)
    for _ in range(rest):    # what is left (< 258): literal zeros
        tail.code(0x30, 8)
    tail.code(0, 7)          # end of block
    deflate = head.flush() + eight.flush() * ((matches - 1) // 8) + tail.flush()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + deflate
            + struct.pack("<II", _crc32_zeros(size), size & 0xFFFFFFFF))


def zstd_frame(data: bytes) -> bytes:
    """A zstd frame holding ``data`` in one raw block (single segment)."""
    assert len(data) < 256
    return (struct.pack("<I", 0xFD2FB528) + bytes([0x20, len(data)])
            + (1 | (len(data) << 3)).to_bytes(3, "little") + data)


def zstd_zeros(size: int = GIB) -> bytes:
    """A zstd frame of ``size`` zeros: a 128 KiB window, RLE blocks of 128 KiB."""
    block = 128 << 10
    count = size // block
    frame = bytearray(struct.pack("<I", 0xFD2FB528) + b"\x00" + bytes([7 << 3]))
    for i in range(count):
        frame += ((i == count - 1) | (1 << 1) | (block << 3)).to_bytes(3, "little") + b"\x00"
    return bytes(frame)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def xz_zeros(size: int = GIB, dict_code: int = 12, piece: int = 64 << 20) -> bytes:
    """An .xz stream of ``size`` zeros: one block of identical LZMA2 chunk
    runs (each opens with a dictionary reset), no check.  ``dict_code`` is
    the block header's dictionary size (12: 256 KiB; 39: 3 GiB)."""
    raw = lzma.compress(bytes(piece), format=lzma.FORMAT_RAW,
                        filters=[{"id": lzma.FILTER_LZMA2, "preset": 0}])
    assert raw[0] & 0xE0 == 0xE0 and raw[-1] == 0
    data = raw[:-1] * (size // piece) + b"\x00"
    flags = b"\x00\x00"
    header = b"\xfd7zXZ\x00" + flags + struct.pack("<I", zlib.crc32(flags))
    block_header = bytes([2, 0x00, 0x21, 0x01, dict_code, 0, 0, 0])
    block_header += struct.pack("<I", zlib.crc32(block_header))
    index = b"\x00" + _varint(1) + _varint(len(block_header) + len(data)) + _varint(size)
    index += bytes(-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    backward = struct.pack("<I", len(index) // 4 - 1) + flags
    return (header + block_header + data + bytes(-len(data) % 4) + index
            + struct.pack("<I", zlib.crc32(backward)) + backward + b"YZ")


#: The formats decompressed in-process, as files and as bytes.
SAMPLES: dict[str, Callable[[], bytes]] = {
    "gz": lambda: gzip.compress(TEXT, mtime=0),
    "bz2": lambda: bz2.compress(TEXT),
    "xz": lambda: lzma.compress(TEXT),
    "lzma": lambda: lzma.compress(TEXT, format=lzma.FORMAT_ALONE),
    "zst": lambda: zstd_frame(TEXT),
}
#: Heads of formats libmagic has no built-in decompressor for: 5.47 would
#: run uncompress/lz4/lzip/brotli/... from $PATH for them.
NO_BUILTIN = {
    "Z": b"\x1f\x9d\x90" + TEXT,
    "lz4": b"\x04\x22\x4d\x18" + TEXT,
    "lz": b"LZIP\x01" + TEXT,
    "lrz": b"LRZI\x00\x06" + TEXT,
    "pack": b"\x1f\x1e" + TEXT,
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("compressed")
    out = {}
    for ext, make in SAMPLES.items():
        out[ext] = d / f"text.{ext}"
        out[ext].write_bytes(make())
    for ext, data in NO_BUILTIN.items():
        out[ext] = d / f"head.{ext}"
        out[ext].write_bytes(data)
    return out


# --- what the engine is -------------------------------------------------------

def _build_libmagic() -> Any:  # the build module, imported from the source tree
    sys.path.insert(0, str(ROOT))
    try:
        import build_libmagic
    finally:
        sys.path.remove(str(ROOT))
    return build_libmagic


def test_libmagic_build_names_release_patches_and_decompressors() -> None:
    """libmagic_build() reports 5.47, exactly the patch files in patches/
    (in order), and the four decompressors at their pinned versions."""
    b = _build_libmagic()
    info = magicguard.libmagic_build()
    assert magicguard.libmagic_version() == 547
    assert info["release"] == "5.47" and info["build"] == "bundled"
    tuning = info["tuning"]
    assert info["patches"] == [f"{p.parent.name}/{p.stem}" for p in b.patch_files(tuning)]
    assert info["patches"][0] == "security/0001-pr725-always-set-offset"
    assert "magicguard/0002-compress-never-fork" in info["patches"]
    assert info["decompressors"] == {"zlib": "1.3.2", "bzip2": "1.0.8", "xz": "5.8.4",
                                     "zstd": "1.5.7"}


def test_doctor_reports_the_engine() -> None:
    """``magicguard --doctor`` shows the release, patches and decompressors."""
    proc = subprocess.run([sys.executable, "-m", "magicguard", "--doctor"], capture_output=True,
                          text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["problems"]
    lm = report["libmagic"]
    assert lm["version"] == "5.47" and lm["build"] == "bundled"
    assert lm["patches"] == magicguard.libmagic_build()["patches"]
    assert sorted(lm["decompressors"]) == ["bzip2", "xz", "zlib", "zstd"]


def test_every_patch_applies_exactly_once(tmp_path: Path) -> None:
    """On the pristine 5.47 tree every patch applies; applied a second time,
    each one is refused (its old text no longer occurs)."""
    b = _build_libmagic()
    with tarfile.open(b.find_tarball()) as tar:
        tar.extractall(tmp_path, filter="data") if hasattr(tarfile, "data_filter") \
            else tar.extractall(tmp_path)  # noqa: S202 - libmagic's own checksum-verified tarball, data filter where available
    src = tmp_path / b.LIBMAGIC.topdir
    applied = b._apply_patches(src, tuning=True)
    assert len(applied) == len(b.patch_files(True)) >= 23
    for patch in applied:
        with pytest.raises(b.BuildError, match="not exactly once"):
            b.apply_patch(src, patch)


def test_patch_applier_refuses_ambiguous_and_missing_context(tmp_path: Path) -> None:
    """A hunk whose old text occurs twice, or not at all, stops the build."""
    b = _build_libmagic()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.c").write_text("a\nb\nc\na\nb\nc\n")
    twice = tmp_path / "twice.patch"
    twice.write_text("# reason\n--- a/src/x.c\n+++ b/src/x.c\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n")
    with pytest.raises(b.BuildError, match="occurs 2 times"):
        b.apply_patch(tmp_path, b.parse_patch(twice))
    missing = tmp_path / "missing.patch"
    missing.write_text("--- a/src/x.c\n+++ b/src/x.c\n@@ -1,2 +1,2 @@\n q\n-b\n+B\n")
    with pytest.raises(b.BuildError, match="occurs 0 times"):
        b.apply_patch(tmp_path, b.parse_patch(missing))
    once = tmp_path / "once.patch"
    once.write_text("--- a/src/x.c\n+++ b/src/x.c\n@@ -3,2 +3,2 @@\n c\n-a\n+A\n")
    b.apply_patch(tmp_path, b.parse_patch(once))
    assert (tmp_path / "src" / "x.c").read_text() == "a\nb\nc\nA\nb\nc\n"


def test_internal_prototypes_are_compiled_against_file_h(tmp_path: Path) -> None:
    """csrc/libmagic_internal.h (the libmagic internals the shim calls)
    compiles after the release's own src/file.h; a copy with one parameter
    type changed stops the build with the compiler's "conflicting types"."""
    b = _build_libmagic()
    with tarfile.open(b.find_tarball()) as tar:
        member = tar.getmember(f"{b.LIBMAGIC.topdir}/src/file.h")
        tar.extract(member, tmp_path, filter="data") if hasattr(tarfile, "data_filter") \
            else tar.extract(member, tmp_path)
    src = tmp_path / b.LIBMAGIC.topdir
    b.check_internal_prototypes(src)
    good = "int file_reset(struct magic_set *, int);"
    header = b.LIBMAGIC_INTERNAL.read_text()
    assert good in header
    drifted = tmp_path / "libmagic_internal.h"
    drifted.write_text(header.replace(good, "int file_reset(struct magic_set *, long);"))
    conflict = r"(?s)a prototype differs.*conflicting types for .file_reset"
    with pytest.raises(b.BuildError, match=conflict):
        b.check_internal_prototypes(src, drifted)


def test_tuning_patches_can_be_left_out() -> None:
    """MAGICGUARD_LIBMAGIC_TUNING=0 drops patches/libmagic/tuning/ from the
    set, and the build key changes with the set."""
    b = _build_libmagic()
    with_tuning, without = b.patch_files(True), b.patch_files(False)
    assert [p for p in with_tuning if p.parent.name != "tuning"] == without
    if len(with_tuning) != len(without):
        assert b.build_key(True) != b.build_key(False)


def _program_interpreter(executable: str) -> str:
    """The file name of the dynamic loader ``executable`` runs under
    (``PT_INTERP``, e.g. ld-linux-x86-64.so.2), or "" if it names none."""
    headers = subprocess.run(["readelf", "-l", "-W", os.path.realpath(executable)], capture_output=True,
                             text=True, check=True).stdout
    for line in headers.splitlines():
        if "Requesting program interpreter:" in line:
            return os.path.basename(line.split(":", 1)[1].strip().rstrip("]"))
    return ""


def test_extension_needs_only_libc_and_starts_no_program() -> None:
    """The extension needs libc alone, exports only PyInit__native, carries
    the four decoders (local symbols), and imports no function that starts
    a process."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF checks (readelf, nm) are for Linux")
    so = sys.modules["magicguard._native"].__file__
    assert so is not None
    for tool in ("readelf", "nm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (binutils) is needed to check the extension")
    needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
    libraries = [line.split("[")[1].rstrip("]") for line in needed.splitlines() if "(NEEDED)" in line]
    # The C library is libc.so.6 and, where the stack protector's canary is a
    # global of the dynamic loader rather than a field of the thread control
    # block (aarch64: __stack_chk_guard@GLIBC_2.17 in ld-linux-aarch64.so.1),
    # the loader itself -- the one every program of the platform runs under.
    loader = _program_interpreter(sys.executable)
    assert libraries in (["libc.so.6"], ["libc.so.6", loader]), (libraries, loader)
    if len(libraries) == 2:
        from_loader = subprocess.run(["readelf", "--dyn-syms", "-W", so], capture_output=True, text=True,
                                     check=True).stdout
        assert "__stack_chk_guard" in from_loader
    exported = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                              check=True).stdout.splitlines()
    assert [line.split()[-1] for line in exported] == ["PyInit__native"]
    undefined = subprocess.run(["nm", "-D", "--undefined-only", so], capture_output=True,
                               text=True, check=True).stdout
    starters = ("posix_spawn", "fork", "vfork", "execv", "execl", "execve", "system", "popen")
    assert not [line for line in undefined.splitlines()
                if line.split()[-1].split("@")[0] in starters or "spawn" in line]
    local = subprocess.run(["nm", so], capture_output=True, text=True, check=True).stdout.split()
    for symbol in ("inflate", "BZ2_bzDecompress", "lzma_code", "ZSTD_decompressStream"):
        assert symbol in local, symbol


# --- decompression in-process -------------------------------------------------

@pytest.mark.parametrize("ext", sorted(SAMPLES))
@pytest.mark.parametrize("flags", [Flags.COMPRESS, Flags.COMPRESS | Flags.NO_COMPRESS_FORK],
                         ids=["COMPRESS", "COMPRESS|NO_COMPRESS_FORK"])
def test_compress_decompresses_in_process(ext: str, flags: Flags, samples: dict[str, Path],
                                          reference_file: str) -> None:
    """COMPRESS sees the text inside each format, from bytes, a file and a
    Mapping, exactly as ``file -z`` does; NO_COMPRESS_FORK changes nothing
    (no fork is ever needed)."""
    path = samples[ext]
    want = file_brief(reference_file, path, "-z")
    assert want.startswith("ASCII text ("), want
    with Cookie(flags) as cookie:
        assert cookie.buffer(path.read_bytes()).startswith("ASCII text (")
        assert cookie.file(path) == want
        with magicguard.Mapping.open(path) as mapping:
            assert cookie.buffer(mapping) == want


def test_no_builtin_format_is_left_compressed(samples: dict[str, Path], reference_file: str) -> None:
    """Formats without a built-in decompressor are identified as the
    compressed data they are, with no error and nothing run (the reference
    file(1) is built from the same patch, so it agrees)."""
    with Cookie(Flags.COMPRESS) as cookie:
        for ext in NO_BUILTIN:
            got = cookie.file(samples[ext])
            assert got == file_brief(reference_file, samples[ext], "-z")
            assert "ERROR" not in got and "Wait failed" not in got and "posix_spawn" not in got


def test_path_nonexistent_cli_matches_reference(samples: dict[str, Path],
                                                reference_file: str) -> None:
    """``PATH=/nonexistent magicguard -z`` and ``-z -i`` on every format
    print what the reference ``file -z`` prints (run with the same PATH)."""
    names = [str(samples[ext]) for ext in sorted(samples)]
    env = {k: v for k, v in os.environ.items() if k not in ("MAGIC", "POSIXLY_CORRECT")}
    env.update(PATH="/nonexistent", LC_ALL="C")
    for options in (["-z"], ["-z", "-i"], ["-z", "-k"]):
        ours = subprocess.run([sys.executable, "-m", "magicguard", *options, *names],
                              capture_output=True, env=env, timeout=120)
        theirs = subprocess.run([reference_file, *options, *names], capture_output=True, env=env,
                                timeout=120)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout
        assert ours.stderr == b""
    lines = theirs.stdout.decode().splitlines()
    assert any("ASCII text (gzip compressed data" in line for line in lines)
    assert any("(Zstandard compressed data" in line for line in lines)


_TRACED = r"""
import sys
from pathlib import Path
import magicguard
from magicguard import Cookie, Flags, Mapping, Sandbox
paths = [Path(p) for p in sys.argv[1:]]
answers = []
for flags in (Flags.COMPRESS, Flags.COMPRESS | Flags.NO_COMPRESS_FORK,
              Flags.COMPRESS | Flags.CONTINUE | Flags.MIME):
    with Cookie(flags) as cookie:
        for p in paths:
            answers.append(cookie.buffer(p.read_bytes()))
            answers.append(cookie.file(p))
            with Mapping.open(p) as m:
                answers.append(cookie.buffer(m))
print(len(answers), sum("ERROR" in a for a in answers))
"""


def test_no_execve_during_compress_identification(samples: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """Under ``strace -f``, identifying every format with COMPRESS (bytes,
    file, Mapping; with and without NO_COMPRESS_FORK) makes no execve but
    the interpreter's own, and no fork/vfork/clone of a process."""
    if not sys.platform.startswith("linux"):
        pytest.skip("strace is Linux's; test_nothing_runs_from_path runs everywhere")
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is needed (.ci/run and ci.yml install it)")
    log = tmp_path / "trace"
    names = [str(samples[ext]) for ext in sorted(samples)] + \
        [str(samples[ext]) for ext in sorted(NO_BUILTIN)]
    if emulator() is not None:
        probe = subprocess.run([strace, "-f", "true"], capture_output=True, text=True, timeout=60)
        if probe.returncode != 0 and "Function not implemented" in probe.stderr:
            pytest.skip(f"under {emulator()}: {QEMU_PTRACE}")
    proc = subprocess.run([strace, "-f", "-qq", "-e", "trace=execve,execveat,fork,vfork,clone,clone3",
                           "-o", str(log), sys.executable, "-c", _TRACED, *names],
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PATH": str(tmp_path / "bin")})
    assert proc.returncode == 0, proc.stderr
    count, errors = map(int, proc.stdout.split())
    assert count == 3 * 3 * len(names) and errors == 0
    calls = [line for line in log.read_text().splitlines() if line.strip()]
    execs = [c for c in calls if "execve(" in c or "execveat(" in c]
    assert len(execs) == 1 and sys.executable.split("/")[-1] in execs[0], execs
    # Threads (clone with CLONE_THREAD) are fine; a new process is not.
    processes = [c for c in calls if ("fork(" in c or "clone" in c) and "CLONE_THREAD" not in c]
    assert processes == [], processes


def test_nothing_runs_from_path(samples: dict[str, Path], tmp_path: Path) -> None:
    """With a $PATH full of decompressors that would leave a mark, COMPRESS
    runs none of them (a check that needs no strace)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "ran"
    for name in ("gzip", "bzip2", "xz", "zstd", "uncompress", "lz4", "lzip", "lrzip", "brotli",
                 "lzma", "unlzma", "gunzip", "compress"):
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\necho {name} >> {mark}\ncat\n")
        tool.chmod(0o755)
    names = [str(p) for p in samples.values()]
    proc = subprocess.run([sys.executable, "-c", _TRACED, *names], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr
    assert not mark.exists(), mark.read_text()


# --- bombs --------------------------------------------------------------------

_BOMB = r"""
import sys, time
from magicguard import Cookie, Flags, Mapping

def status(key):  # kB figures of /proc/self/status, in bytes
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

path, flags = sys.argv[1], Flags(int(sys.argv[2]))
data = open(path, "rb").read()
cookie = Cookie(flags)
cookie.buffer(b"warm up")
# Reset the peak-RSS mark (VmHWM), so that it measures these calls alone.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
start = time.perf_counter()
a = cookie.buffer(data)
b = cookie.file(path)
with Mapping.open(path) as m:
    c = cookie.buffer(m)
took = time.perf_counter() - start
print(repr((a, b, c, took, status("VmHWM") - before)))
"""

#: The bound stated in docs/safety.md, for three identifications of a bomb
#: (bytes, file, Mapping): measured at most 0.71 s and a rise of the
#: resident set of at most 22.9 MiB (22.3 MiB more than without COMPRESS),
#: on a shared 2-core machine; the limits leave room for slower ones.
BOMB_SECONDS = 10.0
BOMB_RSS = 64 << 20


def run_bomb(path: Path, flags: Flags) -> tuple[str, str, str, float, int]:
    """Identify ``path`` three ways in a child limited to 4 GiB of address
    space and 60 s of CPU; its answers, the seconds taken and how far the
    resident set rose above its size before the calls (bytes)."""
    limits = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)); "
              "resource.setrlimit(resource.RLIMIT_CPU, (60, 60))\n")
    proc = subprocess.run([sys.executable, "-c", limits + _BOMB, str(path), str(int(flags))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = eval(proc.stdout)  # noqa: S307 - our own child's repr
    assert isinstance(result, tuple)
    return result


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    made = {"1GiB.gz": gzip_zeros(), "1GiB.zst": zstd_zeros(), "1GiB.xz": xz_zeros(),
            "1GiB-3GiB-dictionary.xz": xz_zeros(dict_code=39),
            "64MiB.bz2": bz2.compress(bytes(64 << 20), 9)}
    out = {}
    for name, data in made.items():
        out[name] = d / name
        out[name].write_bytes(data)
    return out


def _inflate(name: str, data: bytes, limit: int) -> int:
    """How many bytes ``data`` (a .gz, .xz or .bz2) decompresses to, streaming,
    up to ``limit``; asserts they are all zeros."""
    kind = name.rsplit(".", 1)[1]
    decoders: dict[str, Callable[[], Any]] = {
        "gz": lambda: zlib.decompressobj(31), "xz": lzma.LZMADecompressor,
        "bz2": bz2.BZ2Decompressor}
    decoder = decoders[kind]()
    total = 0
    out = decoder.decompress(data, 1 << 24)
    while True:
        total += len(out)
        assert not out.strip(b"\0")
        if total >= limit or getattr(decoder, "eof", False) or not out:
            return total
        out = decoder.decompress(decoder.unconsumed_tail if kind == "gz" else b"", 1 << 24)


def test_bomb_generators_make_what_they_claim(bombs: dict[str, Path]) -> None:
    """The generators, at sizes cheap to check whole (including a length
    that is not a multiple of 258), decompress to exactly that many zeros;
    the 1 GiB bombs start with zeros and declare 1 GiB (gzip's ISIZE, the
    .xz index)."""
    assert _inflate("x.gz", gzip_zeros(24 << 20 | 5), 1 << 40) == 24 << 20 | 5
    assert _inflate("x.xz", xz_zeros(32 << 20, piece=8 << 20), 1 << 40) == 32 << 20
    assert _inflate("x.xz", xz_zeros(16 << 20, dict_code=39, piece=8 << 20), 1 << 40) == 16 << 20
    big = bombs["1GiB.gz"].read_bytes()
    assert struct.unpack("<I", big[-4:])[0] == GIB and _inflate("x.gz", big, 32 << 20) >= 32 << 20
    big = bombs["1GiB.xz"].read_bytes()
    assert _varint(GIB) in big[-32:] and _inflate("x.xz", big, 32 << 20) >= 32 << 20
    assert _inflate("x.bz2", bombs["64MiB.bz2"].read_bytes(), 1 << 40) == 64 << 20
    # zstd: 8192 RLE blocks of 128 KiB, the last one marked last.
    frame = bombs["1GiB.zst"].read_bytes()
    assert len(frame) == 6 + 8192 * 4
    assert int.from_bytes(frame[-4:-1], "little") == 1 | 2 | (128 << 10) << 3


@pytest.mark.parametrize("name", ["1GiB.gz", "1GiB.zst", "1GiB.xz", "1GiB-3GiB-dictionary.xz",
                                  "64MiB.bz2"])
def test_decompression_bomb_is_bounded(name: str, bombs: dict[str, Path], reference_file: str) -> None:
    """A bomb is identified (bytes, file, Mapping) within BOMB_SECONDS, the
    resident set rising at most BOMB_RSS more than when the same file is
    identified without COMPRESS, with file(1)'s answer: libmagic inflates at
    most BYTES_MAX (7 MiB) of it."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("peak RSS is measured through Linux's /proc/self/clear_refs")
    path = bombs[name]
    a, b, c, took, peak = run_bomb(path, Flags.COMPRESS)
    *_, control = run_bomb(path, Flags.NONE)
    want = file_brief(reference_file, path, "-z")
    assert a == b == c == want
    assert want.startswith("data (") and "compressed data" in want
    assert took < BOMB_SECONDS, took
    if "3GiB" in name and emulator() is not None:
        pytest.skip(f"the RSS bound for a 3 GiB dictionary, under {emulator()}: {QEMU_MAPPING_RSS}")
    assert peak - control < BOMB_RSS, (peak, control)
    assert Cookie().getparam(Param.BYTES_MAX) == 7 << 20


# --- upstream fixes with an observable effect ----------------------------------

def _mp4_head() -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2"
    moov = struct.pack(">I", 2048 - 24) + b"moov" + bytes(2048 - 32)
    return ftyp + moov


def _webm_head() -> bytes:
    # An EBML header (version 1, max ID length 4, max size length 8) whose
    # DocType is "webm", version 4, read version 2; then zeros.
    body = (b"\x42\x86\x81\x01"  # one EBML element per line
            b"\x42\xf7\x81\x01"
            b"\x42\xf2\x81\x04"
            b"\x42\xf3\x81\x08"
            b"\x42\x82\x84webm"
            b"\x42\x87\x81\x04"
            b"\x42\x85\x81\x02")
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + bytes(2048 - 5 - len(body))


@pytest.mark.parametrize("make", [_mp4_head, _webm_head], ids=["mp4", "webm"])
def test_pr725_magic_buffer_offsets(make: Callable[[], bytes], tmp_path: Path,
                                    reference_file: str) -> None:
    """PR/725 (python-magic#362): 5.47's magic_buffer lost continuation
    offsets, so a 2 KiB MP4 or WebM head came out as octet-stream; with the
    patch, bytes answer as file(1) does for the same bytes on disk."""
    data = make()
    path = tmp_path / "head"
    path.write_bytes(data)
    for flags, option in ((Flags.NONE, ()), (Flags.MIME_TYPE, ("--mime-type",))):
        with Cookie(flags) as cookie:
            got = cookie.buffer(data)
        assert got == file_brief(reference_file, path, *option)
        assert got not in ("application/octet-stream", "data")


def test_database_with_inconsistent_set_counts_is_refused(tmp_path: Path) -> None:
    """security/0004 (upstream 3b847f67): a compiled database whose first set
    claims more entries than the file holds -- the total kept consistent by
    wrapping the second set's count -- is refused with DatabaseError;
    unpatched, libmagic walks past the database (a crash or garbage)."""
    db = bytearray(Path(magicguard.default_database_path() or "").read_bytes())
    first, second = struct.unpack_from("<II", db, 8)
    entries = first + second + 1  # the header entry and the two sets
    assert len(db) % entries == 0
    struct.pack_into("<II", db, 8, entries + 1000, (second - entries - 1000 + first) & 0xFFFFFFFF)
    path = tmp_path / "bad.mgc"
    path.write_bytes(bytes(db))
    code = ("import sys, magicguard\n"
            "try:\n"
            "    magicguard.Cookie(database=[open(sys.argv[1], 'rb').read()]).buffer(b'x' * 64)\n"
            "except magicguard.DatabaseError as exc:\n"
            "    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused:") and "claims" in proc.stdout, proc.stdout


@pytest.mark.parametrize(("rule", "data"), [("lelong/-1", b"\x00\x00\x00\x80"),
                                        ("lequad/-1", b"\x00" * 7 + b"\x80"),
                                        ("lelong%-1", b"\x00\x00\x00\x80")],
                         ids=["PR636-int32-div", "PR640-int64-div", "PR636-int32-mod"])
def test_minimum_integer_divided_by_minus_one_does_not_trap(rule: str, data: bytes, tmp_path: Path,
                                                           reference_file: str) -> None:
    """PR/636, PR/640 (in the 5.47 release): a rule dividing the most negative
    integer by -1 is undefined behaviour, SIGFPE on x86 where the compiler
    emits the division (5.46 built here happens to print "value 0"); now
    libmagic refuses it with an error, as file(1) of the same build does."""
    source = tmp_path / "fpe.magic"
    source.write_text(f"0\t{rule}\tx\tvalue %{'lld' if 'quad' in rule else 'd'}\n")
    sample = tmp_path / "sample"
    sample.write_bytes(data + bytes(56))
    code = ("import sys, magicguard\n"
            "try:\n"
            "    magicguard.Cookie(database=sys.argv[1]).buffer(open(sys.argv[2], 'rb').read())\n"
            "except magicguard.MagicError as exc:\n"
            "    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(source), str(sample)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    message = "line 1: zerodivide/overflow/underflow in mconvert()"
    assert proc.stdout.rstrip("\n").endswith(message)
    assert file_brief(reference_file, sample, "-m", str(source)) == f"ERROR: {message}"


def test_negated_search_prints_no_stale_match(tmp_path: Path) -> None:
    """magicguard/0005 (found by the source fuzz target): a ``search`` that
    matches by *not* finding its string printed the previous match's length
    from its region -- bytes past a 2-byte buffer (5.46 and the system's 5.44
    print e.g. ``no mark [abS)\\326U]``; ASan: heap-buffer-overflow in
    strndup).  Now the match printed is empty, whatever was identified before."""
    source = tmp_path / "negated.magic"
    source.write_bytes(b"0\tsearch/100\tMARK\tfound mark\n"
                       b"0\tsearch/100\t!MARK\tno mark [%s]\n")
    cookie = Cookie(database=source)
    assert cookie.buffer(b"x" * 40 + b"MARK" + b"y" * 40).startswith("found mark")
    for _ in range(3):
        assert cookie.buffer(b"ab").startswith("no mark [], ")
