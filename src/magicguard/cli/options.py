"""The command's options: scanned as glibc's ``getopt_long`` does it, and their tables (internal).

file(1) parses its options with ``getopt_long`` and acts on some of them while
parsing (``-f`` identifies a whole list, ``-P`` with a bad name exits, ``-v``
and ``--help`` print and exit), so the order of options matters and a bad
option is reported where it stands, with glibc's wording.  argparse does
neither (it parses everything first, words its errors differently and exits
with status 2), so magicguard scans with this small generator instead and
keeps file(1)'s behaviour:

* short options cluster (``-bL``), and an option's argument is the rest of the
  cluster or the next word (``-etext``, ``-e text``);
* long options take ``--name=value`` or ``--name value`` and may be shortened
  to any unambiguous prefix; an exact name always wins;
* options and operands mix freely unless ``POSIXLY_CORRECT`` is set, in which
  case the first operand ends the options; ``--`` always ends them and ``-``
  alone is an operand.

Only behaviour is shared with glibc (posix/getopt.c); the code is our own.

The tables below the scanner are file(1)'s: its short and long options (then
magicguard's), the tests ``-e`` switches off, the ``-P`` limits, and the
``--help`` text built from them.
"""

from __future__ import annotations

from .constants import Flags, Param
from .record import Record

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Iterator, Optional, Sequence, Union

__all__ = [
    "LIMITS",
    "LONG",
    "PROG",
    "SHORT",
    "TESTS",
    "USAGE",
    "Limit",
    "LongOption",
    "Operand",
    "Option",
    "Problem",
    "Test",
    "atoi_strict",
    "help_text",
    "scan",
]

PROG = "magicguard"
"""The name messages begin with."""


class LongOption(Record):
    """One ``--name``: whether it takes an argument and the key it yields."""

    __slots__ = ("key", "name", "takes_argument")
    name: str
    takes_argument: bool
    key: str

    def __init__(self, name: str, takes_argument: bool, key: str) -> None:
        self.name = name
        self.takes_argument = takes_argument
        self.key = key


class Option(Record):
    """An option found on the command line, with its argument if it takes one."""

    __slots__ = ("argument", "key")
    key: str
    argument: bytes | None

    def __init__(self, key: str, argument: bytes | None) -> None:
        self.key = key
        self.argument = argument


class Operand(Record):
    """A word that is not an option: a file name."""

    __slots__ = ("word",)
    word: bytes

    def __init__(self, word: bytes) -> None:
        self.word = word


class Problem(Record):
    """A bad option; ``message`` is glibc's text without the program name."""

    __slots__ = ("message",)
    message: str

    def __init__(self, message: str) -> None:
        self.message = message


if TYPE_CHECKING:
    Event = Union[Option, Operand, Problem]


def _shorts(spec: str) -> dict[str, bool]:
    """``"e:Ef:"`` -> ``{"e": True, "E": False, "f": True}``."""
    table: dict[str, bool] = {}
    for i, char in enumerate(spec):
        if char == ":":
            continue
        table[char] = i + 1 < len(spec) and spec[i + 1] == ":"
    return table


def _text(word: bytes) -> str:
    """A word as it appears in a message: its bytes, undecodable ones kept."""
    return word.decode("utf-8", "surrogateescape")


def scan(
    argv: Sequence[bytes],
    short_spec: str,
    long_options: Sequence[LongOption],
    *,
    posixly_correct: bool = False,
) -> Iterator[Event]:
    """Yield the options, problems and operands of ``argv`` (without argv[0]).

    Options and problems come in command-line order; in the default
    (permuting) mode every operand is yielded after the last option, as
    glibc reorders them, so callers see what file(1) sees.
    """
    shorts = _shorts(short_spec)
    operands: list[bytes] = []
    i = 0
    n = len(argv)
    while i < n:
        word = argv[i]
        i += 1
        if word == b"--":
            operands.extend(argv[i:])
            break
        if not word.startswith(b"-") or word == b"-":
            if posixly_correct:
                operands.append(word)
                operands.extend(argv[i:])
                break
            operands.append(word)
            continue
        if word.startswith(b"--"):
            body = word[2:]
            name, eq, value = body.partition(b"=")
            text = _text(name)
            exact = [o for o in long_options if o.name == text]
            found = exact or [o for o in long_options if o.name.startswith(text)]
            if not found:
                yield Problem(f"unrecognized option '--{_text(body)}'")
                continue
            if len(found) > 1:
                choices = " ".join(f"'--{o.name}'" for o in found)
                yield Problem(f"option '--{text}' is ambiguous; possibilities: {choices}")
                continue
            option = found[0]
            if option.takes_argument:
                if eq:
                    yield Option(option.key, value)
                elif i < n:
                    yield Option(option.key, argv[i])
                    i += 1
                else:
                    yield Problem(f"option '--{option.name}' requires an argument")
            elif eq:
                yield Problem(f"option '--{option.name}' doesn't allow an argument")
            else:
                yield Option(option.key, None)
            continue
        # A cluster of short options.
        j = 1
        while j < len(word):
            char = chr(word[j])
            j += 1
            if char not in shorts:
                yield Problem(f"invalid option -- '{_text(bytes([ord(char)]))}'")
                continue
            if not shorts[char]:
                yield Option(char, None)
                continue
            if j < len(word):
                yield Option(char, word[j:])
            elif i < n:
                yield Option(char, argv[i])
                i += 1
            else:
                yield Problem(f"option requires an argument -- '{char}'")
            break
    for operand in operands:
        yield Operand(operand)


