"""Cookie answers exactly like file(1) and C's magic_buffer of the same libmagic.

Expected values come from running the reference file(1) (``file -b [option]
PATH``) or the C program tests/c/magic_buffer_ref.c over the same files.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable

import pytest

from conftest import file_brief, file_brief_many
from magicguard import Cookie, Flags


def test_file_equals_file_brief(reference_file: str, corpus: list[str]) -> None:
    """Cookie().file(p) == `file -b p` for every corpus file."""
    expected = file_brief_many(reference_file, corpus)
    with Cookie() as cookie:
        got = [cookie.file(p) for p in corpus]
    mismatches = [(p, g, e) for p, g, e in zip(corpus, got, expected) if g != e]
    assert mismatches == []


def test_descriptor_equals_file_brief(reference_file: str, corpus: list[str]) -> None:
    """Cookie().descriptor(fd) == `file -b p`: libmagic reads through the fd
    the way file(1) does, so even ELF details match."""
    expected = file_brief_many(reference_file, corpus)
    got = []
    with Cookie() as cookie:
        for path in corpus:
            fd = os.open(path, os.O_RDONLY)
            try:
                got.append(cookie.descriptor(fd))
            finally:
                os.close(fd)
    mismatches = [(p, g, e) for p, g, e in zip(corpus, got, expected) if g != e]
    assert mismatches == []


def test_buffer_equals_c_magic_buffer(buffer_reference: Callable[[int, list[str]], list[str]],
                                      corpus: list[str]) -> None:
    """Cookie().buffer(data) == magic_buffer(data) called from C, byte for byte."""
    expected = buffer_reference(0, corpus)
    with Cookie() as cookie:
        got = [cookie.buffer(Path(p).read_bytes()) for p in corpus]
    mismatches = [(p, g, e) for p, g, e in zip(corpus, got, expected) if g != e]
    assert mismatches == []


def test_buffer_with_flags_equals_c(buffer_reference: Callable[[int, list[str]], list[str]],
                                    corpus: list[str]) -> None:
    """With MIME flags too, buffer() equals C's magic_buffer."""
    sample = corpus[::4]
    flags = Flags.MIME | Flags.CONTINUE
    expected = buffer_reference(int(flags), sample)
    with Cookie(flags) as cookie:
        got = [cookie.buffer(Path(p).read_bytes()) for p in sample]
    assert got == expected


# Each flag, and the file(1) option that sets the same libmagic flag
# (file/file src/file.c).
FLAG_OPTIONS = [
    (Flags.MIME_TYPE, ("--mime-type",)),
    (Flags.MIME_ENCODING, ("--mime-encoding",)),
    (Flags.MIME, ("-i",)),
    (Flags.RAW, ("-r",)),
    (Flags.EXTENSION, ("--extension",)),
    (Flags.APPLE, ("--apple",)),
    (Flags.NO_CHECK_SOFT, ("-e", "soft")),
    (Flags.NO_CHECK_ELF, ("-e", "elf")),
    (Flags.NO_CHECK_TEXT, ("-e", "text")),
    (Flags.NO_CHECK_ENCODING, ("-e", "encoding")),
    (Flags.NO_CHECK_TOKENS, ("-e", "tokens")),
    (Flags.NO_CHECK_CSV, ("-e", "csv")),
    (Flags.NO_CHECK_JSON, ("-e", "json")),
    (Flags.NO_CHECK_CDF, ("-e", "cdf")),
    (Flags.NO_CHECK_TAR, ("-e", "tar")),
    (Flags.NO_CHECK_COMPRESS, ("-e", "compress")),
    (Flags.NO_CHECK_APPTYPE, ("-e", "apptype")),
    (Flags.NO_CHECK_SOFT | Flags.NO_CHECK_TEXT, ("-e", "soft", "-e", "text")),
]


@pytest.mark.parametrize(("flags", "options"), FLAG_OPTIONS, ids=[o[-1] + "-" + str(int(f)) for f, o in FLAG_OPTIONS])
def test_flag_matches_file_option(reference_file: str, corpus: list[str], flags: Flags,
                                  options: tuple[str, ...]) -> None:
    """Each flag changes Cookie.file's answer exactly as its file(1) option does."""
    sample = corpus[::3]
    expected = file_brief_many(reference_file, sample, *options)
    with Cookie(flags) as cookie:
        got = [cookie.file(p) for p in sample]
    assert got == expected


