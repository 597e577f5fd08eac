/*
 * magicguard's C shim.  See shim.h for what each function promises.
 * Every unsafe assumption is commented where it is made.
 */
/* dladdr and Dl_info are GNU extensions in glibc's <dlfcn.h>. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#include <magic.h>

#include "shim.h"

void
mg_flush_stdio(void)
{
    (void)fflush(stdout);
    (void)fflush(stderr);
}

const char *
mg_libmagic_object(void)
{
    Dl_info info;

    /* Converting a function pointer to void * is what dladdr's interface
     * requires; POSIX guarantees it works for dlsym/dladdr. */
    if (dladdr((void *)magic_version, &info) == 0 || info.dli_fname == NULL)
        return NULL;
    return info.dli_fname;
}
