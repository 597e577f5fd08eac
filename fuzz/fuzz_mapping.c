/*
 * fuzz_mapping -- Cookie.buffer(Mapping) and Cookie.descriptor(fd).
 *
 * The input is put in a memfd sealed against change (as Mapping.load
 * does), mapped read-only and private with mg_map, and identified with
 * mg_mapping -- libmagic's file_buffer with the descriptor and its fstat,
 * the tail lent from the mapping (csrc/alloc.c mg_tail) -- under the
 * default flags, as Mapping is identified. Then magic_descriptor on the
 * same descriptor with COMPRESS | CONTINUE, as OSS-Fuzz's
 * magic_fuzzer_fd does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static magic_t plain, deep;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    plain = fz_cookie(MAGIC_NONE);
    deep = fz_cookie(MAGIC_COMPRESS | MAGIC_CONTINUE);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mg_fault fault;
    const char *res;
    void *base = NULL;
    int err = 0;
    int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    fz_write_all(fd, data, size);
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
        abort();
    /* An empty file has no mapping: Mapping passes address 0, length 0. */
    if (size > 0 && (base = mg_map(fd, size, 0, &err)) == NULL)
        abort();
    res = mg_mapping(plain, base, size, fd, 1, &fault);
    if (fault.faulted || fault.closed) {
        dprintf(2, "magicguard fuzz: SIGBUS trap fired on a sealed memfd\n");
        abort();
    }
    fz_consume(res);
    if (res == NULL)
        fz_consume(magic_error(plain));
    if (base != NULL && mg_unmap(base, size) != 0)
        abort();

    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    res = magic_descriptor(deep, fd);
    fz_consume(res);
    if (res == NULL)
        fz_consume(magic_error(deep));
    close(fd);
    return 0;
}
