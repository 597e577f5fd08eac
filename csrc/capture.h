/*
 * capture.h -- libmagic's stderr, captured (capture.c; C only, not for
 * cdef). Bundled build only.
 */
#ifndef MAGICGUARD_CAPTURE_H
#define MAGICGUARD_CAPTURE_H

#include <stddef.h>
#include <stdio.h>

/*
 * libmagic's stderr, captured (bundled build). libmagic prints parse
 * warnings, "Maximum number of warnings" and file -c's header straight to
 * stderr (file_magwarn in src/print.c, apprentice.c); a library must not.
 * The 0003-warnings-to-buffer patch makes every libmagic source's `stderr`
 * mean mg_stderr(): while this thread is capturing, a stream whose bytes
 * go to a per-thread buffer (at most MG_CAPTURE_MAX bytes kept); otherwise
 * the real stderr (file(1), and the CLI's file -c, print as before).
 */
#define MG_CAPTURE_MAX 65536
FILE *mg_stderr(void);
/* Start capturing this thread's libmagic stderr (forgets older text). */
void mg_capture_begin(void);
/* Stop; *out = malloc'd text (NUL-terminated) or NULL if none. */
size_t mg_capture_end(char **out);

#endif
