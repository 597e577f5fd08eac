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

from ._version import __version__

# typing is imported only by type checkers (at run time it costs ~16M
# instructions, ~4 ms); the names below are for them and for readers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._batch import Kind, Result
    from ._helpers import from_buffer, from_file
    from ._lowlevel import BUNDLED as BUNDLED_LIBMAGIC
    from ._lowlevel import default_database_path
    from ._lowlevel import engine as libmagic_build
    from ._lowlevel import version as libmagic_version
    from .cookie import Cookie
    from .errors import DatabaseError, FaultError, LimitError, LockError, MagicError, ReentrancyError, WorkerCrashed
    from .errors import TimeoutError as TimeoutError  # noqa: A004 - "as": re-exported for mypy, kept out of __all__
    from .flags import Flags, Param
    from .mapping import Mapping
    from .policy import Policy
    from .pool import Pool
    from .sandbox import UNTRUSTED_PARAMS, Sandbox
    from .verdict import Finding, Verdict, ainspect, inspect

# Every public name is imported on first use (PEP 562): `import magicguard`
# costs only this module and _version.  What a name pulls in is paid by the
# program that uses it -- cffi and the extension for Cookie (~3 ms);
# asyncio and concurrent.futures for Pool (~45 ms); subprocess and pickle for
# Sandbox -- and not by the command line, which needs neither Cookie nor
# Mapping (bench/RESULTS.md, "CLI start-up").  Name -> (module, attribute).
_LAZY = {
    "from_buffer": ("._helpers", "from_buffer"),
    "from_file": ("._helpers", "from_file"),
    "BUNDLED_LIBMAGIC": ("._lowlevel", "BUNDLED"),
    "default_database_path": ("._lowlevel", "default_database_path"),
    "libmagic_build": ("._lowlevel", "engine"),
    "libmagic_version": ("._lowlevel", "version"),
    "Cookie": (".cookie", "Cookie"),
    "Mapping": (".mapping", "Mapping"),
    "Flags": (".flags", "Flags"),
    "Param": (".flags", "Param"),
    "MagicError": (".errors", "MagicError"),
    "DatabaseError": (".errors", "DatabaseError"),
    "FaultError": (".errors", "FaultError"),
    "LimitError": (".errors", "LimitError"),
    "LockError": (".errors", "LockError"),
    "ReentrancyError": (".errors", "ReentrancyError"),
    "WorkerCrashed": (".errors", "WorkerCrashed"),
    "TimeoutError": (".errors", "TimeoutError"),
    "Kind": ("._batch", "Kind"),
    "Result": ("._batch", "Result"),
    "Pool": (".pool", "Pool"),
    "Sandbox": (".sandbox", "Sandbox"),
    "UNTRUSTED_PARAMS": (".sandbox", "UNTRUSTED_PARAMS"),
    # Upload verdicts (docs/uploads.md).
    "inspect": (".verdict", "inspect"),
    "ainspect": (".verdict", "ainspect"),
    "Verdict": (".verdict", "Verdict"),
    "Finding": (".verdict", "Finding"),
    "Policy": (".policy", "Policy"),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562) and keep it."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(where[0], __name__), where[1])
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
