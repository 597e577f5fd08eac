/*
 * alloc.h -- per-thread tracking of libmagic's heap blocks (C only, not
 * for cdef). Built only with the bundled libmagic, whose sources are
 * compiled with alloc_redirect.h force-included so that their malloc,
 * calloc, realloc, free, strdup, strndup, asprintf and vasprintf calls
 * land in alloc.c.
 *
 * While armed on a thread, every block libmagic allocates on that thread
 * is remembered until libmagic frees it. After a trapped fault the caller
 * closes the cookie (which frees, and so forgets, every block the cookie
 * still owns) and reclaims the rest: the transient blocks of the frames
 * siglongjmp skipped.
 */
#ifndef MAGICGUARD_ALLOC_H
#define MAGICGUARD_ALLOC_H

#include <stddef.h>

/* Start remembering this thread's allocations (forgets any old list). */
void mg_alloc_arm(void);
/* Stop remembering; the blocks on the list now belong to the cookie. */
void mg_alloc_disarm(void);
/* Free every block still on the list, then disarm. Returns how many. */
size_t mg_alloc_reclaim(void);

/* The wrappers' free (alloc_redirect.h renames libmagic's free to it):
   for blocks that may be on the list (tail.c's mg_tail_release). */
void mg_free(void *p);

#endif
