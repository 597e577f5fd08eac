/*
 * handle.c -- handles (trap.h): a magic_t behind a lock that is only ever
 * held inside one C call, answers copied out before the lock is released;
 * the registry of live handles and what the child of fork() does with
 * them. Public libmagic API only (internals: identify.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <magic.h>

#include "trap.h"
#include "trap_internal.h"

#ifndef MG_BUNDLED_BUILD
#error "build_ffi.py defines MG_BUNDLED_BUILD to 0 or 1"
#endif
#if MG_BUNDLED_BUILD
#include "capture.h"
#endif

/* ------------------------------------------------------------------------
 * Handles (trap.h): a magic_t behind a lock that is only ever held inside
 * one C call, answers copied out before the lock is released.
 */

struct mg_handle {
    pthread_mutex_t mu;
    magic_t ms;                 /* NULL: closed or lost */
    int lost;                   /* ms dropped by a fault or a fork */
    int close_pending;          /* mg_h_close ran while this thread held mu */
    int capture;                /* capture libmagic's stderr (database ops) */
    _Atomic(uintptr_t) owner;   /* mg_self() of the holder, or 0 */
    struct mg_handle *prev, *next;  /* registry, for the fork child */
};

/* A thread's identity for the owner check: the address of a TLS byte is
   unique among live threads and costs no call. */
static MG_TLS char mg_self_anchor;
#define mg_self() ((uintptr_t)&mg_self_anchor)

/* Every live handle, for the fork child (mg_atfork_child). */
static pthread_mutex_t mg_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mg_handle *mg_registry;
/* libmagic's process-global work (open, load, compile, check, list,
   getpath) touches static state (the default path string). */
static pthread_mutex_t mg_process_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t mg_atfork_once = PTHREAD_ONCE_INIT;

/*
 * The child of fork() has one thread: whatever another thread of the
 * parent held is held for ever here. Re-initialise every lock of ours, and
 * drop the magic_set of any handle that was in use (it may be mid-call):
 * its owner rebuilds it (MG_LOST). Dropped, not closed: freeing state that
 * may be inconsistent is worse than leaking it once.
 */
static void
mg_atfork_child(void)
{
    struct mg_handle *h;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    mg_registry_mu = fresh;
    mg_process_mu = fresh;
    mg_trap_atfork_child();
    for (h = mg_registry; h != NULL; h = h->next) {
        if (atomic_load(&h->owner) != 0) {
            h->ms = NULL;
            h->lost = 1;
            h->close_pending = 0;
            atomic_store(&h->owner, 0);
        }
        h->mu = fresh;
    }
}

static void
mg_atfork_register(void)
{
    (void)pthread_atfork(NULL, NULL, mg_atfork_child);
}

mg_handle *
mg_h_open(int flags, int capture, int *err)
{
    struct mg_handle *h;

    (void)pthread_once(&mg_atfork_once, mg_atfork_register);
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        *err = errno;
        return NULL;
    }
    (void)pthread_mutex_init(&h->mu, NULL);
    h->capture = capture;
    (void)pthread_mutex_lock(&mg_process_mu);
    h->ms = magic_open(flags);
    *err = h->ms == NULL ? errno : 0;
    (void)pthread_mutex_unlock(&mg_process_mu);
    if (h->ms == NULL) {
        (void)pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    (void)pthread_mutex_lock(&mg_registry_mu);
    h->next = mg_registry;
    if (mg_registry != NULL)
        mg_registry->prev = h;
    mg_registry = h;
    (void)pthread_mutex_unlock(&mg_registry_mu);
    return h;
}

