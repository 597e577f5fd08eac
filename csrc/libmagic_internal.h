/*
 * libmagic_internal.h -- the libmagic internals identify.c calls (bundled
 * build only): declarations only, written to match src/file.h of the
 * bundled release (file-5.47). build_libmagic.py compiles this header in
 * one translation unit after the unpacked, patched src/file.h
 * (check_internal_prototypes), so a prototype that differs from
 * libmagic's is a "conflicting types" error and the build stops.
 */
#ifndef MAGICGUARD_LIBMAGIC_INTERNAL_H
#define MAGICGUARD_LIBMAGIC_INTERNAL_H

#include <stddef.h>

struct magic_set;
struct stat;

int file_reset(struct magic_set *, int);
int file_buffer(struct magic_set *, int, struct stat *, const char *,
                const void *, size_t);
const char *file_getbuffer(struct magic_set *);
int file_printf(struct magic_set *, const char *, ...);

#endif
