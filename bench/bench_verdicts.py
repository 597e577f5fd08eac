"""How often an upload verdict is right, per kind of file: magicguard.inspect
against what users write by hand today with python-magic and mimetypes.

The test set is generated (tests/verdict_corpus.py): correctly named files of
22 kinds, renamed files, lying Content-Types and polyglots.  "Right" means:

* a correctly named file: allowed, labelled as its true type, no mismatch;
* a planted case: the planted problem reported and the file refused.

The hand-written reference, as python-magic's README and most answers show
it: ``magic.from_buffer(head, mime=True)`` on the first 2048 bytes, then a
mismatch when ``mimetypes.guess_type(name)[0]`` differs from it, or when the
declared Content-Type differs from it.  Its type is "right" when the label of
the MIME type it found (magicguard.labels, for a fair comparison) is the truth.
A second reference column compares labels instead of MIME strings (no
mismatch for an alias, or for a name mimetypes does not know), to separate
what string comparison costs from what a first-bytes MIME type cannot see.

    python bench/bench_verdicts.py [--per-kind N] [--head BYTES]
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import magicguard  # noqa: E402
import verdict_corpus as corpus  # noqa: E402
from magicguard.labels import label_for  # noqa: E402

MISMATCH = {"extension_mismatch", "declared_type_mismatch", "multiple_formats"}


def by_hand(magic_mod: object, path: str, name: str, declared: str | None,
            head: int) -> tuple[bool, bool, str]:
    """(mismatch flagged comparing MIME strings, mismatch flagged comparing
    labels, detected MIME type), the way users do it with python-magic."""
    with open(path, "rb") as f:
        data = f.read(head)
    detected = magic_mod.from_buffer(data, mime=True)  # type: ignore[attr-defined]
    guessed, _ = mimetypes.guess_type(name)
    raw = guessed != detected or (declared is not None and declared != detected)
    # The same with magicguard's label table doing the aliasing: what is left
    # is what a MIME type from the first bytes cannot tell.
    # application/octet-stream (what mimetypes says for .so) is generic: not compared.
    labelled = any(t is not None and t != "application/octet-stream"
                   and label_for(t) != label_for(detected) for t in (guessed, declared))
    return raw, labelled, detected


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--head", type=int, default=2048)
    args = ap.parse_args()
    import magic  # python-magic

    with tempfile.TemporaryDirectory() as tmp:
        cases = corpus.build(tmp, per_kind=args.per_kind)
        rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n, ours, raw, labels
        ours_t, theirs_t = [], []
        misses: list[str] = []
        for c in cases:
            t = time.perf_counter()
            v = magicguard.inspect(c.path, filename=c.name, declared_type=c.declared)
            ours_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            flagged, flagged_labels, detected = by_hand(magic, c.path, c.name, c.declared,
                                                        args.head)
            theirs_t.append(time.perf_counter() - t)
            if c.kind == "correct":
                ours = v.allowed and v.label == c.truth and not (v.codes & MISMATCH)
                theirs = not flagged and label_for(detected) == c.truth
                theirs_l = not flagged_labels and label_for(detected) == c.truth
            else:
                ours = c.expect <= v.codes and not v.allowed
                theirs, theirs_l = flagged, flagged_labels
            key = c.group if c.kind == "correct" else c.kind
            row = rows[key]
            row[0] += 1
            row[1] += ours
            row[2] += theirs
            row[3] += theirs_l
            if not ours:
                misses.append(f"{c.name}: {v.label} {sorted(v.codes)}")

    mg_version = magicguard.libmagic_version()
    pm_version = getattr(magic, "version", lambda: "?")()
    print(f"files: {len(cases)} ({args.per_kind} per correctly named kind); "
          f"magicguard libmagic {mg_version}, python-magic over the system libmagic {pm_version}; "
          f"reference head {args.head} bytes")
    print("| kind | n | magicguard | python-magic + mimetypes (MIME strings) | "
          "same, compared by label |")
    print("|---|---:|---:|---:|---:|")
    total = [0, 0, 0, 0]

    def cell(k: int, n: int) -> str:
        return f"{k}/{n} ({100 * k / n:.0f}%)"

    for key in sorted(rows, key=lambda k: (k in ("renamed", "declared", "polyglot"), k)):
        n, a, b, c2 = rows[key]
        total = [total[0] + n, total[1] + a, total[2] + b, total[3] + c2]
        print(f"| {key} | {n} | {cell(a, n)} | {cell(b, n)} | {cell(c2, n)} |")
    n, a, b, c2 = total
    print(f"| **all** | {n} | {cell(a, n)} | {cell(b, n)} | {cell(c2, n)} |")

    def q(xs: list[float]) -> str:
        qs = statistics.quantiles(xs, n=4)
        return f"median {qs[1] * 1e6:.0f} us (quartiles {qs[0] * 1e6:.0f}-{qs[2] * 1e6:.0f})"

    print(f"time per file: magicguard.inspect {q(ours_t)}; by hand {q(theirs_t)}; "
          f"ratio of medians {statistics.median(ours_t) / statistics.median(theirs_t):.1f}x")
    if misses:
        print("magicguard wrong on:", *misses, sep="\n  ")


if __name__ == "__main__":
    main()
