/*
 * fuzz_source -- magic source text: Cookie.check(path), Cookie.compile(path)
 * and Cookie(database=path), then the compiled result loaded as a buffer.
 *
 * The input goes through the check Cookie applies to a database file
 * (Cookie._precheck_database_file: a compiled database's MAGICNO, or no
 * NUL byte in the first 8 KiB), is written to a file in a private
 * directory, and:
 *   1. magic_check (parse with warnings),
 *   2. magic_load, then the fixed probes and the input are identified,
 *   3. magic_compile (writes src.mgc in the current directory), and the
 *      result is loaded with magic_load_buffers and used the same way.
 * OSS-Fuzz's magic_fuzzer_loader does a part of 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "probes.h"

static const unsigned char magicno_le[4] = {0x1c, 0x04, 0x1e, 0xf1};
static const unsigned char magicno_be[4] = {0xf1, 0x1e, 0x04, 0x1c};

static int
cookie_accepts(const uint8_t *data, size_t size)
{
    size_t head = size < 8192 ? size : 8192;

    if (size >= 4 && (memcmp(data, magicno_le, 4) == 0
                      || memcmp(data, magicno_be, 4) == 0))
        return 1;
    return memchr(data, 0, head) == NULL;
}

static void
identify_all(magic_t ms, const uint8_t *data, size_t size)
{
    size_t i;

    for (i = 0; i < FZ_NPROBES; i++)
        (void)fz_buffer(ms, fz_probes[i].data, fz_probes[i].size);
    (void)fz_buffer(ms, data, size);
}

static uint8_t *
slurp(const char *path, size_t *size)
{
    struct stat st;
    uint8_t *buf;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return NULL;
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0
        || (buf = malloc((size_t)st.st_size)) == NULL) {
        fclose(f);
        return NULL;
    }
    *size = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    magic_t ms;
    uint8_t *compiled;
    size_t csize = 0;
    void *keep = NULL;

    if (!cookie_accepts(data, size))
        return 0;
    fz_write_file("src", data, size);
    (void)unlink("src.mgc");

    ms = magic_open(MAGIC_NONE);
    if (ms == NULL)
        abort();
    if (magic_check(ms, "src") != 0)
        fz_consume(magic_error(ms));
    magic_setflags(ms, MAGIC_NONE);
    if (magic_load(ms, "src") == 0) {
        magic_setflags(ms, MAGIC_NONE);
        identify_all(ms, data, size);
    }
    magic_setflags(ms, MAGIC_NONE);
    if (magic_compile(ms, "src") == 0
        && (compiled = slurp("src.mgc", &csize)) != NULL) {
        magic_t again = magic_open(MAGIC_CONTINUE);
        if (again == NULL)
            abort();
        if (fz_load_buffer(again, compiled, csize, &keep) == 0)
            identify_all(again, data, size);
        magic_close(again);
        free(keep);
        free(compiled);
    }
    magic_close(ms);
    return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    (void)fz_workdir();
    magic_close(fz_cookie(MAGIC_NONE));
    return 0;
}
