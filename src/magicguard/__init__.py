"""magicguard: identify file types with libmagic, safely and fast.

>>> import magicguard
>>> magicguard.from_buffer(b"%PDF-1.7\\n")
'PDF document, version 1.7'

The pieces: ``Cookie`` (a libmagic handle), ``Flags`` and ``Param`` (its
options, values from <magic.h>), ``Mapping`` (a read-only file mapping
identified in place, its faults trapped), the one-line helpers ``from_file``
and ``from_buffer``, ``Pool`` (identify on every core; ``Result`` and ``Kind``
for its batches), ``Sandbox`` (the same in worker processes, with limits;
``UNTRUSTED_PARAMS``), and the exceptions ``MagicError``, ``DatabaseError``,
``FaultError``, ``LockError``, ``LimitError``, ``WorkerCrashed`` and
``magicguard.TimeoutError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._batch import Kind, Result
from ._helpers import from_buffer, from_file
from ._lowlevel import BUNDLED as BUNDLED_LIBMAGIC
from ._lowlevel import default_database_path
from ._lowlevel import version as libmagic_version
from ._version import __version__
from .cookie import Cookie
from .errors import DatabaseError, FaultError, LimitError, LockError, MagicError, WorkerCrashed
from .errors import TimeoutError as TimeoutError  # noqa: A004 - "as": re-exported for mypy, kept out of __all__
from .flags import Flags, Param
from .mapping import Mapping
from .pool import Pool
from .sandbox import UNTRUSTED_PARAMS, Sandbox


# -- upload verdicts (issue 16), imported on first use ------------------------
if TYPE_CHECKING:  # the type checker sees the real names; runtime imports them lazily
    from .policy import Policy
    from .verdict import Finding, Verdict, ainspect, inspect

_LAZY = {
    "inspect": ".verdict",
    "ainspect": ".verdict",
    "Verdict": ".verdict",
    "Finding": ".verdict",
    "Policy": ".policy",
}


def __getattr__(name: str) -> object:
    """Import the upload-verdict names on first use, so ``import magicguard`` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'magicguard' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
# -- end of upload verdicts ---------------------------------------------------

__all__ = [
    "BUNDLED_LIBMAGIC",
    "Cookie",
    "DatabaseError",
    "Finding",
    "FaultError",
    "Flags",
    "Kind",
    "LimitError",
    "LockError",
    "MagicError",
    "Mapping",
    "Param",
    "Policy",
    "Pool",
    "Result",
    "Sandbox",
    "UNTRUSTED_PARAMS",
    "Verdict",
    "WorkerCrashed",
    "__version__",
    "ainspect",
    "default_database_path",
    "from_buffer",
    "from_file",
    "inspect",
    "libmagic_version",
]
