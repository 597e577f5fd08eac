"""libmagic's flags and params as enums, with values taken from <magic.h>.

Each value comes from the C header magicguard was built against, read by the
compiler, never retyped.  Flags that this build's libmagic does not define
are 0 (a no-op, as <magic.h> does for ``MAGIC_NO_CHECK_FORTRAN``); params it
does not define are negative and refused before they reach libmagic.  The
``file(1)`` option each one corresponds to is named in its docstring.
"""

from __future__ import annotations

import enum

from ._lowlevel import SIZE_MAX, constant

__all__ = ["PARAM_LIMITS", "Flags", "Param"]


class Flags(enum.IntFlag):
    """libmagic's ``MAGIC_*`` flags: what to report and which tests to run."""

    NONE = constant("MAGIC_NONE")
    """``MAGIC_NONE``: no flags; a textual description."""
    DEBUG = constant("MAGIC_DEBUG")
    """``MAGIC_DEBUG``: print debugging messages to stderr (``file -d``)."""
    SYMLINK = constant("MAGIC_SYMLINK")
    """``MAGIC_SYMLINK``: follow symbolic links (``file -L``)."""
    COMPRESS = constant("MAGIC_COMPRESS")
    """``MAGIC_COMPRESS``: look inside compressed files (``file -z``).

    The bundled libmagic decompresses gzip, bzip2, xz/lzma and zstd
    in-process (zlib, bzip2, liblzma and zstd are built in) and never starts a
    program: other compressed formats (compress ``.Z``, lz4, lzip, ...) are
    identified as the compressed data they are.  At most ``Param.BYTES_MAX``
    bytes are inflated, which bounds a decompression bomb (docs/safety.md
    section 7).  A system libmagic may instead run the decompressor found on
    ``$PATH`` in a child process; add ``NO_COMPRESS_FORK`` to forbid that.
    """
    DEVICES = constant("MAGIC_DEVICES")
    """``MAGIC_DEVICES``: read block and character devices (``file -s``)."""
    MIME_TYPE = constant("MAGIC_MIME_TYPE")
    """``MAGIC_MIME_TYPE``: a MIME type such as ``text/plain`` (``file --mime-type``)."""
    CONTINUE = constant("MAGIC_CONTINUE")
    """``MAGIC_CONTINUE``: every match, not just the first (``file -k``), joined by ``\\012- ``."""
    CHECK = constant("MAGIC_CHECK")
    """``MAGIC_CHECK``: print warnings about the database to stderr (``file -c``)."""
    PRESERVE_ATIME = constant("MAGIC_PRESERVE_ATIME")
    """``MAGIC_PRESERVE_ATIME``: restore a file's access time (``file -p``)."""
    RAW = constant("MAGIC_RAW")
    """``MAGIC_RAW``: don't escape unprintable characters (``file -r``)."""
    ERROR = constant("MAGIC_ERROR")
    """``MAGIC_ERROR``: OS errors are errors, not descriptions (``file -E``)."""
    MIME_ENCODING = constant("MAGIC_MIME_ENCODING")
    """``MAGIC_MIME_ENCODING``: a MIME encoding such as ``us-ascii`` (``file --mime-encoding``)."""
    MIME = constant("MAGIC_MIME")
    """``MAGIC_MIME``: ``MIME_TYPE | MIME_ENCODING`` (``file -i``)."""
    APPLE = constant("MAGIC_APPLE")
    """``MAGIC_APPLE``: the Apple creator and type (``file --apple``)."""
    EXTENSION = constant("MAGIC_EXTENSION")
    """``MAGIC_EXTENSION``: a slash-separated list of extensions (``file --extension``)."""
    COMPRESS_TRANSP = constant("MAGIC_COMPRESS_TRANSP")
    """``MAGIC_COMPRESS_TRANSP``: with ``COMPRESS``, report what is inside without the compression
    (``file -Z`` sets both)."""
    NO_COMPRESS_FORK = constant("MG_NO_COMPRESS_FORK")
    """``MAGIC_NO_COMPRESS_FORK``: never start a decompressor process (libmagic >= 5.44).

    The bundled libmagic never starts one anyway, and keeps its built-in
    decompressors under this flag (a system 5.44-5.47 refuses them with "Fork
    is required to uncompress, but disabled")."""
    NODESC = constant("MAGIC_NODESC")
    """``MAGIC_NODESC``: ``EXTENSION | MIME | APPLE``."""
    NO_CHECK_COMPRESS = constant("MAGIC_NO_CHECK_COMPRESS")
    """``MAGIC_NO_CHECK_COMPRESS``: skip compressed files (``file -e compress``)."""
    NO_CHECK_TAR = constant("MAGIC_NO_CHECK_TAR")
    """``MAGIC_NO_CHECK_TAR``: skip tar archives (``file -e tar``)."""
    NO_CHECK_SOFT = constant("MAGIC_NO_CHECK_SOFT")
    """``MAGIC_NO_CHECK_SOFT``: skip the magic database (``file -e soft``)."""
    NO_CHECK_APPTYPE = constant("MAGIC_NO_CHECK_APPTYPE")
    """``MAGIC_NO_CHECK_APPTYPE``: skip EMX application types (``file -e apptype``)."""
    NO_CHECK_ELF = constant("MAGIC_NO_CHECK_ELF")
    """``MAGIC_NO_CHECK_ELF``: skip ELF details (``file -e elf``)."""
    NO_CHECK_TEXT = constant("MAGIC_NO_CHECK_TEXT")
    """``MAGIC_NO_CHECK_TEXT``: skip text files (``file -e text``); alias ``NO_CHECK_ASCII``."""
    NO_CHECK_CDF = constant("MAGIC_NO_CHECK_CDF")
    """``MAGIC_NO_CHECK_CDF``: skip Composite Document Files (``file -e cdf``)."""
    NO_CHECK_CSV = constant("MAGIC_NO_CHECK_CSV")
    """``MAGIC_NO_CHECK_CSV``: skip CSV files (``file -e csv``)."""
    NO_CHECK_TOKENS = constant("MAGIC_NO_CHECK_TOKENS")
    """``MAGIC_NO_CHECK_TOKENS``: skip known tokens in text (``file -e tokens``)."""
    NO_CHECK_ENCODING = constant("MAGIC_NO_CHECK_ENCODING")
    """``MAGIC_NO_CHECK_ENCODING``: skip text encodings (``file -e encoding``)."""
    NO_CHECK_JSON = constant("MAGIC_NO_CHECK_JSON")
    """``MAGIC_NO_CHECK_JSON``: skip JSON files (``file -e json``)."""
    NO_CHECK_SIMH = constant("MG_NO_CHECK_SIMH")
    """``MAGIC_NO_CHECK_SIMH``: skip SIMH tape files (``file -e simh``; libmagic >= 5.45, else 0)."""
    NO_CHECK_BUILTIN = constant("MAGIC_NO_CHECK_BUILTIN")
    """``MAGIC_NO_CHECK_BUILTIN``: every ``NO_CHECK_*`` but ``SOFT``: only the database."""
    NO_CHECK_ASCII = constant("MAGIC_NO_CHECK_ASCII")
    """``MAGIC_NO_CHECK_ASCII``: the old name of ``NO_CHECK_TEXT``."""
    NO_CHECK_FORTRAN = constant("MAGIC_NO_CHECK_FORTRAN")
    """``MAGIC_NO_CHECK_FORTRAN``: 0 in <magic.h>; kept for old code."""
    NO_CHECK_TROFF = constant("MAGIC_NO_CHECK_TROFF")
    """``MAGIC_NO_CHECK_TROFF``: 0 in <magic.h>; kept for old code."""


