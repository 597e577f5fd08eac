/*
 * trap_asan.c -- AddressSanitizer/LeakSanitizer run of csrc/trap.c and
 * csrc/alloc.c over an ASan build of libmagic 5.46 (tests/c/run_trap_asan.sh).
 *
 * For each file listed in argv[2], twice (descriptions, MIME): mg_mapping
 * over a private mapping must equal magic_file; mg_buffer runs over an
 * exact-size heap copy of the head (ASan flags any read past its end).
 * Then 300 faults inside libmagic (pre-check off, cookie rebuilt each
 * time) and 300 mg_copy faults. Exit 0 only without differences; ASan
 * and LSan report errors and leaks themselves.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <magic.h>
#include "trap.h"

static magic_t fresh(const char *db, int flags) {
    magic_t ms = magic_open(flags);
    if (!ms || magic_load(ms, db) != 0) { fprintf(stderr, "load failed\n"); exit(2); }
    return ms;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: trap_asan MAGIC.mgc FILELIST\n"); return 2; }
    const char *db = argv[1];
    FILE *list = fopen(argv[2], "r");
    char path[4096];
    int flagsets[2] = {MAGIC_NONE, MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING};
    int files = 0, diffs = 0, faults = 0;
    for (int f = 0; f < 2; f++) {
        magic_t ms = fresh(db, flagsets[f]);
        rewind(list);
        while (fgets(path, sizeof path, list)) {
            path[strcspn(path, "\n")] = 0;
            int fd = open(path, O_RDONLY);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) != 0) continue;
            char *want = strdup(magic_file(ms, path) ? magic_file(ms, path) : "(null)");
            size_t len = (size_t)st.st_size;
            void *base = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
            mg_fault fault;
            const char *got = mg_mapping(ms, base, len, fd, 1, &fault);
            if (!got || strcmp(got, want) != 0) { diffs++; printf("DIFF %s: %s | %s\n", path, want, got ? got : "(null)"); }
            /* exact-size heap copy: ASan flags any read past the end */
            size_t n = len < (1 << 20) ? len : (1 << 20);
            char *copy = malloc(n ? n : 1);
            memcpy(copy, base, n);
            (void)mg_buffer(ms, copy, n, &fault);
            free(copy);
            if (base) munmap(base, len);
            close(fd);
            free(want);
            files++;
        }
        magic_close(ms);
    }
    /* 300 faults inside libmagic, and 300 in mg_copy */
    char tmpl[] = "/tmp/mgasanXXXXXX";
    int fd = mkstemp(tmpl);
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) return 2;
    void *base = mmap(NULL, sizeof block, PROT_READ, MAP_PRIVATE, fd, 0);
    if (ftruncate(fd, 5000) != 0) return 2;
    magic_t ms = fresh(db, MAGIC_MIME_TYPE);
    for (int i = 0; i < 300; i++) {
        mg_fault fault;
        const char *r = mg_mapping(ms, base, sizeof block, fd, 0, &fault);
        if (r || !fault.faulted || !fault.closed) { printf("no fault %d\n", i); return 1; }
        faults++;
        ms = fresh(db, MAGIC_MIME_TYPE);
        char out[16];
        if (mg_copy(out, (char *)base + 8190, 10, &fault) != -1 || !fault.faulted) return 1;
        faults++;
    }
    magic_close(ms);
    munmap(base, sizeof block);
    close(fd);
    unlink(tmpl);
    printf("files %d diffs %d faults %d\n", files, diffs, faults);
    return diffs != 0;
}
