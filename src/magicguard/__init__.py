"""magicguard: identify file types with libmagic, safely and fast.

>>> import magicguard
>>> magicguard.from_buffer(b"%PDF-1.7\\n")
'PDF document, version 1.7'

The pieces: ``Cookie`` (a libmagic handle), ``Flags`` and ``Param`` (its
options, values from <magic.h>), the one-line helpers ``from_file`` and
``from_buffer``, ``Pool`` (identify on every core; ``Result`` and ``Kind``
for its batches), and the exceptions ``MagicError`` and ``DatabaseError``.
"""

from __future__ import annotations

from ._batch import Kind, Result
from ._helpers import from_buffer, from_file
from ._lowlevel import BUNDLED as BUNDLED_LIBMAGIC
from ._lowlevel import default_database_path
from ._lowlevel import version as libmagic_version
from .cookie import Cookie
from .errors import DatabaseError, MagicError
from .flags import Flags, Param
from .pool import Pool

__version__ = "0.1.0"

__all__ = [
    "BUNDLED_LIBMAGIC",
    "Cookie",
    "DatabaseError",
    "Flags",
    "Kind",
    "MagicError",
    "Param",
    "Pool",
    "Result",
    "__version__",
    "default_database_path",
    "from_buffer",
    "from_file",
    "libmagic_version",
]
