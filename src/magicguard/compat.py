"""A drop-in for python-magic 0.4.27: switching is a one-line change.

>>> from magicguard import compat as magic          # was: import magic
>>> magic.from_buffer(b"%PDF-1.7\\n")
'PDF document, version 1.7'
>>> magic.Magic(mime=True).from_buffer(b"%PDF-1.7\\n")
'application/pdf'

This module has python-magic's public API -- ``from_file``, ``from_buffer``,
``from_descriptor``, ``Magic`` (with ``from_file``, ``from_buffer``,
``from_descriptor``, ``setparam``, ``getparam``), ``MagicException``,
``version()`` and the ``MAGIC_*`` / ``MAGIC_PARAM_*`` constants -- with its
behaviour: the same answers (libmagic's own text, decoded the way
python-magic decodes it), the same coercions (``str`` buffers encoded as
UTF-8; ``str``, ``bytes`` and ``os.PathLike`` file names) and the same
exceptions (``OSError`` for a file ``open()`` refuses, ``MagicException``
for a database that does not load -- from ``magic_file=`` or ``$MAGIC`` --
and for whatever libmagic refuses).

It is built on ``magicguard.Cookie`` and differs where python-magic is unsafe
or wrong (each difference and its reason: ``docs/migrating.md``):

* the module-level functions use one handle per thread, so threads run in
  parallel instead of queueing on a shared, locked instance;
* ``from_buffer`` takes every bytes-like object (bytearray, memoryview,
  mmap, array, NumPy), zero-copy;
* ``MAGIC_MIME`` is ``<magic.h>``'s 0x410 (MIME type *and* encoding), not
  0x10; ``MAGIC_NO_CHECK_TROFF``/``FORTRAN`` are ``<magic.h>``'s 0;
* ``MAGIC_PARAM_NAME_MAX`` is raised to 64 when libmagic's default is lower,
  never lowered (python-magic forces 64, below the bundled libmagic 5.47's
  150);
* a value ``setparam`` would truncate is refused (``ValueError``);
* a file name ``from_file`` cannot use is a ``TypeError`` (an ``int`` is
  never taken for a descriptor and closed), a named pipe is a ``ValueError``
  instead of a hang, a negative descriptor is a ``MagicException`` instead
  of an answer about no data.

Length (over ~450 lines): python-magic's whole public surface, quirk by
quirk, each with the reason it is reproduced or refused.
"""

from __future__ import annotations

import errno as _errno
import os
import stat
import threading
from typing import Any, Optional, Union

from . import _lowlevel
from .cookie import Buffer, Cookie
from .errors import MagicError
from .flags import Flags, Param

__all__ = [
    "MAGIC_APPLE",
    "MAGIC_CHECK",
    "MAGIC_COMPRESS",
    "MAGIC_COMPRESS_TRANSP",
    "MAGIC_CONTINUE",
    "MAGIC_DEBUG",
    "MAGIC_DEVICES",
    "MAGIC_ERROR",
    "MAGIC_EXTENSION",
    "MAGIC_MIME",
    "MAGIC_MIME_ENCODING",
    "MAGIC_MIME_TYPE",
    "MAGIC_NODESC",
    "MAGIC_NONE",
    "MAGIC_NO_CHECK_APPTYPE",
    "MAGIC_NO_CHECK_ASCII",
    "MAGIC_NO_CHECK_BUILTIN",
    "MAGIC_NO_CHECK_CDF",
    "MAGIC_NO_CHECK_COMPRESS",
    "MAGIC_NO_CHECK_CSV",
    "MAGIC_NO_CHECK_ELF",
    "MAGIC_NO_CHECK_ENCODING",
    "MAGIC_NO_CHECK_FORTRAN",
    "MAGIC_NO_CHECK_JSON",
    "MAGIC_NO_CHECK_SIMH",
    "MAGIC_NO_CHECK_SOFT",
    "MAGIC_NO_CHECK_TAR",
    "MAGIC_NO_CHECK_TEXT",
    "MAGIC_NO_CHECK_TOKENS",
    "MAGIC_NO_CHECK_TROFF",
    "MAGIC_NO_COMPRESS_FORK",
    "MAGIC_PARAM_BYTES_MAX",
    "MAGIC_PARAM_ELF_NOTES_MAX",
    "MAGIC_PARAM_ELF_PHNUM_MAX",
    "MAGIC_PARAM_ELF_SHNUM_MAX",
    "MAGIC_PARAM_ELF_SHSIZE_MAX",
    "MAGIC_PARAM_ENCODING_MAX",
    "MAGIC_PARAM_INDIR_MAX",
    "MAGIC_PARAM_MAGWARN_MAX",
    "MAGIC_PARAM_NAME_MAX",
    "MAGIC_PARAM_REGEX_MAX",
    "MAGIC_PRESERVE_ATIME",
    "MAGIC_RAW",
    "MAGIC_SYMLINK",
    "Magic",
    "MagicException",
    "from_buffer",
    "from_descriptor",
    "from_file",
    "version",
]

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
"""What python-magic takes as a file name: ``str``, ``bytes`` or ``os.PathLike``."""

