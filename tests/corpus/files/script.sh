#!/bin/sh
set -e
for f in "$@"; do
    echo "$f"
done
