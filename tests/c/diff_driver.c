/*
 * Differential and benchmark driver for the bundled libmagic.
 *
 * Built twice from this one source -- linked against the stock libmagic.a and
 * against the tuned one (tests/test_engine_differential.py, scripts/differential,
 * bench/bench_engine.py) -- and run with the same arguments and input, so
 * that the two outputs must be byte-identical.  It never prints addresses,
 * times or anything else that could differ between two correct builds in
 * "diff" mode.
 *
 * usage:
 *   diff_driver diff DATABASE FLAGS[,FLAGS...] SEED NRANDOM LENGTHS [PARAMS] < paths
 *     For every path read from stdin (one per line) and every flag value
 *     (numbers, strtoul base 0), print what libmagic answers for: the file
 *     by name (magic_file), by descriptor (magic_descriptor), its whole
 *     contents (magic_buffer), its heads and tails of each length in LENGTHS
 *     (comma-separated), and four mutated copies of its first 4096 bytes.
 *     Then NRANDOM random buffers (lengths 0..4096) and as many mutations of
 *     well-known headers.  Everything random comes from SEED, so both builds
 *     see the same bytes.  PARAMS, if given, sets libmagic's limits first:
 *     "NAME=VALUE,..." with NAME one of bytes, encoding, regex, indir, name.
 *   diff_driver bench DATABASE FLAGS ROUNDS < paths
 *     For every path: its first bytes_max bytes are read once, then
 *     magic_buffer is timed ROUNDS times; prints "cpu_ns instructions bytes
 *     read_ns path" with the minimum of the rounds (instructions is -1 when
 *     the kernel refuses a counter).  read_ns is the floor: the CPU time of
 *     reading those bytes again from the page cache.
 *
 * A result of NULL prints as "ERROR: <magic_error>", so errors are compared
 * as well.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#include <magic.h>

#define HEAD_MAX 4096

static uint64_t rng_state;

static uint64_t
rng(void)
{
    /* splitmix64: small, and the same sequence in both builds. */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned char *
slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY);
    unsigned char *buf;
    size_t n = 0;
    ssize_t got;

    if (fd < 0)
        return NULL;
    buf = malloc(max ? max : 1);
    if (buf == NULL)
        abort();
    while (n < max && (got = read(fd, buf + n, max - n)) > 0)
        n += (size_t)got;
    close(fd);
    *len = n;
    return buf;
}

static void
emit(magic_t m, size_t idx, unsigned long flags, const char *what, const char *r)
{
    if (r != NULL)
        printf("%zu %#lx %s\t%s\n", idx, flags, what, r);
    else
        printf("%zu %#lx %s\tERROR: %s\n", idx, flags, what,
            magic_error(m) ? magic_error(m) : "(none)");
}

static void
one_buffer(magic_t m, size_t idx, unsigned long flags, const char *what,
    const unsigned char *p, size_t n)
{
    emit(m, idx, flags, what, magic_buffer(m, p, n));
}

static void
mutate(unsigned char *p, size_t n)
{
    size_t k, edits = 1 + rng() % 8;

    if (n == 0)
        return;
    for (k = 0; k < edits; k++) {
        size_t at = rng() % n;
        switch (rng() % 4) {
        case 0: p[at] ^= (unsigned char)(1u << (rng() % 8)); break;
        case 1: p[at] = (unsigned char)rng(); break;
        case 2: p[at] = (unsigned char)"\0\n \x7f\xff<{%#"[rng() % 9]; break;
        default: p[at] = (unsigned char)(p[at] + 1); break;
        }
    }
}

static size_t
parse_list(char *s, unsigned long *out, size_t max)
{
    size_t n = 0;
    char *tok, *save = NULL;

    for (tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
        out[n++] = strtoul(tok, NULL, 0);
    return n;
}

static int
set_params(magic_t m, char *spec)
{
    static const struct { const char *name; int param; } names[] = {
        { "bytes", MAGIC_PARAM_BYTES_MAX }, { "encoding", MAGIC_PARAM_ENCODING_MAX },
        { "regex", MAGIC_PARAM_REGEX_MAX }, { "indir", MAGIC_PARAM_INDIR_MAX },
        { "name", MAGIC_PARAM_NAME_MAX },
    };
    char *tok, *save = NULL, *eq;
    size_t i, value;

    for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if ((eq = strchr(tok, '=')) == NULL)
            return -1;
        *eq = '\0';
        value = strtoul(eq + 1, NULL, 0);
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0)
                break;
        if (i == sizeof names / sizeof names[0] || magic_setparam(m, names[i].param, &value) != 0) {
            fprintf(stderr, "diff_driver: bad parameter %s\n", tok);
            return -1;
        }
    }
    return 0;
}

