"""This machine's files, stratified by kind: the walk behind the tests'
optional host sweep (``conftest.build_corpus``) and the differential run's
real files (``differential.system_corpus``).

A plain module, without pytest, so that ``scripts/differential`` can use it.
"""

from __future__ import annotations

import os
import random
import stat
import zlib
from typing import Iterator

#: Where the host sweep comes from, walked in this order.
CORPUS_DIRS = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/share", "/etc", "/usr/include", "/var/lib")


def _walk(top: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def stratified_files(limit: int, per_stratum: int, seed: int, scan_limit: int, max_bytes: int) -> list[str]:
    """Up to ``limit`` readable regular files of 1..``max_bytes`` bytes from
    ``CORPUS_DIRS``, at most ``per_stratum`` for each (extension, first
    bytes), looking at ``scan_limit`` files per directory; sorted."""
    strata: dict[tuple[str, bytes], list[str]] = {}
    for top in CORPUS_DIRS:
        scanned = 0
        for path in _walk(top):
            if scanned >= scan_limit:
                break
            # Look at a fixed pseudo-random eighth of the tree, so that the
            # scan limit spreads over the whole directory, not its first
            # subdirectories in sorted order.
            if zlib.crc32(os.fsencode(path)) % 8:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= max_bytes:
                continue
            if "\n" in path or not os.access(path, os.R_OK):
                continue
            scanned += 1
            try:
                with open(path, "rb") as f:
                    head = f.read(4)
            except OSError:
                continue
            ext = os.path.splitext(path)[1].lower()[:8]
            printable = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
            key = (ext, b"txt" if printable else head[:2])
            bucket = strata.setdefault(key, [])
            if len(bucket) < per_stratum:
                bucket.append(path)
    chosen = [p for bucket in strata.values() for p in bucket]
    random.Random(seed).shuffle(chosen)
    return sorted(chosen[:limit])
