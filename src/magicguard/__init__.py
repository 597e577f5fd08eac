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

from ._batch import Kind, Result
from ._helpers import from_buffer, from_file
from ._lowlevel import BUNDLED as BUNDLED_LIBMAGIC
from ._lowlevel import default_database_path
from ._lowlevel import engine as libmagic_build
from ._lowlevel import version as libmagic_version
from .cookie import Cookie
from .errors import DatabaseError, FaultError, LimitError, LockError, MagicError, WorkerCrashed
from .errors import TimeoutError  # noqa: A004, F401 - magicguard.TimeoutError; kept out of __all__
from .flags import Flags, Param
from .mapping import Mapping
from .pool import Pool
from .sandbox import UNTRUSTED_PARAMS, Sandbox

__version__ = "0.1.0"

__all__ = [
    "BUNDLED_LIBMAGIC",
    "Cookie",
    "DatabaseError",
    "FaultError",
    "Flags",
    "Kind",
    "LimitError",
    "LockError",
    "MagicError",
    "Mapping",
    "Param",
    "Pool",
    "Result",
    "Sandbox",
    "UNTRUSTED_PARAMS",
    "WorkerCrashed",
    "__version__",
    "default_database_path",
    "from_buffer",
    "from_file",
    "libmagic_build",
    "libmagic_version",
]
