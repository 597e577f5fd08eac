"""The tuned bundled libmagic answers exactly as a stock build of the same sources.

``patches/libmagic/tuning/`` changes how libmagic finds its answers, never
which: this runs a bounded sample of ``scripts/differential`` (tests/differential.py,
which see for the inputs) -- tests/c/diff_driver.c linked once against the bundled,
tuned build and once against a build with ``MAGICGUARD_LIBMAGIC_TUNING=0``
-- and requires byte-identical outputs.  ``scripts/differential`` without
``--quick`` is the full run.
"""

from __future__ import annotations

import importlib
import json
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

import magicguard

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not magicguard.BUNDLED_LIBMAGIC,
    reason="this magicguard links the system libmagic; the tuned engine is the bundled build's",
)


@pytest.fixture(scope="module")
def differential() -> ModuleType:
    """tests/differential.py (also run by scripts/differential)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        return importlib.import_module("differential")
    finally:
        sys.path.remove(str(ROOT / "tests"))


@pytest.fixture(scope="module")
def builds(differential: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    """(stock, tuned) builds with the driver linked against each (the stock
    one is built on first use, in build/libmagic-stock)."""
    return differential.builds(tmp_path_factory.mktemp("differential"))  # type: ignore[no-any-return]


def _engine(prefix: Path) -> dict[str, object]:
    data = json.loads((prefix / "share" / "magicguard-engine.json").read_text())
    assert isinstance(data, dict)
    return data


def test_builds_differ_exactly_by_the_tuning_patches(builds: tuple[object, object]) -> None:
    stock, tuned = builds
    tuning = sorted(p.name for p in (ROOT / "patches" / "libmagic" / "tuning").glob("*.patch"))
    assert tuning, "no tuning patches"
    s, t = _engine(stock.prefix), _engine(tuned.prefix)  # type: ignore[attr-defined]
    assert s["tuning"] is False and t["tuning"] is True
    s_patches, t_patches = json.dumps(s["patches"]), json.dumps(t["patches"])
    for name in tuning:
        assert name.removesuffix(".patch") in t_patches
        assert name.removesuffix(".patch") not in s_patches


def test_tuned_answers_equal_stock_answers(differential: ModuleType, builds: tuple[object, object],
                                           tmp_path: Path) -> None:
    stock, tuned = builds
    paths = differential.generated_files(tmp_path / "generated", extra=(stock.driver,))  # type: ignore[attr-defined]
    paths += differential.system_corpus(40, 2, seed=547)
    jobs = differential.quick_jobs(paths, 100)
    outcome = differential.compare(stock, tuned, jobs, timeout=600)
    assert outcome.jobs == len(jobs) == 3
    # every file, flag and variant answered: at least one line each
    assert outcome.answers > len(paths) * len(differential.QUICK_FLAGS) * 10
    assert outcome.differences == 0, outcome.report


def test_comparison_reports_a_difference(differential: ModuleType, builds: tuple[object, object],
                                         tmp_path: Path) -> None:
    """The comparison can fail: a 'tuned' driver that changes one answer is caught."""
    stock, _ = builds
    fake = tmp_path / "driver-altered"
    fake.write_text(f"#!/bin/sh\n{stock.driver} \"$@\" | sed '5s/$/ (altered)/'\n")  # type: ignore[attr-defined]
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    altered = differential.Build("altered", stock.prefix, fake)  # type: ignore[attr-defined]
    paths = differential.generated_files(tmp_path / "generated")[:5]
    job = differential.Job(tuple(paths), (0,), "C", "", 1, 0, (16,))
    outcome = differential.compare(stock, altered, [job])
    assert outcome.differences == 1
    assert "(altered)" in outcome.report


def test_stock_build_is_reachable_by_environment(differential: ModuleType) -> None:
    """MAGICGUARD_LIBMAGIC_TUNING=0 selects the build without tuning patches."""
    import build_libmagic

    env_before = os.environ.get("MAGICGUARD_LIBMAGIC_TUNING")
    try:
        os.environ["MAGICGUARD_LIBMAGIC_TUNING"] = "0"
        stock_patches = [p.parent.name for p in build_libmagic.patch_files()]
        os.environ["MAGICGUARD_LIBMAGIC_TUNING"] = "1"
        tuned_patches = [p.parent.name for p in build_libmagic.patch_files()]
    finally:
        if env_before is None:
            os.environ.pop("MAGICGUARD_LIBMAGIC_TUNING", None)
        else:
            os.environ["MAGICGUARD_LIBMAGIC_TUNING"] = env_before
    assert "tuning" not in stock_patches
    assert "tuning" in tuned_patches
    assert [p for p in tuned_patches if p != "tuning"] == stock_patches
