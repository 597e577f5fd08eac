/*
 * tail.h -- lending a file's tail from a mapping (tail.c; C only, not for
 * cdef). Bundled build only.
 */
#ifndef MAGICGUARD_TAIL_H
#define MAGICGUARD_TAIL_H

#include <stddef.h>

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