# -- the option table: file(1)'s options, then magicguard's --------------------

# file(1)'s short options, then magicguard's (-R, -j).
SHORT = "bcCde:Ef:F:hiklLm:nNpP:rsSvzZ0" + "Rj:"

# file(1)'s long options in file_opts.h order (the order glibc lists
# ambiguous prefixes in), then magicguard's.
LONG = tuple(
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

USAGE = (
    "Usage: {p} [-bcCdEhikLlNnprsSvzZ0] [--apple] [--extension] [--mime-encoding]\n"
    "            [--mime-type] [-e <testname>] [-F <separator>]  [-f <namefile>]\n"
    "            [-m <magicfiles>] [-P <parameter=value>] [--exclude-quiet]\n"
    "            <file> ...\n"
    "       {p} -C [-m <magicfiles>]\n"
    "       {p} [--help]\n"
)


class Test(Record):
    """A test ``-e`` can switch off, and the first libmagic that has it."""

    __slots__ = ("flag", "name", "since")
    name: str
    flag: int
    since: int

    def __init__(self, name: str, flag: int, since: int = 0) -> None:
        self.name = name
        self.flag = flag
        self.since = since


class Limit(Record):
    """A ``-P`` limit: name, libmagic tag, help text, upper bound, first version."""

    __slots__ = ("description", "maximum", "name", "since", "tag")
    name: str
    tag: int
    description: str
    maximum: int
    since: int

    def __init__(self, name: str, tag: int, description: str, maximum: int, since: int = 0) -> None:
        self.name = name
        self.tag = tag
        self.description = description
        self.maximum = maximum
        self.since = since


# file(1)'s names for the tests, in the order its help lists them.
TESTS = (
    Test("apptype", Flags.NO_CHECK_APPTYPE),
    Test("ascii", Flags.NO_CHECK_TEXT),
    Test("cdf", Flags.NO_CHECK_CDF),
    Test("compress", Flags.NO_CHECK_COMPRESS),
    Test("csv", Flags.NO_CHECK_CSV),
    Test("elf", Flags.NO_CHECK_ELF),
    Test("encoding", Flags.NO_CHECK_ENCODING),
    Test("soft", Flags.NO_CHECK_SOFT),
    Test("tar", Flags.NO_CHECK_TAR),
    Test("json", Flags.NO_CHECK_JSON),
    Test("simh", Flags.NO_CHECK_SIMH, 545),
    Test("text", Flags.NO_CHECK_TEXT),
    Test("tokens", Flags.NO_CHECK_TOKENS),
)

_U16 = 0xFFFF
_I32 = 0x7FFFFFFF
# file(1)'s names for the limits, in its order.  The bounds are the ones
# libmagic itself stores (uint16) or later file(1)s enforce (2**31 - 1):
# file(1) up to 5.47 passes any atoi() result, which wraps or overflows
# (5.48 refuses a value outside magic_getmaxparam()).
LIMITS = (
    Limit("bytes", Param.BYTES_MAX, "max bytes to look inside file", _I32),
    Limit("elf_notes", Param.ELF_NOTES_MAX, "max ELF notes processed", _U16),
    Limit("elf_phnum", Param.ELF_PHNUM_MAX, "max ELF prog sections processed", _U16),
    Limit("elf_shnum", Param.ELF_SHNUM_MAX, "max ELF sections processed", _U16),
    Limit("elf_shsize", Param.ELF_SHSIZE_MAX, "max ELF section size", _I32, 545),
    Limit("encoding", Param.ENCODING_MAX, "max bytes to scan for encoding", _I32),
    Limit("indir", Param.INDIR_MAX, "recursion limit for indirection", _U16),
    Limit("name", Param.NAME_MAX, "use limit for name/use magic", _U16),
    Limit("regex", Param.REGEX_MAX, "length limit for REGEX searches", _U16),
    Limit("magwarn", Param.MAGWARN_MAX, "maximum number of magic warnings", _U16, 546),
)


def atoi_strict(text: bytes) -> Optional[int]:
    """A plain decimal integer, or None."""
    stripped = text.strip(b" \t")
    body = stripped[1:] if stripped[:1] == b"+" else stripped
    if not body or not body.isdigit():
        return None
    return int(body)


def help_text(tests_in: Sequence[Test], limits: Sequence[Limit], defaults: dict[str, int],
              posixly: bool) -> str:
    """file(1)'s --help for this libmagic (its ``tests``, its ``limits`` and
    their ``defaults``), then magicguard's own options."""
    pad = " " * 31
    tests = ""
    names = [t.name for t in tests_in]
    for i, name in enumerate(names):
        tests += name
        if i == len(names) - 1:
            break
        if i and i % 5 == 0:
            tests += ",\n" + pad
        else:
            tests += ", "
    params = ("\n" + pad).join(
        f"{p.name:>9} {defaults[p.name]:>7} {p.description}" for p in limits
    )
    follow, nofollow = ("", " (default)") if not posixly else (" (default)", "")
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

