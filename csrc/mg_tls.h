/*
 * mg_tls.h -- MG_TLS: how the shim declares its thread-local variables
 * (trap.c, alloc.c, tail.c, capture.c).
 *
 * initial-exec on ELF: a fixed offset from the thread pointer, allocated
 * with the thread. A general-dynamic __thread variable in a dlopen'd module
 * is allocated lazily by __tls_get_addr with malloc, which is neither
 * async-signal-safe (the SIGBUS handler reads the trap's variables) nor
 * allowed inside the allocation wrappers (they would recurse). All of the
 * shim's variables take under 100 bytes of the static TLS surplus (glibc
 * reserves 512 for dlopen'd modules; importing the extension would fail
 * loudly if it ran out). On macOS __thread is a TLV whose first access on a
 * thread allocates: a documented limit (docs/safety.md, trap_internal.h).
 */
#ifndef MG_TLS_H
#define MG_TLS_H

#if defined(__GNUC__) && !defined(__APPLE__)
#define MG_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define MG_TLS __thread
#endif

#endif