class Param(enum.IntEnum):
    """libmagic's ``MAGIC_PARAM_*`` limits, for ``Cookie.getparam``/``setparam``.

    A negative value marks a param this build's libmagic does not define
    (csrc/capabilities.h gives each its own: -1, -2, ...).
    """

    INDIR_MAX = constant("MAGIC_PARAM_INDIR_MAX")
    """``MAGIC_PARAM_INDIR_MAX``: how deep indirect magic may recurse (``file -P indir``)."""
    NAME_MAX = constant("MAGIC_PARAM_NAME_MAX")
    """``MAGIC_PARAM_NAME_MAX``: how many named-rule uses a file may take (``file -P name``)."""
    ELF_PHNUM_MAX = constant("MAGIC_PARAM_ELF_PHNUM_MAX")
    """``MAGIC_PARAM_ELF_PHNUM_MAX``: ELF program headers processed (``file -P elf_phnum``)."""
    ELF_SHNUM_MAX = constant("MAGIC_PARAM_ELF_SHNUM_MAX")
    """``MAGIC_PARAM_ELF_SHNUM_MAX``: ELF section headers processed (``file -P elf_shnum``)."""
    ELF_NOTES_MAX = constant("MAGIC_PARAM_ELF_NOTES_MAX")
    """``MAGIC_PARAM_ELF_NOTES_MAX``: ELF notes processed (``file -P elf_notes``)."""
    REGEX_MAX = constant("MAGIC_PARAM_REGEX_MAX")
    """``MAGIC_PARAM_REGEX_MAX``: bytes a regex test scans (``file -P regex``)."""
    BYTES_MAX = constant("MAGIC_PARAM_BYTES_MAX")
    """``MAGIC_PARAM_BYTES_MAX``: bytes read from a file (``file -P bytes``)."""
    ENCODING_MAX = constant("MAGIC_PARAM_ENCODING_MAX")
    """``MAGIC_PARAM_ENCODING_MAX``: bytes scanned to guess a text encoding (``file -P encoding``)."""
    ELF_SHSIZE_MAX = constant("MG_PARAM_ELF_SHSIZE_MAX")
    """``MAGIC_PARAM_ELF_SHSIZE_MAX``: the largest ELF section processed (``file -P elf_shsize``)."""
    MAGWARN_MAX = constant("MG_PARAM_MAGWARN_MAX")
    """``MAGIC_PARAM_MAGWARN_MAX``: database warnings printed before giving up (``file -P magwarn``)."""

    @property
    def supported(self) -> bool:
        """Whether this build's libmagic defines the param."""
        return self.value >= 0


#: The largest value libmagic stores for each param.  libmagic keeps most of
#: them in 16-bit fields and would silently truncate a larger value
#: (``struct magic_set`` in src/file.h); magicguard refuses it instead.
PARAM_LIMITS: dict[Param, int] = {
    p: (SIZE_MAX if p in (Param.BYTES_MAX, Param.ENCODING_MAX, Param.ELF_SHSIZE_MAX) else 0xFFFF)
    for p in Param
}