static magic_t
open_db(const char *db)
{
    magic_t m = magic_open(MAGIC_NONE);

    if (m == NULL || magic_load(m, strcmp(db, "-") ? db : NULL) != 0) {
        fprintf(stderr, "diff_driver: cannot load %s: %s\n", db,
            m ? magic_error(m) : "magic_open failed");
        exit(2);
    }
    return m;
}

static int
run_diff(int argc, char **argv)
{
    static const char *headers[] = {
        "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0\3\0>\0",
        "PK\3\4\24\0\0\0\10\0", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "#!/bin/sh\nexec true\n",
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">",
        "GIF89a\1\0\1\0\0\0\0;", "\xff\xd8\xff\xe0\0\x10JFIF\0", "{\"a\": [1, 2, {\"b\": null}]}\n",
        "a,b,c\n1,2,3\n4,5,6\n", "\x1f\x8b\x08\0\0\0\0\0\0\3", "BZh91AY&SY",
        "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "MZ\x90\0\3\0\0\0\4\0\0\0\xff\xff",
        "#include <stdio.h>\nint main(void) { return 0; }\n", "\xef\xbb\xbfhello\xc3\xa9\n",
        "\xff\xfeh\0i\0\n\0", "From: a@b\nSubject: x\n\nbody\n", "<!DOCTYPE html><html><head>",
        "\0\0\1\0\1\0\20\20", "RIFF\0\0\0\0WAVEfmt ", "ID3\3\0\0\0\0\0\0", "\xca\xfe\xba\xbe",
    };
    unsigned long flags[64], lens[64];
    size_t nflags, nlens, nrandom, idx = 0, i, f, l;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    magic_t m;
    unsigned char tmp[HEAD_MAX];

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: diff_driver diff DATABASE FLAGS SEED NRANDOM LENGTHS [PARAMS] < paths\n");
        return 2;
    }
    m = open_db(argv[2]);
    if (argc == 8 && set_params(m, argv[7]) != 0)
        return 2;
    nflags = parse_list(argv[3], flags, 64);
    rng_state = strtoull(argv[4], NULL, 0);
    nrandom = strtoul(argv[5], NULL, 0);
    nlens = parse_list(argv[6], lens, 64);

    while ((got = getline(&line, &cap, stdin)) > 0) {
        unsigned char *data;
        size_t len;
        int fd;
        char what[64];

        if (line[got - 1] == '\n')
            line[--got] = '\0';
        data = slurp(line, 8u << 20, &len);
        if (data == NULL)
            continue;
        printf("%zu file %s\n", idx, line);
        for (f = 0; f < nflags; f++) {
            if (magic_setflags(m, (int)flags[f]) != 0) {
                printf("%zu %#lx setflags refused\n", idx, flags[f]);
                continue;
            }
            emit(m, idx, flags[f], "name", magic_file(m, line));
            fd = open(line, O_RDONLY);
            if (fd >= 0) {
                emit(m, idx, flags[f], "fd", magic_descriptor(m, fd));
                close(fd);
            }
            one_buffer(m, idx, flags[f], "all", data, len);
            for (l = 0; l < nlens; l++) {
                size_t n = lens[l] < len ? lens[l] : len;
                snprintf(what, sizeof what, "head%lu", lens[l]);
                one_buffer(m, idx, flags[f], what, data, n);
                snprintf(what, sizeof what, "tail%lu", lens[l]);
                one_buffer(m, idx, flags[f], what, data + len - n, n);
            }
        }
        /* Mutations: the same bytes for every flag value. */
        for (i = 0; i < 4; i++) {
            size_t n = len < HEAD_MAX ? len : HEAD_MAX;
            memcpy(tmp, data, n);
            mutate(tmp, n);
            for (f = 0; f < nflags; f++) {
                if (magic_setflags(m, (int)flags[f]) != 0)
                    continue;
                snprintf(what, sizeof what, "mut%zu", i);
                one_buffer(m, idx, flags[f], what, tmp, n);
            }
        }
        free(data);
        idx++;
    }
    free(line);

    for (i = 0; i < nrandom; i++, idx++) {
        size_t n, k;
        const char *h = headers[i % (sizeof headers / sizeof headers[0])];
        size_t hl = strlen(h) ? strlen(h) : 1;

        n = rng() % (HEAD_MAX + 1);
        if (i % 3 == 2) {
            /* random bytes */
            for (k = 0; k < n; k++)
                tmp[k] = (unsigned char)rng();
        } else {
            /* a header (NUL bytes inside count via the literal's size
             * not being known: repeat it), then text-ish or random tail */
            for (k = 0; k < n; k++) {
                if (k < hl * 2)
                    tmp[k] = (unsigned char)h[k % hl];
                else if (i % 3 == 0)
                    tmp[k] = (unsigned char)(" \n\tabcdefxyz0123<>{}=;#"[rng() % 22]);
                else
                    tmp[k] = (unsigned char)rng();
            }
            mutate(tmp, n);
        }
        for (f = 0; f < nflags; f++) {
            if (magic_setflags(m, (int)flags[f]) != 0)
                continue;
            one_buffer(m, idx, flags[f], "rand", tmp, n);
        }
    }
    magic_close(m);
    return fflush(stdout) == 0 ? 0 : 1;
}

