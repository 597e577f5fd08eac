"""How the command line prints: names, padding, result lines, JSON (internal).

file(1) prints a file name the way the C library sees it in the current
``LC_CTYPE`` locale: each character the locale calls printable is copied, every
other character and every byte that does not decode is written as a
backslash and three octal digits; with ``-r`` the name is copied as it is.
Padding counts display columns (``wcwidth``), 4 for an escaped byte.  To
agree with file(1) on every name, this module asks the same C library
(``iswprint``, ``wcwidth``) through :mod:`ctypes` and decodes with the
locale's own codec, so a UTF-8 locale, the C locale and a wide CJK name all
come out as file(1) prints them.
"""

from __future__ import annotations

import codecs
import ctypes
import ctypes.util
import functools
import json
import locale
import unicodedata
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["NameStyle", "Result", "json_line", "locale_name_style"]

# Bytes file(1) always copies and counts as one column (printable ASCII).
_PLAIN = bytes(range(0x20, 0x7F))


def _load_libc() -> Optional[ctypes.CDLL]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.iswprint.argtypes = [ctypes.c_uint32]
        libc.iswprint.restype = ctypes.c_int
        libc.wcwidth.argtypes = [ctypes.c_int32]
        libc.wcwidth.restype = ctypes.c_int
    except (OSError, AttributeError):  # pragma: no cover - no C library to ask
        return None
    return libc


_LIBC = _load_libc()


@functools.lru_cache(maxsize=4096)
def _char_info(code: int) -> tuple[bool, int]:
    """(printable, columns) of one character in the current locale.

    Asked of the C library, as file(1) does; without one (an unusual
    platform), Python's Unicode tables give a close answer.
    """
    if _LIBC is not None:
        return bool(_LIBC.iswprint(code)), int(_LIBC.wcwidth(code))
    char = chr(code)  # pragma: no cover - fallback without a C library
    printable = char.isprintable() or char == " "  # pragma: no cover
    wide = unicodedata.east_asian_width(char) in ("W", "F")  # pragma: no cover
    return printable, (2 if wide else 1) if printable else -1  # pragma: no cover


def _octal(byte: int) -> bytes:
    return b"\\%03o" % byte


@dataclass(frozen=True)
class NameStyle:
    """Prints and measures file names for one locale codec and ``-r`` setting."""

    codec: str
    raw: bool

    @functools.lru_cache(maxsize=None)
    def _decoder(self) -> Callable[[bytes], str]:
        info = codecs.lookup(self.codec)
        return lambda data: info.decode(data, "surrogateescape")[0]

    def _pieces(self, name: bytes) -> list[tuple[bytes, int]]:
        """Split a name into (bytes to print, columns) per character."""
        decode = self._decoder()
        pieces: list[tuple[bytes, int]] = []
        encode = codecs.lookup(self.codec).encode
        for char in decode(name):
            code = ord(char)
            if 0xDC80 <= code <= 0xDCFF:
                # A byte the locale cannot decode: always 4 columns.
                byte = code - 0xDC00
                pieces.append((bytes([byte]) if self.raw else _octal(byte), 4))
                continue
            printable, columns = _char_info(code)
            original = encode(char)[0]
            if printable or self.raw:
                pieces.append((original, columns if columns > 0 else 1))
            else:
                pieces.append((_octal(code & 0xFF), 4))
        return pieces

    def width(self, name: bytes) -> int:
        """Display columns of ``name`` as file(1) counts them for padding."""
        if not name.translate(None, _PLAIN):
            return len(name)
        return sum(columns for _, columns in self._pieces(name))

    def render(self, name: bytes) -> bytes:
        """``name`` as file(1) prints it (escaped unless raw)."""
        if self.raw or not name.translate(None, _PLAIN):
            return name
        return b"".join(text for text, _ in self._pieces(name))


def locale_name_style(raw: bool) -> NameStyle:
    """The name style of the current ``LC_CTYPE`` locale (Python sets it at start)."""
    try:
        codeset = locale.nl_langinfo(locale.CODESET)
        codec = codecs.lookup(codeset).name if codeset else "ascii"
    except (AttributeError, LookupError):  # pragma: no cover - exotic platforms
        codec = "utf-8"
    return NameStyle(codec, raw)


@dataclass(frozen=True)
class Result:
    """libmagic's answer for one name.

    ``text`` is the description (or MIME string, per the flags) when libmagic
    answered; ``error`` is ``magic_error()`` when it returned NULL, or the
    reason a directory could not be walked.  ``mime`` is filled for --json.
    """

    name: bytes
    text: Optional[bytes] = None
    error: Optional[bytes] = None
    mime: Optional[bytes] = None


def _decode(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else data.decode("utf-8", "surrogateescape")


def json_line(result: Result) -> bytes:
    """One JSON object for ``result``, newline-terminated.

    Keys, always all present: ``name`` (as given, or as found by -R),
    ``description``, ``mime_type``, ``encoding`` and ``error`` (null unless
    libmagic failed).  Names and texts that are not UTF-8 are decoded with
    ``surrogateescape``, so ``os.fsencode(json.loads(line)["name"])`` gives the
    original bytes back; the output itself is plain ASCII.
    """
    mime_type: Optional[str] = None
    encoding: Optional[str] = None
    if result.mime is not None:
        mime = _decode(result.mime)
        assert mime is not None
        mime_type, sep, charset = mime.partition("; charset=")
        encoding = charset if sep else None
    record = {
        "name": _decode(result.name),
        "description": _decode(result.text),
        "mime_type": mime_type,
        "encoding": encoding,
        "error": _decode(result.error),
    }
    return json.dumps(record, ensure_ascii=True).encode("ascii") + b"\n"
