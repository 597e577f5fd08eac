/*
 * trap.c -- magicguard's SIGBUS trap: the handler, the per-thread guard
 * stack, the guarded copy and the trap's status. Its one concern is
 * deciding, for each SIGBUS, whether it is ours to catch.
 *
 * A read of a file mapping whose file was truncated (or whose page cannot
 * be read: network filesystem, bad disk) raises SIGBUS. Every function
 * that reads such memory -- libmagic's magic_buffer/file_buffer
 * (identify.c), a memcpy (mg_copy here), a strided gather (mapping.c) --
 * first pushes a guard record (sigjmp_buf + the page-rounded address
 * range) onto a per-thread list (trap_internal.h); the handler
 * siglongjmps back only for a kernel-raised fault on a thread with a guard
 * whose range holds the fault address. Every other SIGBUS is passed on to
 * the action installed before ours, or gets the default action.
 * docs/safety.md has the threat model; the comments below give the reason
 * for each choice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if !defined(__APPLE__)
#include <ucontext.h>
#endif

#include "trap.h"
#include "trap_internal.h"

/* Innermost armed guard of this thread. Written only by its own thread
   outside the handler (push/pop), read and popped by the handler. */
static MG_TLS struct mg_guard *mg_cur;
/* 1 while this thread's handler is running the previous handler. */
static MG_TLS volatile sig_atomic_t mg_chaining;
/* Address of the last kernel fault passed to a previous handler that
   returned: a second fault there means it did not repair anything. */
static MG_TLS uintptr_t mg_last_chained;

/*
 * The action that was installed when ours went on top, published as an
 * immutable record through an atomic pointer. Records are never freed
 * (a handler may still be reading an old one); one is leaked per
 * re-installation, which happens only when someone replaced our handler.
 */
static _Atomic(const struct sigaction *) mg_prev;
static pthread_mutex_t mg_install_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_size_t mg_pagesize;

static void mg_on_sigbus(int sig, siginfo_t *si, void *uc);

static int
mg_is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == mg_on_sigbus;
}

/*
 * Was this SIGBUS raised by the kernel for a memory access (as opposed to
 * kill/raise/sigqueue/tgkill by a process)?
 * Linux: user-sent signals have si_code <= 0 (SI_USER 0, SI_QUEUE -1,
 * SI_TKILL -6, ...); SI_KERNEL (0x80) is a kernel-sent signal with no
 * address. Faults are BUS_ADRALN/ADRERR/OBJERR/MCEERR_*, all > 0.
 * macOS: sendsig() derives si_code from the signal number, not its origin
 * (BUS_ADRERR on x86_64, BUS_ADRALN on arm64 for a page past EOF), so the
 * origin cannot be told apart; the per-thread guard plus the address
 * range are what decide there.
 */
static int
mg_is_kernel_fault(const siginfo_t *si)
{
#if defined(__linux__)
    return si->si_code > 0 && si->si_code != SI_KERNEL;
#else
    (void)si;
    return 1;
#endif
}

/* Default action now: async-signal-safe (sigaction, pthread_sigmask and
   raise are on the signal-safety(7) list). */
