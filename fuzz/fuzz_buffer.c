/*
 * fuzz_buffer -- Cookie.buffer(bytes): mg_buffer (csrc/trap.c) over the
 * input, through two cookies loaded with the shipped database:
 *   - the default flags (Cookie()),
 *   - COMPRESS | CONTINUE | MIME (decompression, every match, MIME output).
 * OSS-Fuzz's magic_fuzzer does the first with plain magic_buffer.
 */
#include "common.h"

static magic_t plain, deep;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    plain = fz_cookie(MAGIC_NONE);
    deep = fz_cookie(MAGIC_COMPRESS | MAGIC_CONTINUE | MAGIC_MIME);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fz_buffer(plain, data, size);
    (void)fz_buffer(deep, data, size);
    return 0;
}
