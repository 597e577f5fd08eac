/*
 * Process hardening for the Sandbox's worker processes: what they ask of
 * the kernel, through the one way into C (cffi), not a second binding.
 *
 * Plain declarations, parsed by the C compiler and by cffi's cdef.
 */
#ifndef MAGICGUARD_MG_PROCESS_H
#define MAGICGUARD_MG_PROCESS_H

/* prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): nothing this process executes
 * afterwards can gain privileges (setuid bits, file capabilities).  Returns
 * 0, or the errno of the failure; ENOSYS where the kernel has no prctl
 * (not Linux). */
int mg_no_new_privs(void);

#endif
