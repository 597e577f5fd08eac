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

/*
 * libmagic's stderr, captured (bundled build). libmagic prints parse
 * warnings, "Maximum number of warnings" and file -c's header straight to
 * stderr (file_magwarn in src/print.c, apprentice.c); a library must not.
 * The 0003-warnings-to-buffer patch makes every libmagic source's `stderr`
 * mean mg_stderr(): while this thread is capturing, a stream whose bytes
 * go to a per-thread buffer (at most MG_CAPTURE_MAX bytes kept); otherwise
 * the real stderr (file(1), and the CLI's file -c, print as before).
 */
#include <stdio.h>
#define MG_CAPTURE_MAX 65536
FILE *mg_stderr(void);
/* Start capturing this thread's libmagic stderr (forgets older text). */
void mg_capture_begin(void);
/* Stop; *out = malloc'd text (NUL-terminated) or NULL if none. */
size_t mg_capture_end(char **out);

#endif