static uint64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
instr_counter(void)
{
    struct perf_event_attr pe;

    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_HARDWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_HW_INSTRUCTIONS;
    pe.disabled = 1;
    pe.exclude_kernel = 1;
    pe.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
}

static int
run_bench(int argc, char **argv)
{
    magic_t m;
    unsigned long rounds, r;
    char *line = NULL;
    size_t cap = 0, bytes_max = 7u << 20;
    ssize_t got;
    int counter;

    if (argc != 5) {
        fprintf(stderr, "usage: diff_driver bench DATABASE FLAGS ROUNDS < paths\n");
        return 2;
    }
    m = open_db(argv[2]);
    if (magic_setflags(m, (int)strtoul(argv[3], NULL, 0)) != 0)
        return 2;
    rounds = strtoul(argv[4], NULL, 0);
    magic_getparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    counter = instr_counter();
    while ((got = getline(&line, &cap, stdin)) > 0) {
        unsigned char *data;
        size_t len;
        uint64_t best = UINT64_MAX, best_read = UINT64_MAX, t;
        long long instr = -1;

        if (line[got - 1] == '\n')
            line[--got] = '\0';
        data = slurp(line, bytes_max, &len);
        if (data == NULL)
            continue;
        for (r = 0; r < rounds; r++) {
            t = cpu_ns();
            free(slurp(line, bytes_max, &len));
            t = cpu_ns() - t;
            if (t < best_read)
                best_read = t;
            if (counter >= 0) {
                ioctl(counter, PERF_EVENT_IOC_RESET, 0);
                ioctl(counter, PERF_EVENT_IOC_ENABLE, 0);
            }
            t = cpu_ns();
            if (magic_buffer(m, data, len) == NULL)
                fprintf(stderr, "%s: %s\n", line, magic_error(m));
            t = cpu_ns() - t;
            if (counter >= 0) {
                long long c = -1;
                ioctl(counter, PERF_EVENT_IOC_DISABLE, 0);
                if (read(counter, &c, sizeof c) == sizeof c && (instr < 0 || c < instr))
                    instr = c;
            }
            if (t < best)
                best = t;
        }
        printf("%llu %lld %zu %llu %s\n", (unsigned long long)best, instr, len,
            (unsigned long long)best_read, line);
        free(data);
    }
    free(line);
    magic_close(m);
    return 0;
}

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    if (argc >= 2 && strcmp(argv[1], "diff") == 0)
        return run_diff(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "bench") == 0)
        return run_bench(argc, argv);
    fprintf(stderr, "usage: diff_driver diff|bench ...\n");
    return 2;
}