def test_flags_change_the_answer(corpus: list[str]) -> None:
    """The flag tests above can fail: the flags do change answers."""
    sample = corpus[::3]
    with Cookie() as plain, Cookie(Flags.MIME_TYPE) as mime, Cookie(Flags.NO_CHECK_SOFT) as nosoft:
        base = [plain.file(p) for p in sample]
        assert base != [mime.file(p) for p in sample]
        assert base != [nosoft.file(p) for p in sample]


def test_simh_flag_matches_file_option(reference_file: str, corpus: list[str]) -> None:
    """NO_CHECK_SIMH equals `file -e simh` where libmagic has it (>= 5.45),
    and is the no-op 0 where it does not."""
    from magicguard import libmagic_version

    if libmagic_version() < 545:
        assert Flags.NO_CHECK_SIMH == 0
        return
    sample = corpus[::5]
    with Cookie(Flags.NO_CHECK_SIMH) as cookie:
        assert [cookie.file(p) for p in sample] == file_brief_many(reference_file, sample, "-e", "simh")


@pytest.fixture(scope="module")
def compressed(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> list[str]:
    """gzip files of a few corpus members (text, binary)."""
    out = tmp_path_factory.mktemp("gz")
    paths = []
    for i, source in enumerate(corpus[::40]):
        target = out / f"f{i}.gz"
        target.write_bytes(gzip.compress(Path(source).read_bytes(), mtime=0))
        paths.append(str(target))
    return paths


@pytest.mark.parametrize(("flags", "options"), [
    (Flags.COMPRESS, ("-z",)),
    (Flags.COMPRESS | Flags.COMPRESS_TRANSP, ("-Z",)),
    (Flags.COMPRESS | Flags.MIME_TYPE, ("-z", "--mime-type")),
], ids=["z", "Z", "z-mime"])
def test_compress_flags(reference_file: str, compressed: list[str], flags: Flags,
                        options: tuple[str, ...]) -> None:
    """COMPRESS and COMPRESS_TRANSP look inside gzip files like `file -z`/`-Z`."""
    expected = file_brief_many(reference_file, compressed, *options)
    with Cookie(flags) as cookie:
        assert [cookie.file(p) for p in compressed] == expected
    # And the flag did look inside: the answers differ from plain ones.
    assert expected != file_brief_many(reference_file, compressed, *options[1:])


def test_continue_matches_file_k(reference_file: str, corpus: list[str]) -> None:
    """CONTINUE (every match, joined by libmagic's escaped newline and a
    dash, ``\\012- ``) equals `file -k -b`."""
    with Cookie(Flags.CONTINUE) as cookie:
        answers = {p: cookie.file(p) for p in corpus}
    several = [p for p, a in answers.items() if "\\012- " in a][:12]
    assert several, "no corpus file had a second match"
    sample = several + corpus[::40]
    assert [answers[p] for p in sample] == [file_brief(reference_file, p, "-k") for p in sample]


def test_symlink_flag(reference_file: str, tmp_path: Path) -> None:
    """Without SYMLINK a link is described; with it, its target (`file -L`)."""
    link = tmp_path / "link"
    link.symlink_to("/bin/ls")
    with Cookie() as plain, Cookie(Flags.SYMLINK) as follow:
        assert plain.file(link) == file_brief(reference_file, link) == "symbolic link to /bin/ls"
        assert follow.file(link) == file_brief(reference_file, link, "-L")
        assert follow.file(link).startswith("ELF")


def test_devices_flag(reference_file: str) -> None:
    """A device is described, or read with DEVICES (`file -s`)."""
    with Cookie() as plain, Cookie(Flags.DEVICES) as devices:
        assert plain.file("/dev/null") == file_brief(reference_file, "/dev/null")
        assert devices.file("/dev/null") == file_brief(reference_file, "/dev/null", "-s") == "empty"
