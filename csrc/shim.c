/*
 * magicguard's C shim.  See shim.h for what each function promises.
 * Every unsafe assumption is commented where it is made.
 */
#include <stdio.h>

#include <magic.h>

#include "shim.h"

void
mg_flush_stdio(void)
{
    (void)fflush(stdout);
    (void)fflush(stderr);
}
