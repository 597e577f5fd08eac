"""libmagic's flag bits and param numbers, as the command line uses them: plain ints.

The same values as :class:`magicguard.Flags` and :class:`magicguard.Param`
(both read from <magic.h> through ``_lowlevel.constant``), under the same
names, but class attributes rather than enum members: creating those two
enum classes costs ~6M instructions, a sixth of a one-file run's budget
(bench/RESULTS.md, "CLI start-up").  tests/test_cli_constants.py checks
that every name here has the enum's value.
"""

from __future__ import annotations

from .._lowlevel import constant

__all__ = ["Flags", "Param"]


class Flags:
    """The ``MAGIC_*`` flag bits file(1)'s options set."""

    __slots__ = ()
    DEBUG = constant("MAGIC_DEBUG")
    SYMLINK = constant("MAGIC_SYMLINK")
    COMPRESS = constant("MAGIC_COMPRESS")
    DEVICES = constant("MAGIC_DEVICES")
    MIME_TYPE = constant("MAGIC_MIME_TYPE")
    CONTINUE = constant("MAGIC_CONTINUE")
    CHECK = constant("MAGIC_CHECK")
    PRESERVE_ATIME = constant("MAGIC_PRESERVE_ATIME")
    RAW = constant("MAGIC_RAW")
    ERROR = constant("MAGIC_ERROR")
    MIME_ENCODING = constant("MAGIC_MIME_ENCODING")
    MIME = constant("MAGIC_MIME")
    APPLE = constant("MAGIC_APPLE")
    EXTENSION = constant("MAGIC_EXTENSION")
    COMPRESS_TRANSP = constant("MAGIC_COMPRESS_TRANSP")
    NODESC = constant("MAGIC_NODESC")
    NO_CHECK_COMPRESS = constant("MAGIC_NO_CHECK_COMPRESS")
    NO_CHECK_TAR = constant("MAGIC_NO_CHECK_TAR")
    NO_CHECK_SOFT = constant("MAGIC_NO_CHECK_SOFT")
    NO_CHECK_APPTYPE = constant("MAGIC_NO_CHECK_APPTYPE")
    NO_CHECK_ELF = constant("MAGIC_NO_CHECK_ELF")
    NO_CHECK_TEXT = constant("MAGIC_NO_CHECK_TEXT")
    NO_CHECK_CDF = constant("MAGIC_NO_CHECK_CDF")
    NO_CHECK_CSV = constant("MAGIC_NO_CHECK_CSV")
    NO_CHECK_TOKENS = constant("MAGIC_NO_CHECK_TOKENS")
    NO_CHECK_ENCODING = constant("MAGIC_NO_CHECK_ENCODING")
    NO_CHECK_JSON = constant("MAGIC_NO_CHECK_JSON")
    NO_CHECK_SIMH = constant("MG_NO_CHECK_SIMH")


class Param:
    """The ``MAGIC_PARAM_*`` numbers of ``-P``'s limits (negative: not in this build)."""

    __slots__ = ()
    INDIR_MAX = constant("MAGIC_PARAM_INDIR_MAX")
    NAME_MAX = constant("MAGIC_PARAM_NAME_MAX")
    ELF_PHNUM_MAX = constant("MAGIC_PARAM_ELF_PHNUM_MAX")
    ELF_SHNUM_MAX = constant("MAGIC_PARAM_ELF_SHNUM_MAX")
    ELF_NOTES_MAX = constant("MAGIC_PARAM_ELF_NOTES_MAX")
    REGEX_MAX = constant("MAGIC_PARAM_REGEX_MAX")
    BYTES_MAX = constant("MAGIC_PARAM_BYTES_MAX")
    ENCODING_MAX = constant("MAGIC_PARAM_ENCODING_MAX")
    ELF_SHSIZE_MAX = constant("MG_PARAM_ELF_SHSIZE_MAX")
    MAGWARN_MAX = constant("MG_PARAM_MAGWARN_MAX")
