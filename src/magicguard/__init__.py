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
``FaultError``, ``LockError``, ``LimitError``, ``ReentrancyError``, ``WorkerCrashed`` and
``magicguard.TimeoutError``.
"""

from __future__ import annotations

from ._helpers import from_buffer, from_file
from ._lowlevel import BUNDLED as BUNDLED_LIBMAGIC
from ._lowlevel import default_database_path
from ._lowlevel import engine as libmagic_build
from ._lowlevel import version as libmagic_version
from ._version import __version__
from .cookie import Cookie
from .errors import DatabaseError, FaultError, LimitError, LockError, MagicError, ReentrancyError, WorkerCrashed
from .errors import TimeoutError as TimeoutError  # noqa: A004 - "as": re-exported for mypy, kept out of __all__
from .flags import Flags, Param
from .mapping import Mapping

# typing is imported only by type checkers: at run time it costs ~40M
# instructions (~10 ms) of `import magicguard` (see bench/RESULTS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from ._batch import Kind, Result
    from .policy import Policy
    from .pool import Pool
    from .sandbox import UNTRUSTED_PARAMS, Sandbox
    from .verdict import Finding, Verdict, ainspect, inspect

# Imported on first use (PEP 562): the batch machinery pulls in asyncio and
# concurrent.futures (~45 ms), the Sandbox subprocess and pickle; a program
# that only identifies should not pay for them at import.
_LAZY = {
    "Kind": "._batch",
    "Result": "._batch",
    "Pool": ".pool",
    "Sandbox": ".sandbox",
    "UNTRUSTED_PARAMS": ".sandbox",
    # Upload verdicts (docs/uploads.md).
    "inspect": ".verdict",
    "ainspect": ".verdict",
    "Verdict": ".verdict",
    "Finding": ".verdict",
    "Policy": ".policy",
}


def __getattr__(name: str) -> Any:
    """Import the batch, sandbox and upload-verdict names on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BUNDLED_LIBMAGIC",
    "UNTRUSTED_PARAMS",
    "Cookie",
    "DatabaseError",
    "FaultError",
    "Finding",
    "Flags",
    "Kind",
    "LimitError",
    "LockError",
    "MagicError",
    "Mapping",
    "Param",
    "Policy",
    "Pool",
    "ReentrancyError",
    "Result",
    "Sandbox",
    "Verdict",
    "WorkerCrashed",
    "__version__",
    "ainspect",
    "default_database_path",
    "from_buffer",
    "from_file",
    "inspect",
    "libmagic_build",
    "libmagic_version",
]
