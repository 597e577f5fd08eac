/*
 * common.h -- what every magicguard fuzz harness shares (fuzz/common.c).
 *
 * The harnesses drive libmagic the way magicguard's Python layer does, in
 * the same process configuration: the bundled libmagic (built with the
 * allocation redirection of csrc/alloc_redirect.h, and with whatever
 * decompressors build_libmagic.py links in) plus the shim of csrc/trap.c
 * and csrc/shim.c, all compiled with ASan, UBSan and libFuzzer's coverage.
 */
#ifndef MAGICGUARD_FUZZ_COMMON_H
#define MAGICGUARD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <magic.h>

#include "trap.h"

/*
 * magic_open(flags) and load the database the build installed (the one
 * magicguard ships), as Cookie() does; aborts if that fails, since a
 * harness without a database fuzzes nothing.
 */
magic_t fz_cookie(int flags);

/*
 * magic_load_buffers over a private, 16-byte aligned copy of data, as
 * Handle.load_buffers does (libmagic keeps pointers into it and may
 * byte-swap it in place): restores the flags afterwards, as
 * Handle._restoring_flags does. Returns libmagic's status; on success
 * *keep holds the copy, to free after magic_close.
 */
int fz_load_buffer(magic_t ms, const uint8_t *data, size_t size, void **keep);

/*
 * Cookie.buffer(bytes): mg_buffer inside the SIGBUS trap. A fault cannot
 * happen on heap memory, so one is a harness bug: abort. Returns the
 * answer or NULL (libmagic's error); the answer's length is touched so
 * that ASan checks the whole string.
 */
const char *fz_buffer(magic_t ms, const void *data, size_t size);

/* Read every byte of s (ASan checks it is one valid string). */
void fz_consume(const char *s);

/*
 * A private working directory for the harnesses that need files
 * (magic_compile writes <name>.mgc into the current directory); created
 * once, the process chdir()s into it. Returns its path.
 */
const char *fz_workdir(void);

/* Write all of data to fd (aborts on failure, or if fd is negative: the
 * failed open or memfd_create that made it). */
void fz_write_all(int fd, const uint8_t *data, size_t size);

/* Write data to path, truncating; aborts on failure. */
void fz_write_file(const char *path, const uint8_t *data, size_t size);

#endif
