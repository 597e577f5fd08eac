/*
 * trap_internal.h -- the trap's guard, for the C files that read memory
 * under it (identify.c, mapping.c) and for handle.c's fork child (C only,
 * not for cdef). What a guard is and how the handler uses it: trap.c.
 *
 * A guarded read is: mg_prepare (fill the range, make sure the handler is
 * on top), then `if (MG_SIGSETJMP(g.env) == 0) { mg_push(&g); ...read...;
 * mg_pop(&g); } else mg_landed(&g, base, fault);` -- sigsetjmp must be
 * called in the function that reads, hence a macro, not a helper.
 */
#ifndef MAGICGUARD_TRAP_INTERNAL_H
#define MAGICGUARD_TRAP_INTERNAL_H

#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "trap.h"

/*
 * sigsetjmp's savemask. Linux: 0, because saving the mask costs a
 * sigprocmask syscall per guarded call (~280 ns vs ~15 ns) and is not
 * needed: the handler runs with SA_NODEFER and an empty sa_mask, so the
 * mask inside the handler is the interrupted code's mask, which the
 * handler saves from its ucontext and mg_landed() restores.
 * macOS: 1, because only the mask-restoring siglongjmp calls
 * _sigunaltstack(); without it a jump out of a handler running on the
 * alternate stack (SA_ONSTACK) leaves the thread marked as on that stack
 * and the next handler would run on the wrong stack.
 */
#if defined(__APPLE__)
#define MG_SIGSETJMP(env) sigsetjmp((env), 1)
#else
#define MG_SIGSETJMP(env) sigsetjmp((env), 0)
#endif

/*
 * Thread-local state. The handler may run on any thread, including one
 * that never armed a guard, so reading it must not allocate. On ELF,
 * initial-exec TLS is a fixed offset from the thread pointer, allocated
 * with the thread (a general-dynamic __thread variable in a dlopen'd
 * module is allocated lazily by __tls_get_addr with malloc: not
 * async-signal-safe). These three variables and those of alloc.c, tail.c
 * and capture.c take under
 * 100 bytes of the static TLS surplus (glibc reserves 512 for dlopen'd
 * modules; importing the extension would fail loudly if it ran out).
 * On macOS __thread is a TLV whose first access on a thread allocates;
 * a foreign fault on a thread that never armed a guard may thus allocate
 * in the handler -- a documented limit (docs/safety.md).
 */
#include "mg_tls.h"

struct mg_guard {
    sigjmp_buf env;
    uintptr_t lo, hi;          /* page-rounded guarded range [lo, hi) */
    struct mg_guard *prev;     /* guard this one nests in, or NULL */
    void *addr;                /* set by the handler: si_addr */
    int code;                  /* set by the handler: si_code */
#if !defined(__APPLE__)
    sigset_t mask;             /* set by the handler: interrupted mask */
#endif
};

/* The system page size (cached). */
uintptr_t mg_page(void);
/* Fill the guard's range and make sure the handler is in place: 0, or -1
   with f->sys_errno set. Zeroes *f. */
int mg_prepare(struct mg_guard *g, const void *base, size_t len, mg_fault *f);
/* Arm g on this thread (after MG_SIGSETJMP returned 0) / disarm it. */
void mg_push(struct mg_guard *g);
void mg_pop(struct mg_guard *g);
/* After the jump, in normal context: restore the signal mask and report
   the fault relative to base in *f. */
void mg_landed(struct mg_guard *g, const void *base, mg_fault *f);
/* The fork child (handle.c's atfork handler): re-initialise the trap's
   install lock and forget the guards of the threads that did not fork. */
void mg_trap_atfork_child(void);

#endif
