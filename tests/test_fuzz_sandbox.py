"""A bounded fuzz run of Sandbox over random and mutated real files.

Hypothesis draws random bytes and real corpus files mutated (bit flips,
overwritten runs, truncation, splices of two files, magic numbers planted
at offsets).  Every input must get either the in-process Cookie's exact
answer or -- the only explained failure -- a TimeoutError/WorkerCrashed
that leaves the Sandbox working.  The run is derandomized (the same inputs
on every run, so CI is reproducible) and bounded by ``FUZZ_EXAMPLES``;
set ``MAGICGUARD_FUZZ_EXAMPLES`` to run longer locally.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magicguard import Cookie, Flags
from magicguard.errors import TimeoutError, WorkerCrashed
from magicguard.sandbox import UNTRUSTED_PARAMS, Sandbox

FUZZ_EXAMPLES = int(os.environ.get("MAGICGUARD_FUZZ_EXAMPLES", "300"))

#: Headers worth planting: each sends libmagic down a different parser.
MAGICS = [b"\x7fELF\x02\x01\x01", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
          b"%PDF-1.7\n", b"\x1f\x8b\x08", b"BZh91AY&SY", b"\xfd7zXZ\x00", b"MZ", b"GIF89a",
          b"\x89PNG\r\n\x1a\n", b"{\"a\": [", b"#!/bin/sh\n", b"ustar\x0000", b"OggS",
          b"RIFF\x00\x00\x00\x00WAVE", b"\xca\xfe\xba\xbe", b"SQLite format 3\x00"]


@pytest.fixture(scope="module")
def blobs(corpus: list[str]) -> list[bytes]:
    """The first 64 KiB of 120 corpus files, in memory."""
    out = []
    for path in corpus[::max(1, len(corpus) // 120)][:120]:
        with open(path, "rb") as f:
            out.append(f.read(64 << 10))
    return out


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Sandbox, Cookie]]:
    """One Sandbox and its reference Cookie, same flags and untrusted params."""
    flags = Flags.NONE
    with Sandbox(2, flags, params=UNTRUSTED_PARAMS, timeout=20) as sandbox, \
            Cookie(flags, params=UNTRUSTED_PARAMS) as cookie:
        yield sandbox, cookie


@st.composite
def inputs(draw: st.DrawFn, blobs: list[bytes]) -> bytes:
    """Random bytes, or a real file mutated."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=4096))
    data = bytearray(draw(st.sampled_from(blobs)))
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.integers(0, 4))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if choice == 0 and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif choice == 1:
            data[at:at + 8] = draw(st.binary(min_size=1, max_size=8))
        elif choice == 2:
            del data[at:]
        elif choice == 3:
            other = draw(st.sampled_from(blobs))
            cut = draw(st.integers(0, len(other)))
            data[at:] = other[cut:]
        else:
            data[at:at] = draw(st.sampled_from(MAGICS))
    return bytes(data)


def test_fuzz_buffer_matches_cookie(blobs: list[bytes], engines: tuple[Sandbox, Cookie]) -> None:
    """Every fuzzed input: the Cookie's answer, or an isolated failure after
    which the Sandbox still answers."""
    sandbox, cookie = engines
    failures: list[tuple[bytes, BaseException]] = []

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        item = data.draw(inputs(blobs))
        try:
            got = sandbox.identify(item)
        except (TimeoutError, WorkerCrashed) as exc:
            failures.append((item, exc))
            assert sandbox.identify(b"hello") == "ASCII text, with no line terminators"
            return
        assert got == cookie.buffer(item)

    run()
    # A crash or a hang here is a libmagic bug the Sandbox contained: report it.
    assert failures == [], f"{len(failures)} inputs crashed or hung a worker: " + \
        "; ".join(f"{exc} (first bytes {item[:16]!r})" for item, exc in failures[:3])
