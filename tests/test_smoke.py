"""The package imports and answers like the reference file(1)."""

from __future__ import annotations

import magicguard
from conftest import file_brief


def test_version_is_the_linked_library() -> None:
    """libmagic_version() is magic_version(): 547 for the bundled build."""
    version = magicguard.libmagic_version()
    assert version == 547 if magicguard.BUNDLED_LIBMAGIC else version >= 540


def test_file_matches_reference(reference_file: str) -> None:
    """Cookie().file on /bin/ls equals `file -b /bin/ls` of the same libmagic."""
    with magicguard.Cookie() as cookie:
        assert cookie.file("/bin/ls") == file_brief(reference_file, "/bin/ls")