static void
mg_die(int sig)
{
    struct sigaction dfl;
    sigset_t set;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(sig, &dfl, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    (void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    (void)raise(sig);
    /* Not reached for SIGBUS with SIG_DFL; if it were, returning re-runs
       a faulting access, which now meets SIG_DFL. */
}

/*
 * Pass a SIGBUS that is not ours on. Async-signal-safe: reads TLS and an
 * atomic pointer, calls sigaction/pthread_sigmask/raise and the previous
 * handler (whose own safety is its author's business).
 */
static void
mg_chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *prev = atomic_load(&mg_prev);
    int kernel = mg_is_kernel_fault(si);
    uintptr_t addr = (uintptr_t)si->si_addr;
    sigset_t block, saved;

    if (mg_chaining) {
        /* Re-entered from the handler we chained to: it restored an
           older action and re-raised (CPython's faulthandler does), or
           it faulted itself. Break the cycle with the default action. */
        mg_die(sig);
        return;
    }
    if (kernel && mg_last_chained == addr && addr != 0) {
        /* The previous handler returned for this very fault and the
           access faulted again: it repaired nothing (e.g. a disabled
           faulthandler, which just returns). Returning again would loop
           for ever; let the re-fault meet the default action instead. */
        mg_last_chained = 0;
        mg_die(sig);
        return;
    }
    if (prev == NULL || (!(prev->sa_flags & SA_SIGINFO)
                         && (prev->sa_handler == SIG_DFL
                             || prev->sa_handler == SIG_IGN))) {
        if (prev != NULL && !kernel && prev->sa_handler == SIG_IGN)
            return; /* a sent SIGBUS the process chose to ignore */
        /* SIG_DFL, or a fault under SIG_IGN (which the kernel forces to
           SIG_DFL anyway): die by SIGBUS, exit status -7. */
        mg_die(sig);
        return;
    }

    /* A real handler: call it as the kernel would have, honouring its
       sa_mask, SA_NODEFER and SA_RESETHAND. */
    block = prev->sa_mask;
    if (!(prev->sa_flags & SA_NODEFER))
        sigaddset(&block, sig);
    if (prev->sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        (void)sigaction(sig, &dfl, NULL);
    }
    mg_chaining = 1;
    mg_last_chained = kernel ? addr : 0;
    (void)pthread_sigmask(SIG_BLOCK, &block, &saved);
    if (prev->sa_flags & SA_SIGINFO)
        prev->sa_sigaction(sig, si, uc);
    else
        prev->sa_handler(sig);
    /* Restore the mask before clearing mg_chaining: a SIGBUS the previous
       handler raised while SIGBUS was blocked is delivered right here and
       must still be seen as a re-entry. */
    (void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
    mg_chaining = 0;
}

/*
 * The SIGBUS handler. Async-signal-safe: it reads initial-exec TLS,
 * writes the guard record on the interrupted thread's own stack, and
 * leaves by siglongjmp or through mg_chain. errno is saved and restored
 * on the paths that return (siglongjmp abandons the interrupted code,
 * whose errno no longer matters).
 *
 * The jump is safe because a guarded fault can only occur while reading
 * the guarded range: inside libmagic's own code or libc's memory and string
 * routines, never inside malloc or stdio (no lock is held there), and
 * the landing code discards the libmagic state the jump cut short.
 */
static void
mg_on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    struct mg_guard *g = mg_cur;

    atomic_signal_fence(memory_order_acquire);
    if (g != NULL && mg_is_kernel_fault(si)
        && (uintptr_t)si->si_addr >= g->lo
        && (uintptr_t)si->si_addr < g->hi) {
        g->addr = si->si_addr;
        g->code = si->si_code;
#if !defined(__APPLE__)
        g->mask = ((ucontext_t *)uc)->uc_sigmask;
#endif
        mg_cur = g->prev;
        atomic_signal_fence(memory_order_release);
        siglongjmp(g->env, 1);
    }
    mg_chain(sig, si, uc);
    errno = saved_errno;
}

/*
 * Put our handler on top unless it already is. Called at every guarded
 * entry, because others replace it: CPython's faulthandler.enable() after
 * our import, and faulthandler.disable() (pytest calls it at exit), which
 * restores what was there before faulthandler -- possibly not us. The
 * query is one syscall (~0.3 us).
 */
static int
mg_ensure_installed(void)
{
    struct sigaction cur, ours;
    struct sigaction *rec;
    int rc = 0;

    if (sigaction(SIGBUS, NULL, &cur) != 0)
        return -1;
    if (mg_is_ours(&cur))
        return 0;
    if (pthread_mutex_lock(&mg_install_lock) != 0)
        return -1;
    /* Re-query under the lock: another thread may have installed. */
    if (sigaction(SIGBUS, NULL, &cur) != 0) {
        rc = -1;
    } else if (!mg_is_ours(&cur)) {
        rec = malloc(sizeof(*rec));
        if (rec == NULL) {
            rc = -1;
        } else {
            *rec = cur;
            /* Publish the new previous action before installing: from
               the moment ours is on top, the handler must chain to what
               was replaced, never to an older, stale record. */
            atomic_store(&mg_prev, rec);
            memset(&ours, 0, sizeof(ours));
            ours.sa_sigaction = mg_on_sigbus;
            /* Empty sa_mask: nothing extra blocked while we run. */
            sigemptyset(&ours.sa_mask);
            /*
             * SA_SIGINFO: we need si_addr and si_code.
             * SA_NODEFER: SIGBUS stays unblocked in the handler and so,
             *   with sigsetjmp(env, 0), after the jump; a second fault on
             *   this thread would otherwise arrive blocked, and Linux
             *   then forces SIG_DFL and kills the process.
             * SA_ONSTACK: run where the handlers we chain to (CPython's
             *   faulthandler, Go) expect, on the thread's alternate stack
             *   if it has one; siglongjmp off it is fine on Linux (the
             *   kernel decides "on altstack" from the stack pointer) and
             *   on macOS because savemask=1 there (see MG_SIGSETJMP).
             * No SA_RESTART: only an asynchronous, sent SIGBUS can
             *   interrupt a syscall, and CPython retries EINTR (PEP 475).
             * No SA_RESETHAND: the handler stays for the next fault.
             */
            ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
            if (sigaction(SIGBUS, &ours, NULL) != 0)
                rc = -1;
        }
    }
    (void)pthread_mutex_unlock(&mg_install_lock);
    return rc;
}

uintptr_t
mg_page(void)
{
    size_t p = atomic_load(&mg_pagesize);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store(&mg_pagesize, p);
    }
    return (uintptr_t)p;
}

