#!/bin/sh
# Build the bundled libmagic release with its patches (and the allocation redirection, as build_libmagic.py
# does) and the trap with AddressSanitizer, then run tests/c/trap_asan.c over
# the test corpus.  About a minute of build on 2 cores; not part of CI.
#   PYTHON=.venv/bin/python sh tests/c/run_trap_asan.sh [WORKDIR]
# (PYTHON: an interpreter with magicguard installed, for the corpus.)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-$(mktemp -d)}
PY=$(command -v "${PYTHON:-python3}" || echo "${PYTHON:-python3}")
case $PY in /*) ;; *) PY=$PWD/$PY ;; esac
CSRC=$ROOT/csrc
ASAN="-O1 -g -fsanitize=address -fno-omit-frame-pointer"
TARBALL=$("$PY" -c "import sys; sys.path.insert(0, '$ROOT'); import build_libmagic; print(build_libmagic.find_tarball())")
TOP=$("$PY" -c "import sys; sys.path.insert(0, '$ROOT'); import build_libmagic; print(build_libmagic.LIBMAGIC.topdir)")
mkdir -p "$WORK" && cd "$WORK"
rm -rf "$TOP" && tar xzf "$TARBALL"
"$PY" -c "import sys, pathlib; sys.path.insert(0, '$ROOT'); import build_libmagic; build_libmagic._apply_patches(pathlib.Path('$TOP'))"
for hook in alloc tail capture; do cc $ASAN -fPIC -c "$CSRC/$hook.c" -o $hook.o; done
(cd "$TOP" && ./configure --prefix="$WORK/prefix" --disable-shared --enable-static --with-pic \
    --disable-zlib --disable-bzlib --disable-xzlib --disable-zstdlib --disable-lzlib \
    --disable-lrziplib --disable-libseccomp --disable-dependency-tracking \
    CFLAGS="$ASAN -U_FORTIFY_SOURCE -include $CSRC/alloc_redirect.h" \
    LDFLAGS=-fsanitize=address LIBS="$WORK/alloc.o $WORK/tail.o $WORK/capture.o" >configure.log 2>&1 \
    && make -j2 >make.log 2>&1 && make install >>make.log 2>&1)
cc $ASAN -Wall -Wextra -DMG_BUNDLED_BUILD=1 -I"$WORK/prefix/include" -I"$CSRC" \
    "$ROOT/tests/c/trap_asan.c" "$CSRC/trap.c" "$CSRC/identify.c" "$CSRC/handle.c" "$CSRC/mapping.c" \
    alloc.o tail.o capture.o "$WORK/prefix/lib/libmagic.a" -o trap_asan
"$PY" -c "import sys; sys.path.insert(0, '$ROOT/tests'); from conftest import build_corpus; print('\n'.join(build_corpus()))" >corpus.txt
./trap_asan "$WORK/prefix/share/misc/magic.mgc" corpus.txt
