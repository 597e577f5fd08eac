/*
 * alloc.h -- per-thread tracking of libmagic's heap blocks, and the lending
 * of a file's tail from a mapping (C only, not for cdef). Built only with the bundled libmagic, whose sources are
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

/*
 * The file's tail without a copy. libmagic (patched buffer_fill) reads the
 * last min(size, BYTES_MAX) bytes of a file through its descriptor for
 * rules at negative offsets, into a malloc'd copy. While this thread has
 * registered a mapping of descriptor fd (mg_tail_set), a tail inside it is
 * lent from the mapping instead: no syscall, no copy, and only the pages
 * libmagic reads are touched -- under the caller's SIGBUS guard, which
 * covers the whole mapping. mg_tail_set(-1, NULL, 0) unregisters.
 */
void mg_tail_set(int fd, const void *base, size_t len);
/* 1 and *ebuf = the tail if lent; 0: read it yourself. */
int mg_tail(int fd, long long off, size_t len, void **ebuf);
/* buffer_fini's free: nothing for a lent tail. */
void mg_tail_release(void *ebuf);

#endif