/* Fill the guard's range and make sure the handler is in place. */
int
mg_prepare(struct mg_guard *g, const void *base, size_t len, mg_fault *f)
{
    uintptr_t page = mg_page();
    uintptr_t b = (uintptr_t)base;

    memset(f, 0, sizeof(*f));
    g->lo = b & ~(page - 1);
    /* Whole pages: vectorised string routines read ahead within a page.
       An empty range (len 0) never matches. */
    g->hi = len == 0 ? g->lo : ((b + len + page - 1) & ~(page - 1));
    g->addr = NULL;
    g->code = 0;
    mg_last_chained = 0;
    if (mg_ensure_installed() != 0) {
        f->sys_errno = errno;
        return -1;
    }
    return 0;
}

/* Arm: from here on a fault in [lo, hi) on this thread jumps to g->env.
   mg_cur is written by this thread before any guarded byte is read, so
   the handler only ever reads TLS this thread already owns. */
void
mg_push(struct mg_guard *g)
{
    g->prev = mg_cur;
    atomic_signal_fence(memory_order_seq_cst);
    mg_cur = g;
    atomic_signal_fence(memory_order_seq_cst);
}

void
mg_pop(struct mg_guard *g)
{
    atomic_signal_fence(memory_order_seq_cst);
    mg_cur = g->prev;
    atomic_signal_fence(memory_order_seq_cst);
}

/* After the jump, in normal context: restore the signal mask and report. */
void
mg_landed(struct mg_guard *g, const void *base, mg_fault *f)
{
#if !defined(__APPLE__)
    (void)pthread_sigmask(SIG_SETMASK, &g->mask, NULL);
#endif
    f->faulted = 1;
    f->si_code = g->code;
    f->offset = (uintptr_t)g->addr > (uintptr_t)base
                    ? (size_t)((uintptr_t)g->addr - (uintptr_t)base) : 0;
}

int
mg_copy(void *dst, const void *src, size_t n, mg_fault *fault)
{
    struct mg_guard g;

    if (mg_prepare(&g, src, n, fault) != 0)
        return -1;
    if (MG_SIGSETJMP(g.env) == 0) {
        mg_push(&g);
        memcpy(dst, src, n);
        mg_pop(&g);
        return 0;
    }
    mg_landed(&g, src, fault);
    return -1;
}


int
mg_test_touch(const void *guard_base, size_t guard_len, const void *touch,
              unsigned int hold_ms, mg_fault *fault)
{
    struct mg_guard g;
    struct timespec ts;

    if (mg_prepare(&g, guard_base, guard_len, fault) != 0)
        return -1;
    if (MG_SIGSETJMP(g.env) == 0) {
        mg_push(&g);
        if (hold_ms) {
            ts.tv_sec = hold_ms / 1000;
            ts.tv_nsec = (long)(hold_ms % 1000) * 1000000L;
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        if (touch != NULL)
            (void)*(const volatile unsigned char *)touch;
        mg_pop(&g);
        return 0;
    }
    mg_landed(&g, guard_base, fault);
    return -1;
}

int
mg_trap_status(int *installed, int *on_top)
{
    struct sigaction cur;

    /* mg_prev is published when our handler goes on top and never reset. */
    *installed = atomic_load(&mg_prev) != NULL;
    if (sigaction(SIGBUS, NULL, &cur) != 0)
        return -1;
    *on_top = mg_is_ours(&cur);
    return 0;
}

void
mg_trap_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    mg_install_lock = fresh;
    mg_cur = NULL;
}
