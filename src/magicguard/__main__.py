"""``python -m magicguard``: the same command as the ``magicguard`` script."""

from .cli import console_main

if __name__ == "__main__":
    console_main()
