"""The ``magicguard`` command: file(1)'s answers, plus JSON, recursion and jobs.

``magicguard`` prints what ``file`` of the same libmagic and database prints,
byte for byte and with the same exit status, for file(1)'s options (names and
meanings from file/file ``src/file_opts.h``): the name, the separator and the
padding to the widest name, ``ERROR:`` lines under ``-E``, ``-0``/``-00``,
``-f`` lists, ``-`` for standard input, ``-P`` limits, ``-c``/``-C``/``-l``.
Only the program's name differs in messages (``magicguard: ...``).

Beyond file(1):

``--json``
    One JSON object per input, one per line, in input order, written as the
    answers arrive.  Keys (always all present): ``name``, ``description``,
    ``mime_type``, ``encoding``, ``error`` (null unless libmagic failed for
    that input; the other values are then null).  libmagic runs with
    ``MAGIC_ERROR`` so that an unreadable file is an error, not a description.
    ``-b``, ``-N``, ``-F``, ``-0`` do not apply.
``-R``, ``--recursive``
    Directory operands (and directories named in ``-f`` lists) are replaced
    by the files below them, depth first, sorted by name; a symbolic link to
    a directory is followed only with ``-L``.  Names are not padded (the
    widest name is not known before the walk ends; memory stays bounded).
``-j N``, ``--jobs N``
    Identify with N threads (default: every usable core), one libmagic handle
    each; output stays in input order.
``--no-progress``
    A progress bar is drawn on standard error when it is a terminal,
    standard output is not, and the work is long (``-R``, or at least
    ``PROGRESS_MIN_INPUTS`` inputs); never otherwise.  This turns it off.

Exit status: file(1)'s for its own options (1 for usage errors, bad ``-P``,
an unreadable ``-f`` list, a database that does not load, and for any input
libmagic failed on, which without ``-E`` is rare).  With ``--json`` or ``-R``,
1 as well when any input failed (libmagic error, or a directory that could
not be listed).  A closed standard output ends the run quietly with status
32 (EPIPE); an interrupt with 130.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import sys
from dataclasses import dataclass, replace
from typing import BinaryIO, Callable, Iterable, Iterator, NoReturn, Optional, cast

from . import _lowlevel
from .cli_engine import Item, Settings, Worker, identify_all, walk
from .cli_getopt import LongOption, Operand, Option, Problem, scan
from .cli_output import NameStyle, Result, json_line, locale_name_style
from .errors import MagicError
from .flags import Flags, Param

__all__ = ["main", "PROGRESS_MIN_INPUTS"]

PROG = "magicguard"
PROGRESS_MIN_INPUTS = 100
"""Without -R, this many inputs make a run long enough for a progress bar."""

# file(1)'s short options, then magicguard's (-R, -j).
_SHORT = "bcCde:Ef:F:hiklLm:nNpP:rsSvzZ0" + "Rj:"

# file(1)'s long options in file_opts.h order (the order glibc lists
# ambiguous prefixes in), then magicguard's.
_LONG = tuple(
    LongOption(name, takes, key)
    for name, takes, key in (
        ("help", False, "help"),
        ("version", False, "v"),
        ("magic-file", True, "m"),
        ("uncompress", False, "z"),
        ("uncompress-noreport", False, "Z"),
        ("brief", False, "b"),
        ("checking-printout", False, "c"),
        ("exclude", True, "e"),
        ("exclude-quiet", True, "exclude-quiet"),
        ("files-from", True, "f"),
        ("separator", True, "F"),
        ("mime", False, "i"),
        ("apple", False, "apple"),
        ("extension", False, "extension"),
        ("mime-type", False, "mime-type"),
        ("mime-encoding", False, "mime-encoding"),
        ("keep-going", False, "k"),
        ("list", False, "l"),
        ("dereference", False, "L"),
        ("no-dereference", False, "h"),
        ("no-buffer", False, "n"),
        ("no-pad", False, "N"),
        ("print0", False, "0"),
        ("preserve-date", False, "p"),
        ("parameter", True, "P"),
        ("raw", False, "r"),
        ("special-files", False, "s"),
        ("no-sandbox", False, "S"),
        ("compile", False, "C"),
        ("debug", False, "d"),
        ("json", False, "json"),
        ("recursive", False, "R"),
        ("jobs", True, "j"),
        ("no-progress", False, "no-progress"),
        ("doctor", False, "doctor"),
    )
)

_USAGE = (
    "Usage: {p} [-bcCdEhikLlNnprsSvzZ0] [--apple] [--extension] [--mime-encoding]\n"
    "            [--mime-type] [-e <testname>] [-F <separator>]  [-f <namefile>]\n"
    "            [-m <magicfiles>] [-P <parameter=value>] [--exclude-quiet]\n"
    "            <file> ...\n"
    "       {p} -C [-m <magicfiles>]\n"
    "       {p} [--help]\n"
)


@dataclass(frozen=True)
class _Test:
    """A test ``-e`` can switch off, and the first libmagic that has it."""

    name: str
    flag: int
    since: int = 0


@dataclass(frozen=True)
class _Param:
    """A ``-P`` limit: name, libmagic tag, help text, upper bound, first version."""

    name: str
    tag: Param
    description: str
    maximum: int
    since: int = 0


# file(1)'s names for the tests, in the order its help lists them.
_TESTS = (
    _Test("apptype", Flags.NO_CHECK_APPTYPE),
    _Test("ascii", Flags.NO_CHECK_TEXT),
    _Test("cdf", Flags.NO_CHECK_CDF),
    _Test("compress", Flags.NO_CHECK_COMPRESS),
    _Test("csv", Flags.NO_CHECK_CSV),
    _Test("elf", Flags.NO_CHECK_ELF),
    _Test("encoding", Flags.NO_CHECK_ENCODING),
    _Test("soft", Flags.NO_CHECK_SOFT),
    _Test("tar", Flags.NO_CHECK_TAR),
    _Test("json", Flags.NO_CHECK_JSON),
    _Test("simh", Flags.NO_CHECK_SIMH, 545),
    _Test("text", Flags.NO_CHECK_TEXT),
    _Test("tokens", Flags.NO_CHECK_TOKENS),
)

_U16 = 0xFFFF
_I32 = 0x7FFFFFFF
# file(1)'s names for the limits, in its order.  The bounds are the ones
# libmagic itself stores (uint16) or later file(1)s enforce (2**31 - 1):
# 5.46's file(1) passes any atoi() result, which wraps or overflows.
_PARAMS = (
    _Param("bytes", Param.BYTES_MAX, "max bytes to look inside file", _I32),
    _Param("elf_notes", Param.ELF_NOTES_MAX, "max ELF notes processed", _U16),
    _Param("elf_phnum", Param.ELF_PHNUM_MAX, "max ELF prog sections processed", _U16),
    _Param("elf_shnum", Param.ELF_SHNUM_MAX, "max ELF sections processed", _U16),
    _Param("elf_shsize", Param.ELF_SHSIZE_MAX, "max ELF section size", _I32, 545),
    _Param("encoding", Param.ENCODING_MAX, "max bytes to scan for encoding", _I32),
    _Param("indir", Param.INDIR_MAX, "recursion limit for indirection", _U16),
    _Param("name", Param.NAME_MAX, "use limit for name/use magic", _U16),
    _Param("regex", Param.REGEX_MAX, "length limit for REGEX searches", _U16),
    _Param("magwarn", Param.MAGWARN_MAX, "maximum number of magic warnings", _U16, 546),
)


class _Exit(Exception):
    """Stop now with this status (file(1)'s exit() from deep inside)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class _LineFormat:
    """The output settings a batch of names is printed with.

    file(1) reads them when it prints, so a ``-f`` list is printed with the
    options given before it; this is a snapshot taken at that point.
    """

    brief: bool
    no_pad: bool
    nul: int
    separator: bytes
    json: bool
    style: NameStyle


class _Writer:
    """Bytes to standard output, flushed per line with -n."""

    def __init__(self, stream: BinaryIO, unbuffered: bool) -> None:
        self.stream = stream
        self.unbuffered = unbuffered

    def write(self, data: bytes) -> None:
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


def _stdout() -> BinaryIO:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        return cast(BinaryIO, _Closed())
    return cast(BinaryIO, stream)


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _atoi_strict(text: bytes) -> Optional[int]:
    """A plain decimal integer, or None."""
    stripped = text.strip(b" \t")
    body = stripped[1:] if stripped[:1] in (b"+",) else stripped
    if not body or not body.isdigit():
        return None
    return int(body)


class _Run:
    """One invocation: file(1)'s option semantics, in command-line order."""

    def __init__(self, words: list[bytes]) -> None:
        self.words = words
        self.version = _lowlevel.version()
        self.posixly = "POSIXLY_CORRECT" in os.environ
        self.flags = int(Flags.SYMLINK) if self.posixly else 0
        self.action: Optional[str] = None
        self.brief = 0
        self.no_pad = 0
        self.no_buffer = 0
        self.nul = 0
        self.separator = b":"
        self.magic_file: Optional[bytes] = None
        self.params: dict[str, int] = {}
        self.bad_usage = 0
        self.status = 0
        self.did_some_files = False
        self.json = False
        self.recursive = False
        self.jobs = _usable_cores()
        self.progress = True
        self.settings: Optional[Settings] = None
        self.worker: Optional[Worker] = None
        self.out = _Writer(_stdout(), False)

    # -- messages ----------------------------------------------------------

    def warn(self, message: str, err: int = 0) -> None:
        """``magicguard: message`` on stderr, with ``(strerror)`` if ``err``."""
        self.warn_static(message, err)

    @staticmethod
    def warn_static(message: str, err: int = 0) -> None:
        """:meth:`warn` without a run."""
        text = f"{PROG}: {message}" + (f" ({os.strerror(err)})" if err else "") + "\n"
        try:
            if sys.stdout is not None:
                sys.stdout.flush()  # keep the order of the two streams on a terminal
        except OSError:
            pass  # reported, if at all, by whoever writes the output
        stream = getattr(sys.stderr, "buffer", None)
        if stream is not None:
            sys.stderr.flush()
            stream.write(text.encode("utf-8", "surrogateescape"))
            stream.flush()
        else:  # pragma: no cover - stderr replaced by a text-only stream
            sys.stderr.write(text)

    def fail(self, message: str, err: int = 0) -> NoReturn:
        self.warn(message, err)
        raise _Exit(1)

    def usage(self) -> NoReturn:
        text = _USAGE.format(p=PROG)
        stream = getattr(sys.stderr, "buffer", None)
        if stream is not None:
            stream.write(text.encode())
            stream.flush()
        else:  # pragma: no cover
            sys.stderr.write(text)
        raise _Exit(1)

    # -- tables that depend on the libmagic version -----------------------

    def tests(self) -> list[_Test]:
        return [t for t in _TESTS if self.version >= t.since]

    def param_table(self) -> list[_Param]:
        return [p for p in _PARAMS if self.version >= p.since]

    # -- the options -------------------------------------------------------

    def run(self) -> int:
        operands: list[bytes] = []
        for event in scan(self.words, _SHORT, _LONG, posixly_correct=self.posixly):
            if isinstance(event, Operand):
                operands.append(event.word)
            elif isinstance(event, Problem):
                self.warn(event.message)
                self.bad_usage += 1
            elif isinstance(event, Option):
                result = self.option(event.key, event.argument)
                if result is not None:
                    return result
        if self.bad_usage:
            self.usage()
        if self.status:
            return self.status
        if self.action is not None:
            return self.database_action()
        self.load()
        if not operands:
            if not self.did_some_files:
                self.usage()
            return self.finish()
        if self.brief == 2:
            self.brief = 1 if len(operands) <= 1 else 0
        style = locale_name_style(self.raw)
        width = max(style.width(name) for name in operands)
        self.status |= self.process(operands, width, streaming=False, count=len(operands))
        return self.finish()

    @property
    def raw(self) -> bool:
        flags = self.settings.flags if self.settings is not None else self.flags
        return bool(flags & Flags.RAW)

    def option(self, key: str, arg: Optional[bytes]) -> Optional[int]:
        """Act on one option; a status ends the run (-v, --help)."""
        simple_flags = {
            "apple": Flags.APPLE,
            "extension": Flags.EXTENSION,
            "mime-type": Flags.MIME_TYPE,
            "mime-encoding": Flags.MIME_ENCODING,
            "d": Flags.DEBUG | Flags.CHECK,
            "E": Flags.ERROR,
            "i": Flags.MIME,
            "k": Flags.CONTINUE,
            "p": Flags.PRESERVE_ATIME,
            "r": Flags.RAW,
            "s": Flags.DEVICES,
            "z": Flags.COMPRESS,
            "Z": Flags.COMPRESS | Flags.COMPRESS_TRANSP,
            "L": Flags.SYMLINK,
        }
        if key in simple_flags:
            self.flags |= int(simple_flags[key])
        elif key == "h":
            self.flags &= ~int(Flags.SYMLINK)
        elif key == "help":
            self.help()
            return 0
        elif key == "v":
            self.print_version()
            return 0
        elif key == "0":
            self.nul += 1
        elif key == "b":
            self.brief += 1
        elif key == "c":
            self.action = "check"
        elif key == "C":
            self.action = "compile"
        elif key == "l":
            self.action = "list"
        elif key in ("e", "exclude-quiet"):
            assert arg is not None
            found = [t for t in self.tests() if t.name.encode() == arg]
            if found:
                self.flags |= int(found[0].flag)
            elif key == "e":
                self.bad_usage += 1
        elif key == "f":
            assert arg is not None
            if self.action is not None:
                self.usage()
            self.load()
            self.status |= self.files_from(arg)
            self.did_some_files = True
        elif key == "F":
            assert arg is not None
            self.separator = arg
        elif key == "m":
            self.magic_file = arg
        elif key == "n":
            self.no_buffer += 1
        elif key == "N":
            self.no_pad += 1
        elif key == "P":
            assert arg is not None
            self.set_param(arg)
        elif key == "S":
            pass  # file(1)'s -S turns off its seccomp sandbox; there is none here.
        elif key == "json":
            self.json = True
        elif key == "R":
            self.recursive = True
        elif key == "j":
            assert arg is not None
            jobs = _atoi_strict(arg)
            if jobs is None or jobs < 1:
                self.fail(f"Bad number of jobs `{os.fsdecode(arg)}' (want a positive integer)")
            self.jobs = jobs
        elif key == "no-progress":
            self.progress = False
        elif key == "doctor":
            return self.doctor()
        return None

    def set_param(self, arg: bytes) -> None:
        """``-P name=value``: file(1) accepts any prefix of a name (first match)."""
        name, eq, value = arg.partition(b"=")
        if eq:
            for param in self.param_table():
                if param.name.encode().startswith(name):
                    number = _atoi_strict(value)
                    if number is None or number > param.maximum:
                        self.fail(
                            f"Bad value `{os.fsdecode(value)}' for param {param.name}"
                            f" (want an integer from 0 to {param.maximum})"
                        )
                    self.params[param.name] = number
                    return
        self.fail(f"Unknown param {os.fsdecode(arg)}")

    # -- loading -----------------------------------------------------------

    def database(self) -> Optional[bytes]:
        """What to load: -m, else $MAGIC (libmagic reads it), else ours."""
        if self.magic_file is not None:
            return self.magic_file
        if os.environ.get("MAGIC"):
            return None
        default = _lowlevel.default_database_path()
        return None if default is None else os.fsencode(default)

    def current_settings(self) -> Settings:
        assert self.settings is not None
        table = {p.name: p for p in self.param_table()}
        params = tuple(
            (int(table[name].tag), value) for name, value in self.params.items()
        )
        return replace(self.settings, params=params)

    def load(self) -> None:
        """Open and load the first handle, once (file(1)'s load())."""
        if self.settings is not None:
            return
        flags = self.flags
        mime_flags = None
        if self.json:
            flags |= int(Flags.ERROR)
            mime_flags = (flags & ~int(Flags.NODESC)) | int(Flags.MIME)
        settings = Settings(flags, self.database(), mime_flags=mime_flags)
        try:
            handle = _lowlevel.Handle(flags)
        except MagicError as exc:
            self.warn("Can't create magic", exc.errno or 0)
            raise _Exit(1) from None
        try:
            handle.load(settings.database, None)
        except MagicError:
            err = _lowlevel.last_errno()
            self.warn(handle.error() or "(null)", err)
            handle.close()
            raise _Exit(1) from None
        warning = handle.error()
        if warning is not None:
            self.warn(warning, _lowlevel.last_errno())
        self.settings = settings
        self.worker = Worker(settings, handle)

    def finish(self) -> int:
        # A failed flush (ENOSPC, EIO) goes to main(), which names it and
        # quiets stdout.  Caught here, the output left in the buffer failed
        # the interpreter's own flush at exit instead: status 120 and
        # "Exception ignored".  Unseen where PYTHONUNBUFFERED=1 (set on the
        # project's machine): the aarch64 root's clean environment showed it.
        self.out.stream.flush()
        return self.status

    # -- identification ----------------------------------------------------

    def line_format(self) -> _LineFormat:
        return _LineFormat(
            brief=bool(self.brief),
            no_pad=bool(self.no_pad) or self.recursive,
            nul=self.nul,
            separator=self.separator,
            json=self.json,
            style=locale_name_style(self.raw),
        )

    def process(self, names: Iterable[bytes], width: int, streaming: bool, count: Optional[int] = None) -> int:
        """Identify ``names`` in order and print each answer; status 0 or 1.

        ``count`` is the number of names when known (it bounds the threads
        and tells whether the work is long); ``streaming`` marks the
        line-at-a-time ``-n -f`` mode, which never draws a bar.
        """
        assert self.worker is not None
        fmt = self.line_format()
        settings = self.current_settings()
        self.out.unbuffered = bool(self.no_buffer)
        items: Iterable[Item] = walk(names, bool(settings.flags & Flags.SYMLINK)) if self.recursive else names
        jobs = self.jobs
        if count is not None and not self.recursive:
            jobs = min(jobs, count)  # no idle threads (each loads a database)
        pairs = ((settings, item) for item in items)
        results: Iterator[Result] = identify_all(pairs, jobs, self.worker)
        long_work = self.recursive or (count or 0) >= PROGRESS_MIN_INPUTS
        if self.progress and long_work and not streaming:
            results = _with_progress(results, None if self.recursive else count)
        status = 0
        for result in results:
            if result.error is not None:
                status = 1
            if fmt.json:
                self.out.write(json_line(result))
            else:
                self.out.write(_line(result, width, fmt))
        return status

    def files_from(self, list_name: bytes) -> int:
        """``-f LIST``: identify the names in LIST (``-`` = stdin), one a line."""
        fd: Optional[int] = None
        if list_name != b"-":
            try:
                # os.open, not open(): a directory opens (and then reads as
                # an empty list), as fopen() does in file(1).
                fd = os.open(list_name, os.O_RDONLY)
            except OSError as exc:
                self.warn(f"Cannot open `{os.fsdecode(list_name)}'", exc.errno or 0)
                return 1
        try:
            lines = _lines(sys.stdin.buffer.readline if fd is None else _fd_reader(fd))
            if self.no_buffer:
                # One at a time, as each line arrives, each padded to itself.
                status = 0
                for name in lines:
                    status |= self.process([name], self.style_width(name), True, 1)
                return status
            names = list(lines)
        finally:
            if fd is not None:
                os.close(fd)
        if not names:
            return 0
        width = max(self.style_width(name) for name in names)
        return self.process(names, width, False, len(names))

    def style_width(self, name: bytes) -> int:
        return locale_name_style(self.raw).width(name)

    # -- actions that end the run -------------------------------------------

    def database_action(self) -> int:
        """-c, -C, -l: check, compile or list the database (-m or default)."""
        assert self.action is not None
        try:
            handle = _lowlevel.Handle(self.flags | int(Flags.CHECK))
        except MagicError as exc:
            self.warn("Can't create magic", exc.errno or 0)
            return 1
        sys.stdout.flush()
        try:
            handle.database_action(self.action, self.magic_file, None)
        except MagicError:
            self.warn(handle.error() or "(null)")
            return 1
        finally:
            handle.close()
        return 0

    def print_version(self) -> None:
        path: Optional[str]
        if self.magic_file is not None:
            path = os.fsdecode(self.magic_file)
        elif os.environ.get("MAGIC"):
            path = _lowlevel.getpath()
        else:
            path = _lowlevel.default_database_path() or _lowlevel.getpath()
        text = f"{PROG}-{self.version // 100}.{self.version % 100:02d}\nmagic file from {path}\n"
        _stdout().write(text.encode("utf-8", "surrogateescape"))
        _stdout().flush()

    def help(self) -> None:
        _stdout().write(self.help_text().encode())
        _stdout().flush()

    def help_text(self) -> str:
        """file(1)'s --help for this libmagic, then magicguard's own options."""
        handle = _lowlevel.Handle(0)
        try:
            defaults = {
                p.name: handle.getparam(int(p.tag)) for p in self.param_table()
            }
        finally:
            handle.close()
        pad = " " * 31
        tests = ""
        names = [t.name for t in self.tests()]
        for i, name in enumerate(names):
            tests += name
            if i == len(names) - 1:
                break
            if i and i % 5 == 0:
                tests += ",\n" + pad
            else:
                tests += ", "
        params = ("\n" + pad).join(
            f"{p.name:>9} {defaults[p.name]:>7} {p.description}" for p in self.param_table()
        )
        follow, nofollow = ("", " (default)") if not self.posixly else (" (default)", "")
        return (
            f"Usage: {PROG} [OPTION...] [FILE...]\n"
            "Determine type of FILEs.\n"
            "\n"
            "      --help                 display this help and exit\n"
            "  -v, --version              output version information and exit\n"
            "  -m, --magic-file LIST      use LIST as a colon-separated list of magic\n"
            "                               number files\n"
            "  -z, --uncompress           try to look inside compressed files\n"
            "  -Z, --uncompress-noreport  only print the contents of compressed files\n"
            "  -b, --brief                do not prepend filenames to output lines\n"
            "  -c, --checking-printout    print the parsed form of the magic file, use in\n"
            "                               conjunction with -m to debug a new magic file\n"
            "                               before installing it\n"
            "  -e, --exclude TEST         exclude TEST from the list of test to be\n"
            "                               performed for file. Valid tests are:\n"
            f"                               {tests}\n"
            "      --exclude-quiet TEST   like exclude, but ignore unknown tests\n"
            "  -f, --files-from FILE      read the filenames to be examined from FILE\n"
            "  -F, --separator STRING     use string as separator instead of `:'\n"
            "  -i, --mime                 output MIME type strings (--mime-type and\n"
            "                               --mime-encoding)\n"
            "      --apple                output the Apple CREATOR/TYPE\n"
            "      --extension            output a slash-separated list of extensions\n"
            "      --mime-type            output the MIME type\n"
            "      --mime-encoding        output the MIME encoding\n"
            "  -k, --keep-going           don't stop at the first match\n"
            "  -l, --list                 list magic strength\n"
            "  -L, --dereference          follow symlinks (default if POSIXLY_CORRECT is set)"
            f"{follow}\n"
            "  -h, --no-dereference       don't follow symlinks (default if POSIXLY_CORRECT is not set)"
            f"{nofollow}\n"
            "  -n, --no-buffer            do not buffer output\n"
            "  -N, --no-pad               do not pad output\n"
            "  -0, --print0               terminate filenames with ASCII NUL\n"
            "  -p, --preserve-date        preserve access times on files\n"
            "  -P, --parameter            set file engine parameter limits\n"
            f"                               {params}\n"
            "  -r, --raw                  don't translate unprintable chars to \\ooo\n"
            "  -s, --special-files        treat special (block/char devices) files as\n"
            "                             ordinary ones\n"
            "  -S, --no-sandbox           disable system call sandboxing\n"
            "  -C, --compile              compile file specified by -m\n"
            "  -d, --debug                print debugging messages\n"
            "\n"
            f"{PROG}'s own options:\n"
            "      --json                 one JSON object per file, one per line, keys name,\n"
            "                               description, mime_type, encoding, error\n"
            "  -R, --recursive            identify the files below directory operands\n"
            "  -j, --jobs N               identify with N threads (default: all usable\n"
            "                               cores); output stays in input order\n"
            "      --no-progress          never draw a progress bar on standard error\n"
            "      --doctor               check this installation and exit\n"
        )

    def doctor(self) -> int:
        """--doctor: run the installation check, when this build has one."""
        try:
            module = importlib.import_module("magicguard.doctor")
        except ImportError:
            self.warn("--doctor is not available in this build")
            return 1
        run = getattr(module, "main")
        return int(run())


def _fd_reader(fd: int) -> Callable[[], bytes]:
    """A ``readline`` over a raw descriptor (lines keep their newline)."""
    pending = bytearray()

    def readline() -> bytes:
        while True:
            end = pending.find(b"\n")
            if end >= 0:
                line = bytes(pending[: end + 1])
                del pending[: end + 1]
                return line
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                line = bytes(pending)
                pending.clear()
                return line
            pending.extend(chunk)

    return readline


def _lines(readline: Callable[[], bytes]) -> Iterator[bytes]:
    """The names in a -f list: lines split at '\\n', each cut at a NUL.

    A read error ends the list there (as getline() failing does in file(1),
    e.g. for a directory).
    """
    while True:
        try:
            line = readline()
        except OSError:
            return
        if not line:
            return
        if line.endswith(b"\n"):
            line = line[:-1]
        yield line.split(b"\0", 1)[0]


def _line(result: Result, width: int, fmt: _LineFormat) -> bytes:
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


def _with_progress(results: Iterator[Result], total: Optional[int]) -> Iterator[Result]:
    """Draw a rich progress bar on stderr while ``results`` are consumed.

    Only when standard error is a terminal and standard output is not (on a
    terminal the answers themselves show the progress, and a bar would be
    torn by them).
    """
    if not _is_tty(sys.stderr) or _is_tty(sys.stdout):
        yield from results
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=sys.stderr)
    columns = [SpinnerColumn(), TextColumn("identifying"), BarColumn()]
    columns += [MofNCompleteColumn() if total is not None else TextColumn("{task.completed} files")]
    columns += [TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("identify", total=total)
        done = 0
        for result in results:
            yield result
            done += 1
            if done % 32 == 0:
                progress.update(task, completed=done)
        progress.update(task, completed=done)


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the final flush is silent."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: Optional[list[str]] = None) -> int:
    """Run ``magicguard`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    words = [os.fsencode(a) for a in (sys.argv[1:] if argv is None else argv)]
    try:
        return _Run(words).run()
    except _Exit as stop:
        return stop.status
    except BrokenPipeError:
        _quiet_stdout()
        return errno.EPIPE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # Standard output failed (EBADF when closed, ENOSPC, EIO): file(1)
        # stops printing and exits 1.  Say why, but no traceback; what is
        # still buffered goes to /dev/null, so the exit flush cannot fail.
        _quiet_stdout()
        if exc.errno != errno.EBADF:
            _Run.warn_static(f"cannot write the output: {os.strerror(exc.errno or 0)}")
        return 1
