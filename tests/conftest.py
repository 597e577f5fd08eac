"""Shared fixtures: the reference file(1), a corpus of real files, helpers.

The reference is the ``file`` binary built from the same libmagic and
database as the extension: in the bundled build, the one ``build_libmagic``
left in ``build/libmagic/<key>/bin/file``; in the system build, ``file`` on
``$PATH`` when its version matches the linked libmagic.

The corpus is ``tests/corpus/files/``: about two hundred small files of
over a hundred MIME types, written by ``scripts/make-corpus`` and checked in,
so every machine tests the same files.  ``MAGICGUARD_HOST_CORPUS=1`` adds an
extra sweep over this machine's system directories, stratified by
(extension, first bytes) so that every kind of file present is represented
rather than thousands of one kind.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

import magicguard
from hostcorpus import stratified_files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The checked-in corpus (scripts/make-corpus writes it).
CORPUS_DIR = ROOT / "tests" / "corpus" / "files"
#: Set to 1 to add files from the host's system directories to the corpus.
HOST_CORPUS_ENV = "MAGICGUARD_HOST_CORPUS"

#: Files looked at in each directory before choosing (bounds the walk on big
#: systems and keeps one huge directory from crowding out the others).
CORPUS_SCAN_LIMIT = 6_000
#: Files kept per stratum, and in all.
CORPUS_PER_STRATUM = 6
CORPUS_SIZE = 400
#: Larger files are left out to keep the suite fast (libmagic reads at most
#: 7 MiB of a file anyway).
CORPUS_MAX_BYTES = 4 << 20


def _version_of(binary: str) -> Optional[str]:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else None


def find_reference_file() -> Optional[str]:
    """The file(1) binary of the same libmagic as the extension, or None."""
    want = "file-{}.{}".format(*divmod(magicguard.libmagic_version(), 100))
    candidates: list[str] = []
    if magicguard.BUNDLED_LIBMAGIC:
        candidates += sorted(str(p) for p in (ROOT / "build" / "libmagic").glob("*/bin/file"))
        env = os.environ.get("MAGICGUARD_REFERENCE_FILE")
        if env:
            candidates.insert(0, env)
    else:
        found = shutil.which("file")
        if found:
            candidates.append(found)
    for candidate in candidates:
        if _version_of(candidate) == want:
            return candidate
    return None


@pytest.fixture(scope="session")
def reference_file() -> str:
    """Path of the reference file(1); skips when this environment has none
    (an installed wheel tested away from its build tree)."""
    found = find_reference_file()
    if found is None:
        pytest.skip("no file(1) built from the same libmagic is available here")
    return found


def run_file(reference: str, *args: str | os.PathLike[str],
             stdin: Optional[bytes] = None) -> subprocess.CompletedProcess[bytes]:
    """Run the reference file(1) with a clean environment (no $MAGIC, C locale)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAGIC", "POSIXLY_CORRECT")}
    env["LC_ALL"] = "C"
    return subprocess.run([reference, *(os.fspath(a) for a in args)], input=stdin, capture_output=True,
                          env=env, timeout=120)


def file_brief(reference: str, path: str | os.PathLike[str], *options: str) -> str:
    """``file -b [options] path`` decoded as magicguard decodes libmagic's text."""
    out = run_file(reference, "-b", *options, "--", path).stdout
    return out.rstrip(b"\n").decode("utf-8", "surrogateescape")


def file_brief_many(reference: str, paths: list[str], *options: str) -> list[str]:
    """``file -b`` for many paths in one process (one line each: libmagic
    escapes newlines, except with -r in a few answers, such as a Mach-O
    universal binary's; then each path is asked for in a process of its own)."""
    out = run_file(reference, "-b", "-N", *options, "--", *paths).stdout
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    assert lines[-1] == ""
    if len(lines) - 1 != len(paths):
        assert "-r" in options, "file(1) printed an unexpected number of lines"
        return [file_brief(reference, path, *options) for path in paths]
    return lines[:-1]


def checked_in_corpus() -> list[str]:
    """The non-empty files of ``tests/corpus/files/``, sorted, as absolute
    paths.  Non-empty, as the host sweep has always been: an empty file is
    a case of its own (the system build's Mapping calls it
    application/x-empty where file(1) says inode/x-empty), which the tests
    that mean it create themselves."""
    return sorted(str(p) for p in CORPUS_DIR.iterdir() if p.is_file() and p.stat().st_size > 0)