# -- constants -------------------------------------------------------------
# Values from <magic.h> (through magicguard.Flags / Param), never retyped.
# python-magic 0.4.27 hard-codes them; where its value is not the header's
# (MAGIC_MIME, MAGIC_NO_CHECK_TROFF, MAGIC_NO_CHECK_FORTRAN,
# MAGIC_NO_CHECK_BUILTIN) the header wins: see docs/migrating.md.

MAGIC_NONE: int = Flags.NONE.value
MAGIC_DEBUG: int = Flags.DEBUG.value
MAGIC_SYMLINK: int = Flags.SYMLINK.value
MAGIC_COMPRESS: int = Flags.COMPRESS.value
MAGIC_DEVICES: int = Flags.DEVICES.value
MAGIC_MIME_TYPE: int = Flags.MIME_TYPE.value
MAGIC_MIME_ENCODING: int = Flags.MIME_ENCODING.value
MAGIC_MIME: int = Flags.MIME.value
MAGIC_EXTENSION: int = Flags.EXTENSION.value
MAGIC_CONTINUE: int = Flags.CONTINUE.value
MAGIC_CHECK: int = Flags.CHECK.value
MAGIC_PRESERVE_ATIME: int = Flags.PRESERVE_ATIME.value
MAGIC_RAW: int = Flags.RAW.value
MAGIC_ERROR: int = Flags.ERROR.value
MAGIC_APPLE: int = Flags.APPLE.value
MAGIC_COMPRESS_TRANSP: int = Flags.COMPRESS_TRANSP.value
MAGIC_NO_COMPRESS_FORK: int = Flags.NO_COMPRESS_FORK.value
MAGIC_NODESC: int = Flags.NODESC.value

MAGIC_NO_CHECK_COMPRESS: int = Flags.NO_CHECK_COMPRESS.value
MAGIC_NO_CHECK_TAR: int = Flags.NO_CHECK_TAR.value
MAGIC_NO_CHECK_SOFT: int = Flags.NO_CHECK_SOFT.value
MAGIC_NO_CHECK_APPTYPE: int = Flags.NO_CHECK_APPTYPE.value
MAGIC_NO_CHECK_ELF: int = Flags.NO_CHECK_ELF.value
MAGIC_NO_CHECK_TEXT: int = Flags.NO_CHECK_TEXT.value
MAGIC_NO_CHECK_ASCII: int = Flags.NO_CHECK_ASCII.value
MAGIC_NO_CHECK_CDF: int = Flags.NO_CHECK_CDF.value
MAGIC_NO_CHECK_CSV: int = Flags.NO_CHECK_CSV.value
MAGIC_NO_CHECK_TOKENS: int = Flags.NO_CHECK_TOKENS.value
MAGIC_NO_CHECK_ENCODING: int = Flags.NO_CHECK_ENCODING.value
MAGIC_NO_CHECK_JSON: int = Flags.NO_CHECK_JSON.value
MAGIC_NO_CHECK_SIMH: int = Flags.NO_CHECK_SIMH.value
MAGIC_NO_CHECK_BUILTIN: int = Flags.NO_CHECK_BUILTIN.value
MAGIC_NO_CHECK_TROFF: int = Flags.NO_CHECK_TROFF.value
MAGIC_NO_CHECK_FORTRAN: int = Flags.NO_CHECK_FORTRAN.value

