"""One invocation of the command: file(1)'s option semantics, in order (internal).

``Run`` acts on each option as file(1) does while it parses them (``-f``
identifies a list at once, ``-v`` and ``--help`` print and stop), loads the
database once, identifies the operands and prints the answers; the tables
it reads are in ``options``, the answers come from ``engine``, the lines
are formed in ``output``; the options that end the run are in ``actions``.
``magicguard.cli.main`` runs it.
"""

from __future__ import annotations

import os
import sys

from .. import _lowlevel
from ..errors import MagicError
from .constants import Flags
from .engine import Settings, Worker, identify_all, off_main_thread, open_handle
from .options import (
    LIMITS,
    LONG,
    PROG,
    SHORT,
    TESTS,
    USAGE,
    Limit,
    Operand,
    Option,
    Problem,
    Test,
    atoi_strict,
    scan,
)
from .output import LineFormat, Result, Writer, json_line, line, locale_name_style, stdout
from .progress import PROGRESS_MIN_INPUTS, with_progress

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, NoReturn, Optional

    from .walk import Item

__all__ = ["Exit", "Run", "usable_cores"]


class Exit(Exception):
    """Stop now with this status (file(1)'s exit() from deep inside)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def usable_cores() -> int:
    """The cores this process may run on: the default number of ``-j`` threads
    (the library's one rule, shared with Pool and Sandbox)."""
    return _lowlevel.default_workers()


class Run:
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
        self.jobs = usable_cores()
        self.progress = True
        self.settings: Optional[Settings] = None
        self.worker: Optional[Worker] = None
        self.out = Writer(stdout(), False)

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
        """Report ``message`` as file(1) does, then end the run with status 1."""
        self.warn(message, err)
        raise Exit(1)

    def usage(self) -> NoReturn:
        """Print the usage message to standard error and end the run with status 1."""
        text = USAGE.format(p=PROG)
        stream = getattr(sys.stderr, "buffer", None)
        if stream is not None:
            stream.write(text.encode())
            stream.flush()
        else:  # pragma: no cover
            sys.stderr.write(text)
        raise Exit(1)

    # -- tables that depend on the libmagic version -----------------------

    def tests(self) -> list[Test]:
        """The ``-e`` test names this libmagic knows."""
        return [t for t in TESTS if self.version >= t.since]

    def param_table(self) -> list[Limit]:
        """The ``-P`` parameters this libmagic knows."""
        return [p for p in LIMITS if self.version >= p.since]

    # -- the options -------------------------------------------------------

    def run(self) -> int:
        """Scan the options, act on them, identify the operands; returns the exit status."""
        operands: list[bytes] = []
        for event in scan(self.words, SHORT, LONG, posixly_correct=self.posixly):
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
            from .actions import database_action  # -c, -C, -l only: not imported by a plain run

            return database_action(self)
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
        """Whether names and answers are printed raw (``-r``)."""
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
            from .actions import show_help

            show_help(self)
            return 0
        elif key == "v":
            from .actions import print_version

            print_version(self)
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
            jobs = atoi_strict(arg)
            if jobs is None or jobs < 1:
                self.fail(f"Bad number of jobs `{os.fsdecode(arg)}' (want a positive integer)")
            self.jobs = jobs
        elif key == "no-progress":
            self.progress = False
        elif key == "doctor":
            from .actions import doctor

            return doctor()
        return None

    def set_param(self, arg: bytes) -> None:
        """``-P name=value``: file(1) accepts any prefix of a name (first match)."""
        name, eq, value = arg.partition(b"=")
        if eq:
            for param in self.param_table():
                if param.name.encode().startswith(name):
                    number = atoi_strict(value)
                    if number is None or number > param.maximum:
                        self.fail(
                            f"Bad value `{os.fsdecode(value)}' for param {param.name}"
                            f" (want an integer from 0 to {param.maximum})"
                        )
                    self.params[param.name] = number
                    return
        self.fail(f"Unknown param {os.fsdecode(arg)}")

    # -- loading -----------------------------------------------------------

    def current_settings(self) -> Settings:
        """The loaded settings with the ``-P`` parameters given so far."""
        assert self.settings is not None
        table = {p.name: p for p in self.param_table()}
        params = tuple(
            (int(table[name].tag), value) for name, value in self.params.items()
        )
        return self.settings.replace(params=params)

    def load(self) -> None:
        """Open and load the first handle, once (file(1)'s load())."""
        if self.settings is not None:
            return
        flags = self.flags
        mime_flags = None
        lenient_flags = None
        if self.json:
            # MAGIC_ERROR, so that a file that cannot be stat'ed is an error;
            # without -E a dangling link is asked again without it, to be
            # described as in text mode (see Worker.identify).
            if not flags & Flags.ERROR:
                lenient_flags = flags
            flags |= int(Flags.ERROR)
            mime_flags = (flags & ~int(Flags.NODESC)) | int(Flags.MIME)
        # -m, else the default: $MAGIC (libmagic reads it), else ours.
        settings = Settings(flags, self.magic_file, mime_flags=mime_flags, lenient_flags=lenient_flags)

        def open_and_load() -> tuple[Optional[_lowlevel.Handle], Optional[str], int]:
            # On a worker thread (a large magic source takes seconds to
            # parse; Ctrl-C must not wait), errno read there: it is per thread.
            try:
                handle = open_handle(settings)
            except MagicError as exc:
                if exc.function == "magic_open":
                    raise
                err = _lowlevel.last_errno()
                return None, exc.reason or ("(null)" if exc.function else exc.message), err
            warning = handle.error()
            return handle, warning, (_lowlevel.last_errno() if warning is not None else 0)

        try:
            handle, message, err = off_main_thread(open_and_load)
        except MagicError as exc:
            self.warn("Can't create magic", exc.errno or 0)
            raise Exit(1) from None
        if message is not None:
            self.warn(message, err)
        if handle is None:
            raise Exit(1)
        self.settings = settings
        self.worker = Worker(settings, handle)

    def finish(self) -> int:
        """Flush standard output and return the exit status (a failed flush raises, for main())."""
        # A failed flush (ENOSPC, EIO) goes to main(), which names it and
        # quiets stdout.  Caught here, the output left in the buffer failed
        # the interpreter's own flush at exit instead: status 120 and
        # "Exception ignored".  Unseen where PYTHONUNBUFFERED=1 (set on the
        # project's machine): the aarch64 root's clean environment showed it.
        self.out.stream.flush()
        return self.status

    # -- identification ----------------------------------------------------

    def line_format(self) -> LineFormat:
        """How each answer line is laid out, from the options."""
        return LineFormat(
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
        items: Iterable[Item] = names
        if self.recursive:
            from .walk import walk  # -R only

            items = walk(names, bool(settings.flags & Flags.SYMLINK))
        jobs = self.jobs
        if count is not None and not self.recursive:
            jobs = min(jobs, count)  # no idle threads (each loads a database)
        pairs = ((settings, item) for item in items)
        # -n: each answer out as soon as it is known, not per batch.
        batch_size = 1 if self.no_buffer else 8
        results: Iterator[Result] = identify_all(pairs, jobs, self.worker, batch_size)
        long_work = self.recursive or (count or 0) >= PROGRESS_MIN_INPUTS
        if self.progress and long_work and not streaming:
            results = with_progress(results, None if self.recursive else count)
        status = 0
        for result in results:
            if result.error is not None:
                status = 1
            if fmt.json:
                self.out.write(json_line(result))
            else:
                self.out.write(line(result, width, fmt))
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
        """The printed width of a file name in the current locale."""
        return locale_name_style(self.raw).width(name)


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

