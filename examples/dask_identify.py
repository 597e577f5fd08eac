"""Identify every file under a directory tree on a dask.distributed cluster.

Usage::

    python examples/dask_identify.py DIRECTORY [SCHEDULER_ADDRESS]

Without a scheduler address a ``LocalCluster`` is started, as you would to
try it on one machine; with one (``tcp://host:8786``) the work goes to that
cluster, whose workers need magicguard installed.

How it works: the client builds a ``magicguard.Pool`` -- which checks the
flags, params and database right there -- and ``scatter``s it to every
worker with ``broadcast=True``.  Pickling a Pool carries only its
configuration, so each worker process unpickles it *once* into its own Pool
(threads and Cookies built there, one Cookie per thread) and every task on
that worker reuses it.  The client walks the tree and sends file names in
batches; a file that cannot be identified costs only its own answer
(``errors="return"``).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator, NamedTuple, Optional, Union

import magicguard

__all__ = ["TreeReport", "identify_tree", "walk"]


class TreeReport(NamedTuple):
    """What ``identify_tree`` found."""

    descriptions: dict[str, str]
    """path -> description, for the files identified."""
    errors: dict[str, str]
    """path -> "ExceptionType: message", for the others."""
    pools: dict[int, set[int]]
    """worker process id -> ids of the Pool objects its tasks used (one each:
    a worker builds its Pool once, from the shipped configuration)."""


def walk(root: Union[str, os.PathLike[str]]) -> Iterator[str]:
    """Every entry under ``root`` but directories, in a stable order.

    Symbolic links are not followed; one to a directory is reported as a link.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames + links):
            yield os.path.join(dirpath, name)


def _identify_batch(paths: list[str],
                    pool: magicguard.Pool) -> tuple[int, int, list[tuple[str, Optional[str], Optional[str]]]]:
    """Runs on a worker: (worker pid, id(pool), [(path, description, error)])."""
    rows = [(r.item, r.value, None if r.error is None else f"{type(r.error).__name__}: {r.error}")
            for r in pool.map(paths, errors="return", kind="path")]
    return os.getpid(), id(pool), rows


def identify_tree(
    client: Any,
    root: Union[str, os.PathLike[str]],
    *,
    flags: Union[magicguard.Flags, int] = magicguard.Flags.NONE,
    threads: Optional[int] = None,
    batch: int = 64,
) -> TreeReport:
    """Identify the files under ``root`` on ``client``'s cluster.

    Args:
        client: a ``dask.distributed.Client``.
        flags: ``magicguard.Flags`` for every worker's Cookies.
        threads: Pool threads per worker process (None: that machine's CPUs).
        batch: file names per task.

    Returns a ``TreeReport``.
    """
    from dask.distributed import as_completed

    pool = magicguard.Pool(threads, flags)  # checks the configuration here
    pool.close()  # only its configuration travels; no thread needed locally
    shipped = client.scatter(pool, broadcast=True)
    paths = list(walk(root))
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    futures = client.map(_identify_batch, batches, pool=shipped, pure=False)
    descriptions: dict[str, str] = {}
    errors: dict[str, str] = {}
    pools: dict[int, set[int]] = {}
    for _future, (pid, pool_id, rows) in as_completed(futures, with_results=True):
        pools.setdefault(pid, set()).add(pool_id)
        for path, value, error in rows:
            if error is None:
                descriptions[path] = value
            else:
                errors[path] = error
    return TreeReport(descriptions, errors, pools)


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    from dask.distributed import Client, LocalCluster

    if len(argv) == 2:
        client = Client(argv[1])
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    with client:
        descriptions, errors, _ = identify_tree(client, argv[0], batch=16)
    for path in sorted(descriptions.keys() | errors.keys()):
        print(f"{path}: {descriptions.get(path) or 'ERROR ' + errors[path]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
