/*
 * alloc_redirect.h -- force-included (cc -include) into every source of
 * the bundled libmagic by build_libmagic.py; never included by magicguard
 * itself. It renames libmagic's allocation calls to the tracking wrappers
 * of csrc/alloc.c (see alloc.h), and declares the tail hooks the patched
 * src/buffer.c calls.
 *
 * It includes no system header on purpose: it is read before libmagic's
 * config.h, and a system header included here would be parsed without the
 * feature macros (_GNU_SOURCE, _FILE_OFFSET_BITS) that config.h sets. So the
 * prototypes use the compiler's builtin types. Object-like macros rename
 * every use, including the later system declarations (which then declare
 * mg_malloc etc. with the same types) and any use of free as a value, so
 * no block can be freed behind the tracker's back.
 *
 * Allocations libmagic gets from libc without going through these names
 * (getline in apprentice.c, regcomp's internals, newlocale) are released
 * by their own libc counterparts and are never on the tracked list; a
 * pointer the tracker does not know is simply passed to libc's free.
 */
#ifndef MAGICGUARD_ALLOC_REDIRECT_H
#define MAGICGUARD_ALLOC_REDIRECT_H

void *mg_malloc(__SIZE_TYPE__);
void *mg_calloc(__SIZE_TYPE__, __SIZE_TYPE__);
void *mg_realloc(void *, __SIZE_TYPE__);
void mg_free(void *);
char *mg_strdup(const char *);
char *mg_strndup(const char *, __SIZE_TYPE__);
int mg_vasprintf(char **, const char *, __builtin_va_list);
int mg_asprintf(char **, const char *, ...);
/* Called by the patched src/buffer.c (build_libmagic.py _PATCHES). */
int mg_tail(int, long long, __SIZE_TYPE__, void **);
void mg_tail_release(void *);

#define malloc mg_malloc
#define calloc mg_calloc
#define realloc mg_realloc
#define free mg_free
#define strdup mg_strdup
#define strndup mg_strndup
#define vasprintf mg_vasprintf
#define asprintf mg_asprintf

#endif
