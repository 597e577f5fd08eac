/*
 * magicguard's C shim: the functions Python calls besides libmagic's own.
 *
 * Plain declarations, parsed both by the C compiler and by cffi's cdef, so
 * no preprocessor conditionals here: version-dependent facts are in
 * capabilities.h.
 */
#ifndef MAGICGUARD_SHIM_H
#define MAGICGUARD_SHIM_H

#include <stddef.h>

struct magic_set;

/* What a guarded call reports when a SIGBUS in its range ended it. */
typedef struct {
    int faulted;    /* nonzero: the call was cut short by a trapped fault */
    int si_code;    /* the kernel's si_code for that fault */
    size_t offset;  /* fault address minus the start of the guarded range */
} mg_fault;

/*
 * magic_buffer(ms, buf, len), run so that a SIGBUS while reading
 * [buf, buf + len) sets fault->faulted instead of killing the process.
 * Returns libmagic's result, or NULL (an error, or a fault: see *fault).
 */
const char *mg_buffer(struct magic_set *ms, const void *buf, size_t len, mg_fault *fault);

/* fflush(stdout) and fflush(stderr): magic_list and the debug flags print
 * through C stdio, which Python's own streams do not flush. */
void mg_flush_stdio(void);

#endif
