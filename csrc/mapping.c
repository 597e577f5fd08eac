/*
 * mapping.c -- the memory a Mapping is: mmap of a file or a read-only
 * anonymous copy, munmap, and the guarded strided read of its bytes
 * (mg_gather). Reads of file pages go through the trap (trap_internal.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trap.h"
#include "trap_internal.h"

#if !defined(MAP_POPULATE)
/* Read one byte of every page of [base, base + len) inside the trap. */
static int
mg_prefault(const void *base, size_t len, mg_fault *fault)
{
    struct mg_guard g;

    if (mg_prepare(&g, base, len, fault) != 0)
        return -1;
    if (MG_SIGSETJMP(g.env) == 0) {
        /* Locals live only on this side of the jump (-Wclobbered). */
        const volatile unsigned char *p = base;
        size_t page = (size_t)mg_page(), i;
        unsigned char sink = 0;

        mg_push(&g);
        for (i = 0; i < len; i += page)
            sink ^= p[i];
        mg_pop(&g);
        (void)sink;
        return 0;
    }
    mg_landed(&g, base, fault);
    return -1;
}
#endif

void *
mg_map(int fd, size_t len, int populate, int *err)
{
    int flags = MAP_PRIVATE;
    void *p;

#if defined(MAP_POPULATE)
    if (populate)
        flags |= MAP_POPULATE;
#endif
    /* PROT_READ only: nothing may write the file's pages or run them. */
    p = mmap(NULL, len, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
#if !defined(MAP_POPULATE)
    /* No MAP_POPULATE (macOS): the closest equivalent is to ask for
       read-ahead and then read one byte per page, inside the trap (the
       file may shrink meanwhile; a fault here is ignored, later reads
       meet it again and report it). */
    if (populate) {
        mg_fault ignored;
        (void)madvise(p, len, MADV_WILLNEED);
        (void)mg_prefault(p, len, &ignored);
    }
#endif
    *err = 0;
    return p;
}

void *
mg_map_copy(const void *src, size_t len, int *err)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    memcpy(p, src, len);
    if (mprotect(p, len, PROT_READ) != 0) {
        *err = errno;
        (void)munmap(p, len);
        return NULL;
    }
    *err = 0;
    return p;
}

int
mg_unmap(void *addr, size_t len)
{
    return munmap(addr, len);
}

int
mg_gather(unsigned char *dst, const unsigned char *src, size_t start,
          long step, size_t n, mg_fault *fault)
{
    struct mg_guard g;
    size_t lo, hi;
    int sparse;

    if (n == 0) {
        memset(fault, 0, sizeof(*fault));
        return 0;
    }
    /* The span holding every byte read, for the guard. */
    if (step >= 0) {
        lo = start;
        hi = start + (size_t)step * (n - 1) + 1;
    } else {
        lo = start - (size_t)(-step) * (n - 1);
        hi = start + 1;
    }
    if (mg_prepare(&g, src + lo, hi - lo, fault) != 0)
        return -1;
    /* Sparse reads of a file mapping: without MADV_RANDOM every fault
       reads ahead around its page (measured: 9-22 s instead of 0.04 s for
       3,072 bytes 1 MiB apart in a fresh 3 GiB file). Put back after. */
    sparse = (size_t)(step < 0 ? -step : step) > 2 * mg_page();
    if (sparse)
        (void)madvise((void *)g.lo, g.hi - g.lo, MADV_RANDOM);
    if (MG_SIGSETJMP(g.env) == 0) {
        size_t i;
        const volatile unsigned char *p = src + start;

        mg_push(&g);
        for (i = 0; i < n; i++, p += step)
            dst[i] = *p;
        mg_pop(&g);
        if (sparse)
            (void)madvise((void *)g.lo, g.hi - g.lo, MADV_NORMAL);
        return 0;
    }
    mg_landed(&g, src + lo, fault);
    if (sparse)
        (void)madvise((void *)g.lo, g.hi - g.lo, MADV_NORMAL);
    fault->offset += lo;
    return -1;
}
