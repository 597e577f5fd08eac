/*
 * identify.c -- libmagic run over caller memory inside the trap
 * (mg_buffer, mg_mapping), and the one file that knows libmagic's
 * internals: in the bundled build mg_mapping does what file_or_fd() of
 * src/magic.c does after its read(), calling the internal functions
 * declared in libmagic_internal.h (which the build compiles against the
 * unpacked src/file.h: build_libmagic.check_internal_prototypes), and
 * mg_fs_prefix re-spells what fsmagic prints for a regular file.
 *
 * Build-time switch (set by build_ffi.py):
 *   MG_BUNDLED_BUILD=1  libmagic 5.47 linked statically into this module:
 *                       mg_mapping drives libmagic's internal file_buffer
 *                       with the descriptor (file(1) parity), and
 *                       libmagic's allocations are tracked (alloc.c).
 *   MG_BUNDLED_BUILD=0  the system libmagic: public API only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif

#include <magic.h>

#include "trap.h"
#include "trap_internal.h"

#ifndef MG_BUNDLED_BUILD
#error "build_ffi.py defines MG_BUNDLED_BUILD to 0 or 1"
#endif

#if MG_BUNDLED_BUILD
#include "alloc.h"
#include "tail.h"
#include "libmagic_internal.h"
/*
 * mg_mapping mirrors file_or_fd() of src/magic.c in the bundled release
 * (5.47 changed only close_and_restore, which mg_mapping does not do), and
 * mg_fs_prefix mirrors fsmagic. Any other version must be re-read before
 * this check is changed. (The prototypes themselves are checked by the
 * build against that release's file.h.)
 */
#if MAGIC_VERSION != 547
#error "mg_mapping mirrors libmagic 5.47 internals; re-check file_or_fd()"
#endif
#define MG_TRACK_ARM() mg_alloc_arm()
#define MG_TRACK_DISARM() mg_alloc_disarm()
#define MG_TRACK_RECLAIM() ((void)mg_alloc_reclaim())
#else
#define MG_TRACK_ARM() ((void)0)
#define MG_TRACK_DISARM() ((void)0)
#define MG_TRACK_RECLAIM() ((void)0)
#endif

/*
 * libmagic was cut short mid-call: its magic_set may hold half-updated
 * state (ms->flags without MAGIC_COMPRESS, pushed output buffers, ...), so
 * it is closed here and the caller rebuilds it. The thread's locale is put
 * back first (libmagic <= 5.41 switched it around regex work; the cookie's
 * own locale object is freed by magic_close). Then the blocks the skipped
 * frames still owned are freed (bundled build; magic_close runs while the
 * tracker is armed, so what it frees is forgotten first).
 */
static void
mg_discard(magic_t ms, locale_t loc, mg_fault *f)
{
    (void)uselocale(loc);
    magic_close(ms);
    MG_TRACK_RECLAIM();
    f->closed = 1;
}

static size_t
mg_bytes_max(magic_t ms, size_t len)
{
    size_t max = 0;
    if (magic_getparam(ms, MAGIC_PARAM_BYTES_MAX, &max) != 0 || max == 0)
        return len;
    return len < max ? len : max;
}

#if MG_BUNDLED_BUILD
/*
 * What file_fsmagic() (src/fsmagic.c, 5.46) prints for a regular file
 * before file_or_fd() reads it: "setuid"/"setgid"/"sticky" prefixes and
 * "empty" for a zero-length file. Written from its documented behaviour:
 * no prefix in MIME or APPLE/EXTENSION mode, "inode/x-empty" (and/or
 * "binary") in MIME mode; with MAGIC_DEVICES the empty check is skipped.
 * Returns 1 when that is the whole answer, 0 to go on, -1 on error.
 */
static int
mg_fs_prefix(magic_t ms, const struct stat *st)
{
    int flags = magic_getflags(ms);
    int mime = flags & MAGIC_MIME;
    int silent = flags & (MAGIC_APPLE | MAGIC_EXTENSION);
    int n = 0;

    if (!mime && !silent) {
        if ((st->st_mode & S_ISUID)
            && file_printf(ms, "%ssetuid", n++ ? ", " : "") == -1)
            return -1;
        if ((st->st_mode & S_ISGID)
            && file_printf(ms, "%ssetgid", n++ ? ", " : "") == -1)
            return -1;
        if ((st->st_mode & S_ISVTX)
            && file_printf(ms, "%ssticky", n++ ? ", " : "") == -1)
            return -1;
    }
    if (!(flags & MAGIC_DEVICES) && st->st_size == 0) {
        if (silent)
            return 0;       /* file_buffer of 0 bytes answers */
        if (mime) {
            if ((mime & MAGIC_MIME_TYPE)
                && file_printf(ms, "inode/x-empty%s",
                               (mime & MAGIC_MIME_ENCODING)
                                   ? "; charset=" : "") == -1)
                return -1;
            if ((mime & MAGIC_MIME_ENCODING)
                && file_printf(ms, "binary") == -1)
                return -1;
            return 1;
        }
        return file_printf(ms, "%sempty", n ? ", " : "") == -1 ? -1 : 1;
    }
    if (n && file_printf(ms, " ") == -1)
        return -1;
    return 0;
}
#endif

