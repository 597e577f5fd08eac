/*
 * probes.h -- fixed inputs the database harnesses identify with a fuzzed
 * database (besides the fuzz input itself): a spread of first bytes,
 * text and binary, so that rules of every kind get to run.
 */
#ifndef MAGICGUARD_FUZZ_PROBES_H
#define MAGICGUARD_FUZZ_PROBES_H

#include <stddef.h>

/* A string literal and its length without the terminating NUL. */
#define FZ_PROBE(s) {s, sizeof(s) - 1}

static const struct { const char *data; size_t size; } fz_probes[] = {
    FZ_PROBE(""),
    FZ_PROBE("#!/bin/sh\necho hello\n"),
    FZ_PROBE("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0"),
    FZ_PROBE("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0"),
    FZ_PROBE("\x1f\x8b\x08\0\0\0\0\0\0\x03\xcb\x48\xcd\xc9\xc9\x07\0"),
    FZ_PROBE("PK\x03\x04\x14\0\0\0\x08\0"),
    FZ_PROBE("<?xml version=\"1.0\"?>\n<a>b</a>\n"),
    FZ_PROBE("{\"a\": [1, 2.5, \"x\"]}\n"),
    FZ_PROBE("\xff\xfe" "a\0b\0"),
    FZ_PROBE("\xef\xbb\xbfUTF-8 text \xc3\xa9\n"),
    FZ_PROBE("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
    FZ_PROBE("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
};

#define FZ_NPROBES (sizeof(fz_probes) / sizeof(fz_probes[0]))

#endif
