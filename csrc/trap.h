/*
 * trap.h -- magicguard's SIGBUS trap: guarded libmagic calls and reads.
 *
 * Plain declarations, parsed both by the C compiler and by cffi's cdef
 * (build_ffi.py strips the preprocessor lines), so nothing conditional
 * here: build-dependent code is in the .c files. Defined in trap.c (the
 * trap, mg_copy, status), identify.c (mg_buffer, mg_mapping), handle.c
 * (mg_h_*, mg_result_free, mg_getpath) and mapping.c (mg_map*, mg_unmap,
 * mg_gather). How the trap works and what it
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

/*
 * For diagnostics (magicguard --doctor): *installed is 1 once our handler
 * has been installed in this process (it is, lazily, at the first guarded
 * call), *on_top is 1 if it is the current SIGBUS action (someone may have
 * replaced it since; the next guarded call puts it back). 0, or -1 if
 * sigaction failed.
 */
int mg_trap_status(int *installed, int *on_top);

/*
 * Handles: a magic_t with its own lock, every use of it one C call.
 *
 * Python's signal handlers run between bytecodes, so anything Python does
 * between two C calls can be interleaved with a handler that uses the same
 * handle. Hence: each function below takes the handle's lock, runs
 * libmagic, copies its answer (or error message) into the caller's
 * mg_result and releases the lock, all in one call; no libmagic-owned
 * pointer ever reaches Python. The lock is held only inside C, so a
 * handler on the same thread never finds it held by its own thread (if it
 * did, the call returns MG_REENTERED instead of deadlocking). close never
 * frees the record (mg_h_free, the Python object's destructor, does):
 * a closed handle answers MG_CLOSED. After fork() the child re-initialises
 * every handle's lock; a handle that was in use in another thread at the
 * fork answers MG_LOST (its magic_set may be mid-call: it is dropped, not
 * freed) and the owner rebuilds it.
 */
typedef struct mg_handle mg_handle;

/* Status values in mg_result.status (and the return value, when < 0). */
#define MG_OK 0
#define MG_ERROR -1      /* libmagic failed: text is its message */
#define MG_CLOSED -2     /* close() ran: no magic_t */
#define MG_REENTERED -3  /* this thread is already inside this handle */
#define MG_LOST -4       /* magic_t dropped after a fault or a fork: rebuild */
#define MG_FAULT -5      /* a trapped fault, or sys_errno: see fault */
#define MG_BIG -6        /* an answer in big (r->len bytes), not text */

/* What one call reports. Owned by the caller; the callee fills it. */
typedef struct {
    mg_fault fault;
    int status;      /* MG_* above */
    int lib_errno;   /* magic_errno() on MG_ERROR */
    int value;       /* an int result (getflags) */
    size_t len;      /* bytes in text (or big): the answer or the message */
    char *big;       /* malloc'd copy when it does not fit in text:
                        free it with mg_result_free */
    char *warnings;  /* what libmagic printed to stderr during a captured
                        database operation (malloc'd, NUL-terminated, or
                        NULL; bundled build); freed by mg_result_free */
    size_t wlen;
    char text[512];
} mg_result;

/* magic_open(flags) in a new handle; NULL with *err = errno. capture:
   database operations on it capture what libmagic prints to stderr into
   mg_result.warnings instead (bundled build; the system libmagic prints). */
mg_handle *mg_h_open(int flags, int capture, int *err);
/* The destructor: magic_close (if still open) and free the record. */
void mg_h_free(mg_handle *h);
/* magic_close now; 1 if deferred (this thread is inside the handle: the
   close happens when that call ends), else 0. */
int mg_h_close(mg_handle *h);
/* Free r->big and r->warnings (if any) and set them to NULL. */
void mg_result_free(mg_result *r);

/*
 * Identification; each returns r->len (>= 0) for an answer in text,
 * MG_BIG for one in big, else the negative status. guard 0: buf is memory that cannot fault (the heap
 * storage of a bytes object): no trap, no handler check.
 */
long mg_h_buffer(mg_handle *h, const void *buf, size_t len, int guard,
                 mg_result *r);
long mg_h_mapping(mg_handle *h, const void *base, size_t len, int fd,
                  int precheck, mg_result *r);
long mg_h_file(mg_handle *h, const char *path, mg_result *r);
long mg_h_descriptor(mg_handle *h, int fd, mg_result *r);

/* Everything else, one call each (op: MG_OP_*). */
#define MG_OP_GETFLAGS 1
#define MG_OP_SETFLAGS 2
#define MG_OP_GETPARAM 3
#define MG_OP_SETPARAM 4
#define MG_OP_LOAD 5
#define MG_OP_LOAD_BUFFERS 6
#define MG_OP_COMPILE 7
#define MG_OP_CHECK 8
#define MG_OP_LIST 9
#define MG_OP_ERROR 10
/*
 * iarg: the flags or the param; value: in/out for params; path: for
 * load/compile/check/list (NULL: libmagic's default); bufs/sizes/n: for
 * load_buffers. Database operations run under a process-wide lock and put
 * back the handle's flags afterwards. MG_OP_ERROR copies magic_error()
 * (status MG_OK with len 0: none) and magic_errno() (lib_errno). On
 * return errno is what the operation left (ERROR: what it was before).
 * Returns 0 or the negative status; on MG_ERROR text is libmagic's message
 * and value the C errno.
 */
int mg_h_op(mg_handle *h, int op, int iarg, size_t *value, const char *path,
            void **bufs, size_t *sizes, size_t n, mg_result *r);

/* magic_getpath(NULL, 0) copied into out (cap bytes, NUL-terminated). */
void mg_getpath(char *out, size_t cap);

/*
 * dst[i] = src[start + i * step] for i < n, inside the trap guarding the
 * bytes read: 0 or -1 (a fault, see *fault). For strided slices of a
 * Mapping: the work is n bytes, not the span.
 */
int mg_gather(unsigned char *dst, const unsigned char *src, size_t start,
              long step, size_t n, mg_fault *fault);

#endif
