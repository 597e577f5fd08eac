"""``python -m magicguard``: the same command as the ``magicguard`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
