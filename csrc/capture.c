/*
 * capture.c -- libmagic's stderr, captured (capture.h): the stream the
 * patched sources print to while a database operation captures, and the
 * per-thread buffer it fills. Built into libmagic.a with alloc.c
 * (build_libmagic.py), unredirected: its buffer comes from libc and is
 * never tracked.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "capture.h"

#include "mg_tls.h"

static MG_TLS int mg_capturing;
static MG_TLS char *mg_cap_buf;    /* libc-allocated, never tracked */
static MG_TLS size_t mg_cap_len;
static FILE *mg_cap_file;
static pthread_once_t mg_cap_once = PTHREAD_ONCE_INIT;

/* The stream's write function: runs on the thread that printed (the
   stream is unbuffered), so the bytes land in that thread's buffer. */
static ssize_t
mg_cap_write(void *cookie, const char *buf, size_t n)
{
    size_t room = MG_CAPTURE_MAX - mg_cap_len, take = n < room ? n : room;
    char *nb;

    (void)cookie;
    if (take > 0) {
        nb = realloc(mg_cap_buf, mg_cap_len + take + 1);
        if (nb != NULL) {
            memcpy(nb + mg_cap_len, buf, take);
            mg_cap_len += take;
            nb[mg_cap_len] = '\0';
            mg_cap_buf = nb;
        }
    }
    return (ssize_t)n;   /* beyond the cap: dropped, never printed */
}

static void
mg_cap_init(void)
{
#if defined(__GLIBC__) || defined(__linux__)
    cookie_io_functions_t io;

    memset(&io, 0, sizeof(io));
    io.write = mg_cap_write;
    mg_cap_file = fopencookie(NULL, "w", io);
#elif defined(__APPLE__) || defined(__FreeBSD__)
    mg_cap_file = funopen(NULL, NULL,
                          (int (*)(void *, const char *, int))mg_cap_write,
                          NULL, NULL);
#endif
    if (mg_cap_file != NULL)
        (void)setvbuf(mg_cap_file, NULL, _IONBF, 0);
}

FILE *
mg_stderr(void)
{
    if (mg_capturing) {
        (void)pthread_once(&mg_cap_once, mg_cap_init);
        if (mg_cap_file != NULL)
            return mg_cap_file;
    }
    return stderr;
}

void
mg_capture_begin(void)
{
    free(mg_cap_buf);
    mg_cap_buf = NULL;
    mg_cap_len = 0;
    mg_capturing = 1;
}

size_t
mg_capture_end(char **out)
{
    size_t n = mg_cap_len;

    mg_capturing = 0;
    *out = mg_cap_buf;
    mg_cap_buf = NULL;
    mg_cap_len = 0;
    return n;
}
