/*
 * common.c -- shared set-up of magicguard's fuzz harnesses (see common.h).
 *
 * Also replaces the process-starting calls libmagic can make (its
 * external decompressors in src/compress.c): a fuzzer must not fork a
 * sanitized multi-gigabyte process per input, and magicguard promises to
 * run nothing but itself. Built without in-process decompressors, the
 * replacements fail with ENOSYS (libmagic then reports an error, as it
 * does when the program is missing); built with them (FZ_SPAWN_IS_BUG,
 * set by fuzz/build.py when libmagic.a has a built-in zlib), any attempt
 * is a finding and aborts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#ifndef FZ_DATABASE
#error "fuzz/build.py defines FZ_DATABASE, the installed magic.mgc"
#endif
#ifndef FZ_SPAWN_IS_BUG
#define FZ_SPAWN_IS_BUG 0
#endif

static void
fz_no_process(const char *what)
{
#if FZ_SPAWN_IS_BUG
    fprintf(stderr, "magicguard fuzz: libmagic called %s (would start a "
            "process) although it decompresses in-process\n", what);
    abort();
#else
    (void)what;
#endif
}

int
posix_spawnp(pid_t *pid, const char *file,
             const posix_spawn_file_actions_t *fa,
             const posix_spawnattr_t *attr, char *const argv[],
             char *const envp[])
{
    (void)pid; (void)fa; (void)attr; (void)argv; (void)envp;
    fz_no_process(file);
    /* 5.46 tests the result against -1 (not an error number): give it
       both, so that it never reads the unset pid. */
    errno = ENOSYS;
    return -1;
}

int
posix_spawn(pid_t *pid, const char *path,
            const posix_spawn_file_actions_t *fa,
            const posix_spawnattr_t *attr, char *const argv[],
            char *const envp[])
{
    return posix_spawnp(pid, path, fa, attr, argv, envp);
}

pid_t
fork(void)
{
    fz_no_process("fork");
    errno = ENOSYS;
    return -1;
}

pid_t
vfork(void)
{
    fz_no_process("vfork");
    errno = ENOSYS;
    return -1;
}

int
execvp(const char *file, char *const argv[])
{
    (void)argv;
    fz_no_process(file);
    errno = ENOSYS;
    return -1;
}

void
fz_consume(const char *s)
{
    volatile size_t n;

    if (s != NULL)
        n = strlen(s);
    (void)n;
}

magic_t
fz_cookie(int flags)
{
    static int quiet;
    magic_t ms;

    if (!quiet) {
        /* libmagic prints database warnings through stdio's stderr (and
           magicguard leaves them there); a fuzzer gets millions. Only the
           FILE is replaced: the sanitizers and libFuzzer write to
           descriptor 2 or their own copy of the old FILE pointer. */
        FILE *null = fopen("/dev/null", "w");
        if (null != NULL)
            stderr = null;
        quiet = 1;
    }
    ms = magic_open(flags);
    if (ms == NULL || magic_load(ms, FZ_DATABASE) != 0) {
        dprintf(2, "magicguard fuzz: cannot load %s: %s\n", FZ_DATABASE,
                ms ? magic_error(ms) : "magic_open failed");
        abort();
    }
    return ms;
}

int
fz_load_buffer(magic_t ms, const uint8_t *data, size_t size, void **keep)
{
    void *copy = NULL;
    void *bufs[1];
    size_t sizes[1];
    int flags = magic_getflags(ms), rc;

    *keep = NULL;
    if (size == 0)
        return -1;      /* Cookie refuses an empty database buffer */
    if (posix_memalign(&copy, 16, size) != 0)
        abort();
    memcpy(copy, data, size);
    bufs[0] = copy;
    sizes[0] = size;
    rc = magic_load_buffers(ms, bufs, sizes, 1);
    magic_setflags(ms, flags);
    /* libmagic keeps pointers into the copy only when the load succeeded;
       even a failed load may leave a map behind, so the caller frees the
       copy only after magic_close. */
    *keep = copy;
    return rc;
}

const char *
fz_buffer(magic_t ms, const void *data, size_t size)
{
    mg_fault fault;
    const char *res = mg_buffer(ms, size ? data : "", size, &fault);

    if (fault.faulted || fault.closed) {
        dprintf(2, "magicguard fuzz: SIGBUS trap fired on heap memory\n");
        abort();
    }
    fz_consume(res);
    if (res == NULL)
        fz_consume(magic_error(ms));
    return res;
}

const char *
fz_workdir(void)
{
    static char dir[64];

    if (dir[0] == '\0') {
        strcpy(dir, "/tmp/magicguard-fuzz-XXXXXX");
        if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
            dprintf(2, "magicguard fuzz: cannot make a work directory\n");
            abort();
        }
    }
    return dir;
}

void
fz_write_all(int fd, const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (fd < 0)
        abort();
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

void
fz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    fz_write_all(fd, data, size);
    close(fd);
}
