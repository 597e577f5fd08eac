/*
 * tail.c -- lending libmagic a file's tail from the caller's mapping
 * (tail.h): what the patched src/buffer.c asks for instead of reading the
 * last bytes of the file into a malloc'd copy. Built into libmagic.a with
 * alloc.c (build_libmagic.py), unredirected.
 */
#define _GNU_SOURCE
#include <stddef.h>

#include "alloc.h"
#include "tail.h"

#include "mg_tls.h"

/* The mapping registered by mg_tail_set (fd -1: none). */
static MG_TLS int mg_tail_fd = -1;
static MG_TLS const char *mg_tail_base;
static MG_TLS size_t mg_tail_len;

void
mg_tail_set(int fd, const void *base, size_t len)
{
    mg_tail_fd = base != NULL ? fd : -1;
    mg_tail_base = base;
    mg_tail_len = len;
}

int
mg_tail(int fd, long long off, size_t len, void **ebuf)
{
    if (fd < 0 || fd != mg_tail_fd || off < 0 || (unsigned long long)off > mg_tail_len
        || len > mg_tail_len - (size_t)off)
        return 0;
    /* libmagic only reads ebuf (softmagic.c, ascmagic.c): the cast from
       the read-only mapping to its non-const field is never written. */
    *ebuf = (void *)(mg_tail_base + off);
    return 1;
}

void
mg_tail_release(void *ebuf)
{
    const char *p = ebuf;

    if (p != NULL && mg_tail_base != NULL && p >= mg_tail_base
        && p < mg_tail_base + mg_tail_len)
        return;
    mg_free(ebuf);
}
