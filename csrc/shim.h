/*
 * magicguard's C shim: the functions Python calls besides libmagic's own.
 *
 * Plain declarations, parsed both by the C compiler and by cffi's cdef, so
 * no preprocessor conditionals here: version-dependent facts are in
 * capabilities.h.
 */
#ifndef MAGICGUARD_SHIM_H
#define MAGICGUARD_SHIM_H

/* The SIGBUS trap (mg_fault, mg_buffer, mg_mapping, ...) is in trap.h. */

/* fflush(stdout) and fflush(stderr): magic_list and the debug flags print
 * through C stdio, which Python's own streams do not flush. */
void mg_flush_stdio(void);

/* The file name of the shared object that provides magic_version(), as the
 * dynamic loader reports it (dladdr): this extension itself when libmagic
 * is linked statically, the system libmagic otherwise.  NULL if dladdr
 * cannot tell.  The string belongs to the loader; copy it. */
const char *mg_libmagic_object(void);

#endif
