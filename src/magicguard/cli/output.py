"""How the command line prints: names, padding, result lines, JSON (internal).

file(1) prints a file name the way the C library sees it in the current
``LC_CTYPE`` locale: each character the locale calls printable is copied, every
other character and every byte that does not decode is written as a
backslash and three octal digits; with ``-r`` the name is copied as it is.
Padding counts display columns (``wcwidth``), 4 for an escaped byte.  To
agree with file(1) on every name, this module asks the same C library
(``iswprint``, ``wcwidth``, through the extension's csrc/mg_wchar.c) and
decodes with the locale's own codec, so a UTF-8 locale, the C locale and a
wide CJK name all come out as file(1) prints them.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys

from .. import _lowlevel
from .record import Record

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import BinaryIO, Optional

__all__ = ["LineFormat", "NameStyle", "Result", "Writer", "json_line", "line", "locale_name_style",
           "split_mime", "stdout"]

# Bytes file(1) always copies and counts as one column (printable ASCII).
_PLAIN = bytes(range(0x20, 0x7F))

# A dict rather than functools.lru_cache: without `re` (which a console
# script may or may not import) functools costs ~10M instructions to import.
_char_infos: dict[int, tuple[bool, int]] = {}


def _char_info(code: int) -> tuple[bool, int]:
    """(printable, columns) of one character in the current locale, as file(1)
    asks the C library (``iswprint``, ``wcwidth``); remembered, up to 4,096."""
    info = _char_infos.get(code)
    if info is None:
        if len(_char_infos) >= 4096:
            _char_infos.clear()
        info = _char_infos[code] = _lowlevel.char_info(code)
    return info


def _octal(byte: int) -> bytes:
    return b"\\%03o" % byte


class NameStyle(Record):
    """Prints and measures file names for one locale codec and ``-r`` setting."""

    __slots__ = ("codec", "raw")
    codec: str
    raw: bool

    def __init__(self, codec: str, raw: bool) -> None:
        self.codec = codec
        self.raw = raw

    def _pieces(self, name: bytes) -> list[tuple[bytes, int]]:
        """Split a name into (bytes to print, columns) per character."""
        codec = codecs.lookup(self.codec)  # the registry remembers it
        pieces: list[tuple[bytes, int]] = []
        encode = codec.encode
        for char in codec.decode(name, "surrogateescape")[0]:
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
        # The C module: locale.py would import re and the alias tables.
        import _locale

        codeset = _locale.nl_langinfo(_locale.CODESET)
        codec = codecs.lookup(codeset).name if codeset else "ascii"
    except (ImportError, AttributeError, LookupError):  # pragma: no cover - exotic platforms
        codec = "utf-8"
    return NameStyle(codec, raw)


class Result(Record):
    """libmagic's answer for one name.

    ``text`` is the description (or MIME string, per the flags) when libmagic
    answered; ``error`` is ``magic_error()`` when it returned NULL, or the
    reason a directory could not be walked.  ``mime`` is filled for --json.
    """

    __slots__ = ("error", "mime", "name", "text")
    name: bytes
    text: Optional[bytes]
    error: Optional[bytes]
    mime: Optional[bytes]

    def __init__(self, name: bytes, text: Optional[bytes] = None, error: Optional[bytes] = None,
                 mime: Optional[bytes] = None) -> None:
        self.name = name
        self.text = text
        self.error = error
        self.mime = mime


def split_mime(mime: bytes) -> tuple[bytes, Optional[bytes]]:
    """(MIME type, charset) from libmagic's MIME answer.

    The answer is ``type/subtype; charset=NAME``, with ``-z`` followed by
    `` compressed-encoding=type/subtype; charset=NAME`` for the contents of
    the compressed file, and with ``-k`` more answers after ``\\012- `` (``\\n- `` with ``-r``).
    The type is what precedes the first ``;``; the encoding is the first
    ``charset=`` parameter's value alone (None if there is none).
    """
    first = mime.split(b"\\012- ", 1)[0].split(b"\n- ", 1)[0]
    mime_type, sep, params = first.partition(b";")
    if not sep:
        return mime_type.strip(), None
    for word in params.replace(b";", b" ").split():
        if word.startswith(b"charset="):
            return mime_type.strip(), word[len(b"charset="):]
    return mime_type.strip(), None


def _text_fields(record: dict[str, object], key: str, data: Optional[bytes]) -> None:
    """``record[key]``: ``data`` as text; plus ``key + "_base64"`` when it is not UTF-8.

    The text field is always valid Unicode (undecodable bytes become
    U+FFFD), so any strict JSON reader takes the line; the base64 field, as
    in ripgrep's JSON, carries the exact bytes whenever the text cannot.
    """
    if data is None:
        record[key] = None
        return
    try:
        record[key] = data.decode("utf-8")
    except UnicodeDecodeError:
        record[key] = data.decode("utf-8", "replace")
        import binascii

        record[key + "_base64"] = binascii.b2a_base64(data, newline=False).decode("ascii")


def json_line(result: Result) -> bytes:
    """One JSON object for ``result``, newline-terminated UTF-8.

    Keys, always present: ``name`` (as given, or as found by -R),
    ``description``, ``mime_type``, ``encoding`` and ``error`` (null unless
    the input could not be examined).  A name or text that is not valid
    UTF-8 is written with U+FFFD in its place and, beside it, the exact
    bytes in ``<key>_base64`` (only then).  See docs/cli.md.
    """
    import json

    mime_type: Optional[bytes] = None
    encoding: Optional[bytes] = None
    if result.mime is not None:
        mime_type, encoding = split_mime(result.mime)
    record: dict[str, object] = {}
    _text_fields(record, "name", result.name)
    _text_fields(record, "description", result.text)
    _text_fields(record, "mime_type", mime_type)
    _text_fields(record, "encoding", encoding)
    _text_fields(record, "error", result.error)
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


class LineFormat(Record):
    """The output settings a batch of names is printed with.

    file(1) reads them when it prints, so a ``-f`` list is printed with the
    options given before it; this is a snapshot taken at that point.
    """

    __slots__ = ("brief", "json", "no_pad", "nul", "separator", "style")
    brief: bool
    no_pad: bool
    nul: int
    separator: bytes
    json: bool
    style: NameStyle

    def __init__(self, brief: bool, no_pad: bool, nul: int, separator: bytes, json: bool,
                 style: NameStyle) -> None:
        self.brief = brief
        self.no_pad = no_pad
        self.nul = nul
        self.separator = separator
        self.json = json
        self.style = style


class Writer:
    """Bytes to standard output, flushed per line with -n."""

    def __init__(self, stream: BinaryIO, unbuffered: bool) -> None:
        self.stream = stream
        self.unbuffered = unbuffered

    def write(self, data: bytes) -> None:
        """Write ``data``; flush it at once with ``-n``."""
        self.stream.write(data)
        if self.unbuffered:
            self.stream.flush()


class _Closed(io.RawIOBase):
    """Standard output when there is none (``>&-``): every write fails,
    as file(1)'s printf() does, and the run ends with status 1."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


def stdout() -> BinaryIO:
    """Standard output as bytes, or a stream whose every write fails when there is none."""
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        return _Closed()  # type: ignore[return-value]  # a RawIOBase whose writes fail
    return stream  # type: ignore[no-any-return]  # sys.stdout is typed TextIO


def line(result: Result, width: int, fmt: LineFormat) -> bytes:
    """One answer as file(1) prints it."""
    parts: list[bytes] = []
    if width > 0 and not fmt.brief:
        shown = b"/dev/stdin" if result.name == b"-" else result.name
        parts.append(fmt.style.render(shown))
        if fmt.nul:
            parts.append(b"\0")
        if fmt.nul < 2:
            parts.append(fmt.separator)
            pad = 0 if fmt.no_pad else max(0, width - fmt.style.width(result.name))
            parts.append(b" " * (pad + 1))
    end = b"\0" if fmt.nul > 1 else b"\n"
    if result.error is not None:
        parts.append(b"ERROR: " + result.error + end)
    else:
        parts.append((result.text or b"") + end)
    return b"".join(parts)

