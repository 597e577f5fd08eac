"""The version of magicguard: the one place it is written.

pyproject.toml reads it (``[tool.setuptools.dynamic]``) and ``magicguard``
re-exports it as ``__version__``.
"""

__version__ = "0.1.0"
