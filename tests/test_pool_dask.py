"""examples/dask_identify.py on a real dask.distributed LocalCluster.

The cluster runs two worker *processes*, as a user would start on one
machine; each must build its Pool from the configuration shipped by the
client, and the answers must be those of an in-process Cookie.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import magicguard
from conftest import ROOT

distributed = pytest.importorskip("distributed", reason="the 'test' extra installs dask.distributed")

sys.path.insert(0, str(ROOT / "examples"))
import dask_identify  # noqa: E402


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, worker_dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def _tree(root: Path, corpus: list[str]) -> None:
    for i, path in enumerate(corpus[:60]):
        sub = root / f"d{i % 4}" / f"e{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, sub / f"{i:03d}-{os.path.basename(path)}")
    os.mkfifo(root / "a-fifo")
    (root / "d0" / "link").symlink_to("e0")


def test_identify_tree_on_local_cluster(client, tmp_path: Path, corpus: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Every file under the tree gets Cookie.file's answer; the FIFO gets its
    own error and costs nothing else; the work ran in the worker processes,
    each using one Pool for all its tasks."""
    _tree(tmp_path, corpus)
    report = dask_identify.identify_tree(client, tmp_path, batch=8)
    cookie = magicguard.Cookie()
    paths = list(dask_identify.walk(tmp_path))
    fifo = str(tmp_path / "a-fifo")
    # A FIFO is described by name, as file -b does, never opened.
    assert set(report.descriptions) == set(paths)
    assert all(report.descriptions[p] == cookie.file(p) for p in report.descriptions)
    assert report.descriptions[str(tmp_path / "d0" / "link")] == "symbolic link to e0"
    assert report.descriptions[fifo] == "fifo (named pipe)"
    assert list(report.errors) == []
    assert os.getpid() not in report.pools
    assert set(report.pools) <= set(client.run(os.getpid).values())
    assert all(len(ids) == 1 for ids in report.pools.values()), report.pools


def test_identify_tree_ships_flags(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The flags given to identify_tree reach the workers' Cookies."""
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.5\n")
    report = dask_identify.identify_tree(client, tmp_path, flags=magicguard.Flags.MIME_TYPE)
    assert report.descriptions == {str(tmp_path / "doc.pdf"): "application/pdf"}
