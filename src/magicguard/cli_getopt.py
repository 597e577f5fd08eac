"""Command-line scanning the way glibc's ``getopt_long`` does it (internal).

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
"""

from __future__ import annotations

from typing import Iterator, Sequence, Union

from .cli_record import Record

__all__ = ["LongOption", "Option", "Operand", "Problem", "scan"]


class LongOption(Record):
    """One ``--name``: whether it takes an argument and the key it yields."""

    __slots__ = ("name", "takes_argument", "key")
    name: str
    takes_argument: bool
    key: str

    def __init__(self, name: str, takes_argument: bool, key: str) -> None:
        self.name = name
        self.takes_argument = takes_argument
        self.key = key


class Option(Record):
    """An option found on the command line, with its argument if it takes one."""

    __slots__ = ("key", "argument")
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
