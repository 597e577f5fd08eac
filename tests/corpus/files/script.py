#!/usr/bin/env python3
"""A Python script."""

import sys


def main() -> int:
    print(sys.argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
