/*
 * magicguard's C shim.  See shim.h for what each function promises.
 * Every unsafe assumption is commented where it is made.
 */
#include <stdio.h>

#include <magic.h>

#include "shim.h"

const char *
mg_buffer(struct magic_set *ms, const void *buf, size_t len, mg_fault *fault)
{
    fault->faulted = 0;
    fault->si_code = 0;
    fault->offset = 0;
    return magic_buffer(ms, buf, len);
}

void
mg_flush_stdio(void)
{
    (void)fflush(stdout);
    (void)fflush(stderr);
}