void
mg_h_free(mg_handle *h)
{
    if (h == NULL)
        return;
    (void)pthread_mutex_lock(&mg_registry_mu);
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        mg_registry = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    (void)pthread_mutex_unlock(&mg_registry_mu);
    /* The owning Python object is gone: no call can be running. */
    if (h->ms != NULL)
        magic_close(h->ms);
    (void)pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Take h's lock: MG_OK, or MG_REENTERED if this thread holds it. */
static int
mg_h_enter(struct mg_handle *h)
{
    uintptr_t me = mg_self();

    if (pthread_mutex_trylock(&h->mu) != 0) {
        if (atomic_load(&h->owner) == me)
            return MG_REENTERED;
        (void)pthread_mutex_lock(&h->mu);
    }
    atomic_store(&h->owner, me);
    return MG_OK;
}

static void
mg_h_leave(struct mg_handle *h)
{
    if (h->close_pending && h->ms != NULL) {
        magic_close(h->ms);
        h->ms = NULL;
    }
    atomic_store(&h->owner, 0);
    (void)pthread_mutex_unlock(&h->mu);
}

int
mg_h_close(mg_handle *h)
{
    if (mg_h_enter(h) == MG_REENTERED) {
        h->close_pending = 1;
        return 1;
    }
    if (h->ms != NULL)
        magic_close(h->ms);
    h->ms = NULL;
    h->lost = 0;
    mg_h_leave(h);
    return 0;
}

void
mg_result_free(mg_result *r)
{
    free(r->big);
    r->big = NULL;
    free(r->warnings);
    r->warnings = NULL;
    r->wlen = 0;
}

/* Copy s (NUL-terminated) into r: text, or a malloc'd big copy. */
static long
mg_put(mg_result *r, const char *s, int status)
{
    size_t n = s != NULL ? strlen(s) : 0;

    r->status = status;
    r->len = n;
    r->big = NULL;
    if (n < sizeof(r->text)) {
        memcpy(r->text, s != NULL ? s : "", n + 1);
    } else {
        r->big = malloc(n + 1);
        if (r->big == NULL) {
            /* Out of memory for a long answer: report it, never truncate. */
            r->status = MG_FAULT;
            r->fault.sys_errno = ENOMEM;
            r->len = 0;
            return MG_FAULT;
        }
        memcpy(r->big, s, n + 1);
        if (status == MG_OK)
            return MG_BIG;
    }
    return status == MG_OK ? (long)n : status;
}

/* Start a call: lock, and check the magic_t is there. */
static int
mg_h_begin(struct mg_handle *h, mg_result *r)
{
    int rc;

    memset(&r->fault, 0, sizeof(r->fault));
    r->big = NULL;
    r->warnings = NULL;
    r->wlen = 0;
    r->len = 0;
    r->lib_errno = 0;
    rc = mg_h_enter(h);
    if (rc != MG_OK) {
        r->status = rc;
        return rc;
    }
    if (h->ms == NULL) {
        r->status = h->lost ? MG_LOST : MG_CLOSED;
        mg_h_leave(h);
        return r->status;
    }
    return MG_OK;
}

/* Finish a call whose libmagic result is res: copy it or the error. */
static long
mg_h_end(struct mg_handle *h, const char *res, mg_result *r)
{
    long rc;

    if (r->fault.closed) {
        /* mg_discard closed the magic_t after a trapped fault. */
        h->ms = NULL;
        h->lost = 1;
    }
    if (res != NULL) {
        rc = mg_put(r, res, MG_OK);
    } else if (r->fault.faulted || r->fault.sys_errno) {
        r->status = MG_FAULT;
        rc = MG_FAULT;
    } else {
        r->lib_errno = magic_errno(h->ms);
        rc = mg_put(r, magic_error(h->ms), MG_ERROR);
    }
    mg_h_leave(h);
    return rc;
}

long
mg_h_buffer(mg_handle *h, const void *buf, size_t len, int guard,
            mg_result *r)
{
    const char *res;

    if (mg_h_begin(h, r) != MG_OK)
        return r->status;
    if (guard)
        res = mg_buffer(h->ms, buf, len, &r->fault);
    else
        res = magic_buffer(h->ms, len ? buf : "", len);
    return mg_h_end(h, res, r);
}

long
mg_h_mapping(mg_handle *h, const void *base, size_t len, int fd,
             int precheck, mg_result *r)
{
    const char *res;

    if (mg_h_begin(h, r) != MG_OK)
        return r->status;
    res = mg_mapping(h->ms, base, len, fd, precheck, &r->fault);
    return mg_h_end(h, res, r);
}

long
mg_h_file(mg_handle *h, const char *path, mg_result *r)
{
    if (mg_h_begin(h, r) != MG_OK)
        return r->status;
    return mg_h_end(h, magic_file(h->ms, path), r);
}

long
mg_h_descriptor(mg_handle *h, int fd, mg_result *r)
{
    if (mg_h_begin(h, r) != MG_OK)
        return r->status;
    return mg_h_end(h, magic_descriptor(h->ms, fd), r);
}

int
mg_h_op(mg_handle *h, int op, int iarg, size_t *value, const char *path,
        void **bufs, size_t *sizes, size_t n, mg_result *r)
{
    magic_t ms;
    int rc = 0, flags, global = op >= MG_OP_LOAD && op <= MG_OP_LIST;
    int saved_errno = errno;

    if (mg_h_begin(h, r) != MG_OK) {
        errno = saved_errno;
        return r->status;
    }
    ms = h->ms;
    if (op == MG_OP_ERROR) {
        const char *e = magic_error(ms);
        r->lib_errno = magic_errno(ms);
        rc = (int)mg_put(r, e, MG_OK);
        if (e == NULL)
            r->status = MG_CLOSED;  /* "no message"; len 0 */
        mg_h_leave(h);
        errno = saved_errno;
        return rc == MG_FAULT ? rc : MG_OK;
    }
    flags = magic_getflags(ms);
    if (global)
        (void)pthread_mutex_lock(&mg_process_mu);
#if MG_BUNDLED_BUILD
    if (global && h->capture && op != MG_OP_LIST)
        mg_capture_begin();
#endif
    switch (op) {
    case MG_OP_GETFLAGS:
        r->value = flags;
        break;
    case MG_OP_SETFLAGS:
        rc = magic_setflags(ms, iarg);
        if (rc != 0)
            r->fault.sys_errno = errno ? errno : EINVAL;
        break;
    case MG_OP_GETPARAM:
        rc = magic_getparam(ms, iarg, value);
        break;
    case MG_OP_SETPARAM:
        rc = magic_setparam(ms, iarg, value);
        break;
    case MG_OP_LOAD:
        rc = magic_load(ms, path);
        break;
    case MG_OP_LOAD_BUFFERS:
        rc = magic_load_buffers(ms, bufs, sizes, n);
        break;
    case MG_OP_COMPILE:
        rc = magic_compile(ms, path);
        break;
    case MG_OP_CHECK:
        rc = magic_check(ms, path);
        break;
    case MG_OP_LIST:
        rc = magic_list(ms, path);
        break;
    default:
        rc = -1;
        errno = EINVAL;
        r->fault.sys_errno = EINVAL;
        break;
    }
    saved_errno = errno;
#if MG_BUNDLED_BUILD
    if (global && h->capture && op != MG_OP_LIST)
        r->wlen = mg_capture_end(&r->warnings);
#endif
    if (global) {
        /* magic_list and the debug flags print through C stdio. */
        (void)fflush(stdout);
        (void)fflush(stderr);
        (void)pthread_mutex_unlock(&mg_process_mu);
        /* Parsing a source sets MAGIC_CHECK for good (apprentice_load):
           the owner's flags win. */
        (void)magic_setflags(ms, flags);
    }
    if (rc == 0) {
        r->status = MG_OK;
        mg_h_leave(h);
        errno = saved_errno;
        return 0;
    }
    if (r->fault.sys_errno) {
        r->status = MG_FAULT;
        mg_h_leave(h);
        errno = saved_errno;
        return MG_FAULT;
    }
    r->lib_errno = magic_errno(ms);
    /* The C library's errno: "could not find any valid magic files!"
       carries 0 in libmagic but ENOENT here (file(1) prints it). */
    r->value = saved_errno;
    (void)mg_put(r, magic_error(ms), MG_ERROR);
    mg_h_leave(h);
    errno = saved_errno;
    return MG_ERROR;
}

void
mg_getpath(char *out, size_t cap)
{
    const char *p;
    size_t n;

    (void)pthread_mutex_lock(&mg_process_mu);
    p = magic_getpath(NULL, 0);
    n = p != NULL ? strlen(p) : 0;
    if (cap == 0) {
        (void)pthread_mutex_unlock(&mg_process_mu);
        return;
    }
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
    (void)pthread_mutex_unlock(&mg_process_mu);
}
