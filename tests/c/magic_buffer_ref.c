/*
 * Reference for the tests: what libmagic's magic_buffer() returns, in C, for
 * the whole contents of each file named on the command line.
 *
 * usage: magic_buffer_ref FLAGS DATABASE FILE...
 *   FLAGS     MAGIC_* flags as a number (strtol base 0: "0x10" works)
 *   DATABASE  passed to magic_load(); "-" means NULL (libmagic's default)
 * Prints one line per file: the result, or "ERROR: <magic_error>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <magic.h>

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL)
        return NULL;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    magic_t ms;
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: %s FLAGS DATABASE FILE...\n", argv[0]);
        return 2;
    }
    ms = magic_open((int)strtol(argv[1], NULL, 0));
    if (ms == NULL || magic_load(ms, strcmp(argv[2], "-") ? argv[2] : NULL) != 0) {
        fprintf(stderr, "cannot open/load: %s\n", ms ? magic_error(ms) : "magic_open");
        return 1;
    }
    for (i = 3; i < argc; i++) {
        size_t len = 0;
        unsigned char *data = slurp(argv[i], &len);
        const char *r;

        if (data == NULL) {
            printf("ERROR: cannot read %s\n", argv[i]);
            continue;
        }
        r = magic_buffer(ms, data, len);
        if (r != NULL)
            printf("%s\n", r);
        else
            printf("ERROR: %s\n", magic_error(ms) ? magic_error(ms) : "");
        free(data);
    }
    magic_close(ms);
    return 0;
}
