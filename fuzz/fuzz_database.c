/*
 * fuzz_database -- Cookie(database=<bytes>): magic_load_buffers on a
 * fuzzed compiled database, then identification with it.
 *
 * The Python layer checks only that a database buffer is not empty (a
 * MAGICNO header is checked for files; for buffers libmagic's own
 * check_buffer decides), then hands libmagic a private aligned copy
 * (Handle.load_buffers) and restores the cookie's flags. A database that
 * loads is then used: the fixed probes (probes.h) and the input itself
 * are identified with the default flags and with CONTINUE | MIME.
 */
#include <stdlib.h>

#include "common.h"
#include "probes.h"

static void
identify_all(magic_t ms, const uint8_t *data, size_t size)
{
    size_t i;

    for (i = 0; i < FZ_NPROBES; i++)
        (void)fz_buffer(ms, fz_probes[i].data, fz_probes[i].size);
    (void)fz_buffer(ms, data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *keep = NULL;
    magic_t ms = magic_open(MAGIC_NONE);

    if (ms == NULL)
        abort();
    if (fz_load_buffer(ms, data, size, &keep) == 0) {
        identify_all(ms, data, size);
        magic_setflags(ms, MAGIC_CONTINUE | MAGIC_MIME);
        identify_all(ms, data, size);
    } else {
        fz_consume(magic_error(ms));
    }
    magic_close(ms);
    free(keep);
    return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    /* Only for its side effect: libmagic's warnings go to /dev/null. */
    magic_close(fz_cookie(MAGIC_NONE));
    return 0;
}
