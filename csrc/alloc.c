/*
 * alloc.c -- the allocation wrappers behind alloc_redirect.h and the
 * per-thread list of blocks allocated while armed (see alloc.h).
 *
 * Only the arming thread's own list is touched: libmagic runs a call on
 * one thread, so no lock is needed. Nothing here runs in a signal handler:
 * the SIGBUS handler never allocates, and faults never happen inside these
 * wrappers (they touch no mapped memory except in vasprintf's arguments,
 * which libmagic takes from its own buffers, never from the mapping).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#include "mg_tls.h"

static MG_TLS int mg_armed;
static MG_TLS void **mg_blocks;    /* libc-allocated, never tracked */
static MG_TLS size_t mg_nblocks, mg_capblocks;

/*
 * The list is a heap block per thread; a thread that exits must free it,
 * or a thread-per-request server leaks it for every thread that ever made
 * a guarded call. A pthread key's destructor runs at thread exit with the
 * key's value: the list (glibc runs it for threads Python starts, which
 * are pthreads, and for the main thread only at pthread_exit, never at
 * process exit -- nothing to free then).
 */
static pthread_key_t mg_blocks_key;
static pthread_once_t mg_blocks_once = PTHREAD_ONCE_INIT;
static int mg_blocks_key_ok;

static void
mg_blocks_destroy(void *list)
{
    /* TLS of this thread may already be torn down; free what the key
       holds, which is the list. */
    free(list);
}

static void
mg_blocks_key_init(void)
{
    mg_blocks_key_ok = pthread_key_create(&mg_blocks_key, mg_blocks_destroy) == 0;
}

static void
mg_remember(void *p)
{
    if (!mg_armed || p == NULL)
        return;
    if (mg_nblocks == mg_capblocks) {
        size_t cap = mg_capblocks ? 2 * mg_capblocks : 64;
        void **nb = realloc(mg_blocks, cap * sizeof(*nb));
        if (nb == NULL) {
            /* Cannot remember: the block stays the caller's, and a fault
               before it is freed leaks it. Never worse than no tracking. */
            return;
        }
        if (mg_blocks == NULL || nb != mg_blocks) {
            (void)pthread_once(&mg_blocks_once, mg_blocks_key_init);
            if (mg_blocks_key_ok)
                (void)pthread_setspecific(mg_blocks_key, nb);
        }
        mg_blocks = nb;
        mg_capblocks = cap;
    }
    mg_blocks[mg_nblocks++] = p;
}

/* Drop p from the list; 1 if it was there. */
static int
mg_forget(void *p)
{
    size_t i;

    if (!mg_armed || p == NULL)
        return 0;
    /* Newest first: libmagic frees mostly what it allocated last. */
    for (i = mg_nblocks; i-- > 0;) {
        if (mg_blocks[i] == p) {
            mg_blocks[i] = mg_blocks[--mg_nblocks];
            return 1;
        }
    }
    return 0;
}

void
mg_alloc_arm(void)
{
    mg_nblocks = 0;
    mg_armed = 1;
}

void
mg_alloc_disarm(void)
{
    mg_armed = 0;
    mg_nblocks = 0;
}

size_t
mg_alloc_reclaim(void)
{
    size_t n = mg_nblocks, i;

    mg_armed = 0;
    for (i = 0; i < n; i++)
        free(mg_blocks[i]);
    mg_nblocks = 0;
    return n;
}

void *
mg_malloc(size_t n)
{
    void *p = malloc(n);
    mg_remember(p);
    return p;
}

void *
mg_calloc(size_t n, size_t m)
{
    void *p = calloc(n, m);
    mg_remember(p);
    return p;
}

void *
mg_realloc(void *old, size_t n)
{
    /* Forget old before realloc may free it (its value is indeterminate
       afterwards); on failure old is untouched and goes back on the list,
       into the slot just freed. */
    int tracked = mg_forget(old);
    void *p = realloc(old, n);

    if (p != NULL)
        mg_remember(p);
    else if (tracked)
        mg_remember(old);
    return p;
}

void
mg_free(void *p)
{
    (void)mg_forget(p);
    free(p);
}

char *
mg_strdup(const char *s)
{
    char *p = strdup(s);
    mg_remember(p);
    return p;
}

char *
mg_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    mg_remember(p);
    return p;
}

int
mg_vasprintf(char **out, const char *fmt, va_list ap)
{
    int n = vasprintf(out, fmt, ap);
    if (n >= 0)
        mg_remember(*out);
    return n;
}

int
mg_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = mg_vasprintf(out, fmt, ap);
    va_end(ap);
    return n;
}
