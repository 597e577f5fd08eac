/*
 * Process hardening for the Sandbox's worker processes (see mg_process.h).
 */
#include <errno.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "mg_process.h"

int
mg_no_new_privs(void)
{
#if defined(__linux__) && defined(PR_SET_NO_NEW_PRIVS)
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
        return errno;
    return 0;
#else
    return ENOSYS;
#endif
}