def build_corpus(limit: int = CORPUS_SIZE) -> list[str]:
    """Real regular files from system directories, stratified by type (the
    optional host sweep)."""
    return stratified_files(limit, CORPUS_PER_STRATUM, 546, CORPUS_SCAN_LIMIT, CORPUS_MAX_BYTES)


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    """The checked-in corpus (about two hundred files of many types), plus
    several hundred of this machine's files when ``MAGICGUARD_HOST_CORPUS=1``
    (see ``build_corpus``)."""
    files = checked_in_corpus()
    assert len(files) >= 200, f"only {len(files)} files in {CORPUS_DIR}: run scripts/make-corpus"
    if os.environ.get(HOST_CORPUS_ENV, "") not in ("", "0"):
        host = build_corpus()
        assert len(host) >= 200, f"only {len(host)} corpus files found on this machine"
        files += host
    return files


def compile_against_libmagic(source: Path, output: Path) -> Path:
    """Compile a C program against the libmagic the extension links."""
    cmd = ["cc", "-O2", "-Wall", "-Wextra", "-o", str(output), str(source)]
    if magicguard.BUNDLED_LIBMAGIC:
        import build_libmagic

        built = build_libmagic.Built(build_libmagic.prefix_dir())
        cmd[1:1] = [f"-I{built.include_dir}"]
        cmd.append(str(built.static_lib))
    else:
        cmd.append("-lmagic")
    subprocess.run(cmd, check=True, capture_output=True)
    return output


@pytest.fixture(scope="session")
def buffer_reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, list[str]], list[str]]:
    """``ref(flags, paths)``: magic_buffer's answers from C for each file's bytes."""
    exe = compile_against_libmagic(ROOT / "tests" / "c" / "magic_buffer_ref.c",
                                   tmp_path_factory.mktemp("cref") / "magic_buffer_ref")
    database = magicguard.default_database_path() or "-"

    def ref(flags: int, paths: list[str]) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "MAGIC"}
        out = subprocess.run([str(exe), hex(flags), database, *paths], capture_output=True,
                             check=True, env=env, timeout=300).stdout
        lines = out.decode("utf-8", "surrogateescape").split("\n")
        assert lines[-1] == "" and len(lines) - 1 == len(paths)
        return lines[:-1]

    return ref


@functools.cache
def emulator() -> Optional[str]:
    """The qemu-user binary this interpreter runs under, or None when it runs natively.

    qemu-user shows a guest process its own executable as ``/proc/self/exe``;
    the kernel's view of another process is not faked, so a child started
    from ``sys.executable`` shows the emulator there.  Tests whose subject
    emulation cannot show (RSS that includes the emulator's bookkeeping,
    ``madvise``, ``ptrace``) skip that part with the reason, and only under
    emulation (docs/installation.md, "aarch64")."""
    if not sys.platform.startswith("linux"):
        return None
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        exe = os.readlink(f"/proc/{child.pid}/exe")
    except OSError:
        return None
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(60)
    return exe if "qemu" in os.path.basename(exe) else None


# What the arm64 root showed of qemu-user (qemu 7.2, Debian 12), measured
# with plain Python in the emulated interpreter (scripts/check-wheel --arch
# aarch64); the reasons the tests below give when they skip under it.
QEMU_MAPPING_RSS = ("qemu-user counts its own bookkeeping for a guest's mapping in the process's "
                    "RSS (+18 MiB for an untouched 3 GiB mapping, anonymous or of a file; natively "
                    "0), so an RSS bound on mapping or reserving gigabytes cannot be shown here")
QEMU_THREAD_RSS = ("qemu-user keeps the state of every guest thread that ended (2,000 plain Python "
                   "threads started and joined: +547 MiB of RSS), so a per-thread RSS bound "
                   "cannot be shown here")
QEMU_MADVISE = ("qemu-user ignores madvise() for file mappings (a hint it answers with success "
                "without passing it on), so MADV_RANDOM cannot stop the kernel's read-ahead "
                "around each faulting page and its time cannot be shown here")
QEMU_PTRACE = ("qemu-user does not implement ptrace for its guest (strace: PTRACE_TRACEME: "
               "Function not implemented), so process creation cannot be watched here")


def run_python(code: str, *, timeout: float = 60, env: Optional[dict[str, str]] = None,
               args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for anything that may kill a process).

    Core dumps are suppressed; the result carries the exit status (negative
    for a signal) and both streams.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args, "-c", "import resource; resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n" + code],
        capture_output=True, text=True, timeout=timeout, env=full_env,
    )


@pytest.fixture
def close_verdict_engines() -> Iterator[None]:
    """Verdicts with isolation "thread"/"process" keep a Pool or Sandbox for
    reuse; close them after the test so no worker outlives it (test_pool
    checks that no pool thread is left)."""
    yield
    import magicguard.verdict

    magicguard.verdict.shutdown()
