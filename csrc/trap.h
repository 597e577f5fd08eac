/*
 * trap.h -- magicguard's SIGBUS trap: guarded libmagic calls and reads.
 *
 * Plain declarations, parsed both by the C compiler and by cffi's cdef
 * (build_ffi.py strips the preprocessor lines), so nothing conditional
 * here: build-dependent code is in trap.c. How the trap works and what it
 * guarantees: docs/safety.md.
 *
 * Every guarded function guards exactly the memory it is given, rounded
 * out to whole pages, on the calling thread: a SIGBUS the kernel raises
 * for an address in that range while the call runs ends the call and is
 * reported in *fault; any other SIGBUS goes to the action installed
 * before ours (or the default action: death by SIGBUS).
 */
#ifndef MAGICGUARD_TRAP_H
#define MAGICGUARD_TRAP_H

#include <stddef.h>

struct magic_set;

/* What a guarded call reports besides its result; zeroed by the callee. */
typedef struct {
    int faulted;    /* nonzero: the call was cut short by a trapped fault,
                       or refused by the pre-check (then precheck is set) */
    int si_code;    /* the kernel's si_code for that fault */
    size_t offset;  /* fault address minus the start of the guarded range;
                       for the pre-check, the file's current size */
    int precheck;   /* nonzero: refused before entering libmagic because
                       the file is now shorter than the mapping */
    int closed;     /* nonzero: the magic_t was closed after the fault; it
                       must not be used or closed again (rebuild it) */
    int sys_errno;  /* errno of a failure outside libmagic (fstat,
                       sigaction) when the result is NULL, else 0 */
} mg_fault;

/*
 * magic_buffer(ms, buf, len) inside the trap. NULL: libmagic's error, a
 * fault or a sys_errno failure (see *fault).
 */
const char *mg_buffer(struct magic_set *ms, const void *buf, size_t len,
                      mg_fault *fault);

/*
 * Identify a mapped file as magic_descriptor(fd) would, its head taken
 * from the mapping [base, base + len) (at most MAGIC_PARAM_BYTES_MAX
 * bytes, as file(1) reads) instead of read(). Bundled build: libmagic's
 * file_buffer with fd and its fstat, so what libmagic reads through a
 * descriptor (ELF details, CDF, tail rules) matches file(1); the fd's
 * offset is restored. System build: magic_buffer of that head. fd < 0:
 * no descriptor (anonymous memory). precheck nonzero: fstat(fd) first and
 * refuse without entering libmagic if the file is shorter than len.
 */
const char *mg_mapping(struct magic_set *ms, const void *base, size_t len,
                       int fd, int precheck, mg_fault *fault);

/* memcpy(dst, src, n) inside the trap guarding [src, src + n): 0 or -1. */
int mg_copy(void *dst, const void *src, size_t n, mg_fault *fault);

/*
 * mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0); populate: pre-fault the
 * pages (MAP_POPULATE on Linux; elsewhere MADV_WILLNEED plus a guarded
 * read of one byte per page). NULL with *err = errno on failure.
 */
void *mg_map(int fd, size_t len, int populate, int *err);
/* Private anonymous memory holding a copy of src[0:len], then read-only. */
void *mg_map_copy(const void *src, size_t len, int *err);
/* munmap: 0, or -1 with errno set. */
int mg_unmap(void *addr, size_t len);

/*
 * Test hooks (tests/test_trap*.py). mg_test_touch arms a guard over
 * [guard_base, guard_base + guard_len), sleeps hold_ms, then reads one
 * byte at touch (NULL: none): a fault outside the range is foreign.
 */
int mg_test_touch(const void *guard_base, size_t guard_len, const void *touch,
                  unsigned int hold_ms, mg_fault *fault);
/* 1 if our handler is the current SIGBUS action, 0 if not, -1 on error. */
int mg_test_handler_installed(void);

/*
 * For diagnostics (magicguard --doctor): *installed is 1 once our handler
 * has been installed in this process (it is, lazily, at the first guarded
 * call), *on_top is 1 if it is the current SIGBUS action (someone may have
 * replaced it since; the next guarded call puts it back). 0, or -1 if
 * sigaction failed.
 */
int mg_trap_status(int *installed, int *on_top);

#endif