MAGIC_PARAM_INDIR_MAX: int = Param.INDIR_MAX.value
MAGIC_PARAM_NAME_MAX: int = Param.NAME_MAX.value
MAGIC_PARAM_ELF_PHNUM_MAX: int = Param.ELF_PHNUM_MAX.value
MAGIC_PARAM_ELF_SHNUM_MAX: int = Param.ELF_SHNUM_MAX.value
MAGIC_PARAM_ELF_NOTES_MAX: int = Param.ELF_NOTES_MAX.value
MAGIC_PARAM_REGEX_MAX: int = Param.REGEX_MAX.value
MAGIC_PARAM_BYTES_MAX: int = Param.BYTES_MAX.value
MAGIC_PARAM_ENCODING_MAX: int = Param.ENCODING_MAX.value
MAGIC_PARAM_ELF_SHSIZE_MAX: int = Param.ELF_SHSIZE_MAX.value
MAGIC_PARAM_MAGWARN_MAX: int = Param.MAGWARN_MAX.value

#: The lowest ``MAGIC_PARAM_NAME_MAX`` a ``Magic`` runs with: python-magic
#: sets 64 to identify JPEGs with deep Exif data (ahupp/python-magic#190);
#: libmagic's own default is 50 up to 5.45, 100 in 5.46 and 150 from 5.47.
NAME_MAX_FLOOR = 64

#: libmagic's text when no database file loads (src/apprentice.c).
_NO_DATABASE = b"could not find any valid magic files!"


# -- exceptions ------------------------------------------------------------