#if MG_BUNDLED_BUILD
/* The guarded part of mg_mapping in the bundled build: file_or_fd() of
   5.46 after its read(). Returns the result or NULL; never jumps itself. */
static const char *
mg_file_buffer(magic_t ms, const void *base, size_t nb, int fd,
               struct stat *st)
{
    int rv;

    if (file_reset(ms, 1) == -1)
        return NULL;
    /* What fsmagic prints for a regular file, then file_buffer with the
       descriptor and its stat: ELF details, CDF sectors and the tail read
       for negative offsets pread through fd, exactly as for file(1). */
    rv = fd >= 0 ? mg_fs_prefix(ms, st) : 0;
    if (rv == 0)
        rv = file_buffer(ms, fd, fd >= 0 ? st : NULL, NULL,
                         nb ? base : "", nb) == -1 ? -1 : 1;
    return rv == 1 ? file_getbuffer(ms) : NULL;
}
#endif

/*
 * Run libmagic over [base, base + nb) inside the armed guard g: with the
 * descriptor fd and its stat st when st is not NULL (bundled build; the
 * system build has only magic_buffer), else magic_buffer. After a trapped
 * fault the magic_t is closed (mg_discard) and NULL returned.
 */
static const char *
mg_identify(magic_t ms, struct mg_guard *g, const void *base, size_t nb,
            int fd, struct stat *st, mg_fault *fault)
{
    const char *volatile res = NULL;
    locale_t loc = uselocale((locale_t)0);

    MG_TRACK_ARM();
    if (MG_SIGSETJMP(g->env) == 0) {
        mg_push(g);
#if MG_BUNDLED_BUILD
        res = st != NULL ? mg_file_buffer(ms, base, nb, fd, st)
                         : magic_buffer(ms, nb ? base : "", nb);
#else
        (void)fd;
        (void)st;
        res = magic_buffer(ms, nb ? base : "", nb);
#endif
        mg_pop(g);
        MG_TRACK_DISARM();
        return res;
    }
    mg_landed(g, base, fault);
    mg_discard(ms, loc, fault);
    return NULL;
}

const char *
mg_buffer(magic_t ms, const void *buf, size_t len, mg_fault *fault)
{
    struct mg_guard g;

    if (mg_prepare(&g, buf, len, fault) != 0)
        return NULL;
    return mg_identify(ms, &g, buf, len, -1, NULL, fault);
}

const char *
mg_mapping(magic_t ms, const void *base, size_t len, int fd, int precheck,
           mg_fault *fault)
{
    struct mg_guard g;
    struct stat st;
    const char *res;
    size_t nb;
    off_t pos = (off_t)-1;

    if (mg_prepare(&g, base, len, fault) != 0)
        return NULL;
    memset(&st, 0, sizeof(st));
    if (fd >= 0 && fstat(fd, &st) != 0) {
        fault->sys_errno = errno;
        return NULL;
    }
    /* The cheap pre-check: a file now shorter than the mapping faults on
       its dead pages; refuse without entering libmagic (no leak, no
       rebuild). The trap covers a truncation after this point. */
    if (precheck && fd >= 0 && S_ISREG(st.st_mode)
        && (uintmax_t)st.st_size < (uintmax_t)len) {
        fault->faulted = 1;
        fault->precheck = 1;
        fault->offset = (size_t)st.st_size;
        return NULL;
    }
#if MG_BUNDLED_BUILD
    /* file_or_fd() saves and restores the offset of a caller's descriptor
       (libmagic's ELF and compress code lseek on it); so do we, since a
       Mapping's descriptor may share its offset with the caller's. */
    if (fd >= 0)
        pos = lseek(fd, 0, SEEK_CUR);
#endif
    /* The head, as file(1) reads a file: at most bytes_max bytes. This
       bounds the pages libmagic touches (JSON, NUL tails, sparse files)
       and keeps offsets below 4 GiB (softmagic's are 32-bit). */
    nb = mg_bytes_max(ms, len);
    if (nb > 0) {
        void *head = (void *)((uintptr_t)base & ~(mg_page() - 1));
        size_t span = nb + ((uintptr_t)base & (mg_page() - 1));

        /* Read the head -- the pages file(1) would read() -- ahead in large
           I/Os when it is not cached (measured cold: 30 ms instead of 52 ms
           for a 7 MiB head), then map it in one syscall (Linux >= 5.14)
           instead of one page fault per page. Neither raises SIGBUS: past
           EOF, POPULATE_READ fails with EFAULT (older kernels: EINVAL), and
           libmagic then faults the pages in itself, inside the trap. */
        (void)madvise(head, span, MADV_WILLNEED);
#if defined(MADV_POPULATE_READ)
        (void)madvise(head, span, MADV_POPULATE_READ);
#endif
    }
#if MG_BUNDLED_BUILD
    /* Lend libmagic the file's tail from the mapping (alloc.h, mg_tail). */
    mg_tail_set(fd, base, len);
#endif
    res = mg_identify(ms, &g, base, nb, fd, fd >= 0 ? &st : NULL, fault);
#if MG_BUNDLED_BUILD
    mg_tail_set(-1, NULL, 0);
#endif
    if (pos != (off_t)-1)
        (void)lseek(fd, pos, SEEK_SET);
    return res;
}
