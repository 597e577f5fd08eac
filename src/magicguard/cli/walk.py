"""``-R``: directory operands replaced by the files below them (internal).

Depth first, sorted by name, without recursion (an explicit stack, so a
tree thousands of levels deep costs one listing per level), following a
symbolic link to a directory only with ``-L`` and never round a loop.
"""

from __future__ import annotations

import os
import stat

from .record import Record

TYPE_CHECKING = False  # typing at run time costs ~16M instructions of a one-file run
if TYPE_CHECKING:
    from typing import Callable, ContextManager, Iterable, Iterator, Optional, Union

__all__ = ["WalkError", "walk"]  # and, for type checkers, Item and ScanDir


class WalkError(Record):
    """A directory -R could not list; reported as that name's error."""

    __slots__ = ("name", "reason")
    name: bytes
    reason: bytes

    def __init__(self, name: bytes, reason: bytes) -> None:
        self.name = name
        self.reason = reason


if TYPE_CHECKING:
    Item = Union[bytes, WalkError]
    ScanDir = Callable[[bytes], ContextManager[Iterator["os.DirEntry[bytes]"]]]


def walk(
    names: Iterable[bytes],
    follow_links: bool,
    scandir: Optional[ScanDir] = None,
) -> Iterator[Item]:
    """Expand directories among ``names`` into the files below them.

    Depth first, entries sorted by their bytes, directories themselves not
    yielded.  A symbolic link to a directory is followed only with
    ``follow_links`` (-L), and then never into a directory already on the
    current path, so link loops end.  A directory that cannot be listed is
    yielded as a :class:`WalkError`.  Memory: one sorted listing per level.
    """
    for name in names:
        try:
            st = os.stat(name) if follow_links else os.lstat(name)
        except (OSError, ValueError):
            yield name
            continue
        if not stat.S_ISDIR(st.st_mode) or name == b"-":
            yield name
            continue
        yield from _walk_dir(name, (st.st_dev, st.st_ino), follow_links, scandir or os.scandir, set())


def _walk_dir(
    top: bytes,
    ident: tuple[int, int],
    follow_links: bool,
    scandir: ScanDir,
    ancestors: set[tuple[int, int]],
) -> Iterator[Item]:
    """The files below ``top``, depth first, without recursion.

    An explicit stack of (directory identity, remaining sorted entries)
    replaces the call stack, so a tree thousands of levels deep costs one
    list per level and never Python's recursion limit.
    """
    listing = _listing(top, scandir)
    if isinstance(listing, WalkError):
        yield listing
        return
    ancestors.add(ident)
    stack: list[tuple[tuple[int, int], Iterator[os.DirEntry[bytes]], bytes]] = [
        (ident, iter(listing), top)
    ]
    try:
        while stack:
            key_here, entries, here = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                ancestors.discard(key_here)
                continue
            path = os.path.join(here, entry.name)
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_links)
            except OSError:
                is_dir = False
            if not is_dir:
                yield path
                continue
            try:
                st = entry.stat(follow_symlinks=follow_links)
            except OSError:
                yield path
                continue
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                # A link back up the tree: report the link, don't loop.
                yield path
                continue
            below = _listing(path, scandir)
            if isinstance(below, WalkError):
                yield below
                continue
            ancestors.add(key)
            stack.append((key, iter(below), path))
    finally:
        for key_here, _, _ in stack:
            ancestors.discard(key_here)


def _listing(top: bytes, scandir: ScanDir) -> Union[list[os.DirEntry[bytes]], WalkError]:
    """The entries of directory ``top`` sorted by name, or why they cannot be read."""
    try:
        with scandir(top) as it:
            return sorted(it, key=lambda entry: entry.name)
    except OSError as exc:
        reason = f"cannot read directory `{os.fsdecode(top)}' ({os.strerror(exc.errno or 0)})"
        return WalkError(top, reason.encode("utf-8", "surrogateescape"))