class MagicException(MagicError):
    """What python-magic raises when libmagic fails.

    Also a ``magicguard.MagicError``, so code catching either works.

    Attributes:
        message: as in python-magic: libmagic's own error text as ``bytes``
            (e.g. ``b'could not find any valid magic files!'``), or ``None``
            when libmagic gave none.  ``str(exc)`` is the full explanation:
            the libmagic call, its text, errno and the path involved.
        errno, function, path, reason: as for ``magicguard.MagicError``.
    """

    # python-magic's ``message`` is bytes or None (a ctypes c_char_p result),
    # where MagicError's is str: the override is the point of this class.
    message: Any

    def __init__(
        self,
        message: Any = None,
        *,
        description: Optional[str] = None,
        errno: int = 0,
        function: Optional[str] = None,
        path: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> None:
        if description is None:
            if isinstance(message, bytes):
                description = message.decode("utf-8", "backslashreplace")
            else:
                description = "libmagic failed without saying why" if message is None else str(message)
        super().__init__(description, errno=errno, function=function, path=path, reason=reason)
        self.description = description
        self.message = message

    def __str__(self) -> str:
        return self.description

    @classmethod
    def _from(cls, exc: MagicError) -> MagicException:
        """The python-magic exception for a magicguard failure."""
        if isinstance(exc, MagicException):
            return exc
        text = exc.reason if exc.reason is not None else str(exc)
        return cls(text.encode("utf-8", "surrogateescape"), description=str(exc), errno=exc.errno,
                   function=exc.function, path=exc.path, reason=exc.reason)


# -- coercions -------------------------------------------------------------


def _text(result: str) -> str:
    """libmagic's answer decoded as python-magic decodes it.

    magicguard decodes with ``surrogateescape`` (lossless); python-magic with
    ``backslashreplace`` (a byte that is not UTF-8 becomes ``\\xNN``).  Only
    non-ASCII answers can differ, so ASCII ones are returned as they are.
    """
    if result.isascii():
        return result
    return result.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _path(filename: object, what: str) -> Union[str, bytes]:
    """A file name as ``open()`` takes it: ``str``, ``bytes`` or ``os.PathLike``."""
    if isinstance(filename, os.PathLike):
        filename = os.fspath(filename)
    if isinstance(filename, (str, bytes)):
        return filename
    hint = "; pass a descriptor to from_descriptor()" if isinstance(filename, int) else ""
    raise TypeError(f"{what} must be str, bytes or os.PathLike, not {type(filename).__name__}{hint}")


def _database(magic_file: object) -> Optional[list[str]]:
    """The database files to load, split as libmagic splits its path.

    ``None`` is libmagic's default database -- or ``$MAGIC`` when it is set,
    which libmagic reads itself only in the system build (the bundled build
    loads its own file).  A name is a colon-separated list, read up to its
    first empty entry (``file_apprentice`` in src/apprentice.c).
    """
    if magic_file is None:
        env = os.environ.get("MAGIC")
        if env is None:
            return None
        raw, source = os.fsencode(env), f"$MAGIC={env!r}"
    else:
        name = _path(magic_file, "magic_file")
        raw = os.fsencode(name)
        source = f"magic_file={name!r}"
    names: list[str] = []
    for part in raw.split(b":"):
        if not part:
            break
        names.append(os.fsdecode(part))
    if not names:
        raise MagicException(_NO_DATABASE, description=f"magic_load: {source} names no database file",
                             function="magic_load", reason=_NO_DATABASE.decode())
    return names


def _check_openable(path: Union[str, bytes]) -> None:
    """Raise what ``open(path)`` would raise, as python-magic does before
    asking libmagic -- but never block: a named pipe is opened non-blocking
    (``open()`` would wait for a writer)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    if is_dir:
        raise IsADirectoryError(_errno.EISDIR, os.strerror(_errno.EISDIR), path)


# -- the Magic class -------------------------------------------------------


class Magic:
    """python-magic's ``Magic``: one libmagic handle with its flags and database.

    Args:
        mime: answer with a MIME type (``MAGIC_MIME_TYPE``).
        magic_file: the database to load (a file name, or a colon-separated
            list of them); default: magicguard's bundled database, or
            ``$MAGIC`` when it is set.
        mime_encoding: answer with the MIME encoding (``MAGIC_MIME_ENCODING``;
            with ``mime`` too: ``"text/plain; charset=us-ascii"``).
        keep_going: every match, not just the first (``MAGIC_CONTINUE``).
        uncompress: look inside compressed files (``MAGIC_COMPRESS``).
        raw: don't escape unprintable characters (``MAGIC_RAW``).
        extension: the file type's extensions, slash-separated (``MAGIC_EXTENSION``).

    Raises:
        MagicException: the database did not load.
        TypeError: ``magic_file`` is not a file name.
        ValueError: ``magic_file`` contains a NUL byte.

    An instance serialises its own calls (as python-magic's does), so it may
    be shared between threads; the module-level functions give each thread
    its own.  ``close()`` (or ``with``) frees the handle at once.
    """

    def __init__(
        self,
        mime: bool = False,
        magic_file: Optional[PathArg] = None,
        mime_encoding: bool = False,
        keep_going: bool = False,
        uncompress: bool = False,
        raw: bool = False,
        extension: bool = False,
    ) -> None:
        flags = MAGIC_NONE
        if mime:
            flags |= MAGIC_MIME_TYPE
        if mime_encoding:
            flags |= MAGIC_MIME_ENCODING
        if keep_going:
            flags |= MAGIC_CONTINUE
        if uncompress:
            flags |= MAGIC_COMPRESS
        if raw:
            flags |= MAGIC_RAW
        if extension:
            flags |= MAGIC_EXTENSION
        self.flags: int = flags
        """The ``MAGIC_*`` flags the keywords chose."""
        database = _database(magic_file)
        try:
            cookie = Cookie(flags, database)
        except MagicError as exc:
            raise MagicException._from(exc) from exc
        self.cookie: Cookie = cookie
        """The ``magicguard.Cookie`` doing the work (python-magic: a ctypes pointer)."""
        if extension and version() < 524:
            raise NotImplementedError("MAGIC_EXTENSION is not supported in this version of libmagic")
        if cookie.getparam(Param.NAME_MAX) < NAME_MAX_FLOOR:
            cookie.setparam(Param.NAME_MAX, NAME_MAX_FLOOR)

    def _failed(self, exc: MagicError) -> str:
        """python-magic's handling of a failed libmagic call.

        libmagic may return NULL without an error message (python-magic's
        "509 bug", after libmagic 5.09): with ``mime`` that is
        ``application/octet-stream``.  Only a plain libmagic failure
        qualifies; a subclass (a trapped fault, say) always raises.
        """
        if (type(exc) is MagicError and exc.reason is None and exc.errno == 0
                and self.flags & MAGIC_MIME_TYPE):
            return "application/octet-stream"
        raise MagicException._from(exc) from exc

    def from_buffer(self, buf: Union[str, Buffer]) -> str:
        """Identify the contents of ``buf``.

        ``buf`` is any bytes-like object (bytes, bytearray, memoryview, mmap,
        array, NumPy array: read in place, not copied) or a ``str``, which is
        encoded as UTF-8 (unencodable characters become ``?``) as
        python-magic does.

        Raises:
            TypeError: ``buf`` is neither ``str`` nor bytes-like.
            MagicException: libmagic failed (or the memory faulted).
        """
        if isinstance(buf, str):
            buf = buf.encode("utf-8", errors="replace")
        try:
            return _text(self.cookie.buffer(buf))
        except MagicError as exc:
            return self._failed(exc)

    def from_file(self, filename: PathArg) -> str:
        """Identify the file named ``filename`` (``str``, ``bytes`` or ``os.PathLike``).

        A symbolic link is described as a link (``"symbolic link to ..."``).

        Raises:
            OSError: what ``open(filename)`` raises: ``FileNotFoundError``
                (also for a dangling link), ``PermissionError``,
                ``IsADirectoryError``, ...
            TypeError: ``filename`` is not a file name.
            ValueError: ``filename`` contains a NUL byte, or names a socket.
                A FIFO is answered at once (``"fifo (named pipe)"``), where
                python-magic waits in ``open()`` for a writer first.
            MagicException: libmagic failed.
        """
        path = _path(filename, "filename")
        _check_openable(path)
        try:
            return _text(self.cookie.file(os.fsdecode(path)))
        except MagicError as exc:
            return self._failed(exc)

    def from_descriptor(self, fd: int) -> str:
        """Identify the data readable from descriptor ``fd``.

        libmagic reads from the descriptor's current offset and seeks back;
        the descriptor is not closed.

        Raises:
            TypeError: ``fd`` is not an int.
            MagicException: ``fd`` is not an open, readable descriptor (a
                negative one included), or libmagic failed.
        """
        if not isinstance(fd, int):
            raise TypeError(f"fd must be an int, not {type(fd).__name__}")
        number = int(fd)
        if not 0 <= number <= 0x7FFFFFFF:
            # libmagic answers "empty" for -1 (it reads nothing): refuse it.
            raise MagicException(f"cannot read fd {number} (Bad file descriptor)".encode(),
                                 errno=_errno.EBADF, function="magic_descriptor")
        try:
            return _text(self.cookie.descriptor(number))
        except OSError as exc:
            # magicguard checks the descriptor before libmagic; python-magic
            # gets libmagic's refusal, a MagicException with this text.
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise MagicException(f"cannot read fd {number} ({reason})".encode(),
                                 errno=exc.errno or 0, function="magic_descriptor") from exc
        except MagicError as exc:
            return self._failed(exc)

    def setparam(self, param: int, val: int) -> int:
        """Set the libmagic limit ``param`` (a ``MAGIC_PARAM_*``) to ``val``.

        Returns 0, as python-magic does (libmagic's status; failures raise).

        Raises:
            MagicException: libmagic has no such param.
            TypeError: ``param`` or ``val`` is not an int.
            ValueError: ``val`` is negative or larger than libmagic stores
                (most params are 16-bit: python-magic lets libmagic truncate).
        """
        member = _param(param, "magic_setparam")
        if isinstance(val, bool):
            val = int(val)
        try:
            self.cookie.setparam(member, val)
        except MagicError as exc:
            raise MagicException._from(exc) from exc
        return 0

    def getparam(self, param: int) -> int:
        """The current value of the libmagic limit ``param`` (a ``MAGIC_PARAM_*``).

        Raises:
            MagicException: libmagic has no such param.
            TypeError: ``param`` is not an int.
        """
        member = _param(param, "magic_getparam")
        try:
            return self.cookie.getparam(member)
        except MagicError as exc:
            raise MagicException._from(exc) from exc

    # -- additions: python-magic has no way to free a handle --------------

    def close(self) -> None:
        """Free the libmagic handle now (python-magic waits for ``__del__``)."""
        self.cookie.close()

    def __enter__(self) -> Magic:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<magicguard.compat.Magic flags={self.flags:#x}>"


def _param(param: object, function: str) -> Param:
    """A ``MAGIC_PARAM_*`` value as ``Param``; libmagic's refusal if unknown."""
    if isinstance(param, bool) or not isinstance(param, int):
        raise TypeError(f"param must be an int (a MAGIC_PARAM_* constant), not {type(param).__name__}")
    try:
        member = Param(param)
    except ValueError:
        member = None
    if member is None or not member.supported:
        # libmagic fails with EINVAL and no message; python-magic raises
        # MagicException(None).
        raise MagicException(None, description=f"{function}: libmagic {version()} has no param {param}",
                             errno=_errno.EINVAL, function=function)
    return member


# -- module-level functions ------------------------------------------------


class _PerThread(threading.local):
    """Each thread's own ``Magic`` instances, keyed by ``mime``.

    python-magic shares one instance per ``mime`` value process-wide, whose
    lock makes every thread wait for the others; here each thread has its
    own handle, so threads identify in parallel (cffi releases the GIL).
    """

    def __init__(self) -> None:
        self.instances: dict[bool, Magic] = {}


_local = _PerThread()


def _get_magic_type(mime: bool) -> Magic:
    key = bool(mime)
    instance = _local.instances.get(key)
    if instance is None or instance.cookie.closed:
        instance = _local.instances[key] = Magic(mime=key)
    return instance


def from_file(filename: PathArg, mime: bool = False) -> str:
    """Identify the file named ``filename``: a description, or with
    ``mime=True`` a MIME type.  Same rules as ``Magic.from_file``.

    >>> from_file("/bin/sh", mime=True)  # doctest: +SKIP
    'application/x-pie-executable'
    """
    return _get_magic_type(mime).from_file(filename)


def from_buffer(buffer: Union[str, Buffer], mime: bool = False) -> str:
    """Identify bytes-like data (or a ``str``, encoded as UTF-8): a
    description, or with ``mime=True`` a MIME type.  Same rules as
    ``Magic.from_buffer``.

    >>> from_buffer(b"%PDF-1.7\\n", mime=True)
    'application/pdf'
    """
    return _get_magic_type(mime).from_buffer(buffer)


def from_descriptor(fd: int, mime: bool = False) -> str:
    """Identify the data readable from descriptor ``fd``: a description, or
    with ``mime=True`` a MIME type.  Same rules as ``Magic.from_descriptor``."""
    return _get_magic_type(mime).from_descriptor(fd)


def version() -> int:
    """The linked libmagic's version, e.g. 547 for 5.47 (``magic_version()``)."""
    return _lowlevel.version()

