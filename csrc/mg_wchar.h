/*
 * Wide-character facts for the command line's name printing.
 *
 * file(1) prints a file name character by character: what the C library's
 * iswprint() calls printable under the current LC_CTYPE locale is copied,
 * anything else is escaped, and padding counts wcwidth() columns.  The CLI
 * asks the same C library the same questions through these two functions,
 * so its output is byte-identical to file(1)'s without loading the C
 * library again through ctypes (whose find_library runs /sbin/ldconfig).
 *
 * Plain declarations, parsed by the C compiler and by cffi's cdef.
 */
#ifndef MAGICGUARD_MG_WCHAR_H
#define MAGICGUARD_MG_WCHAR_H

/* iswprint(code) under the current locale: non-zero when printable.
 * A code above WINT_MAX is not printable. */
int mg_iswprint(unsigned int code);

/* wcwidth(code) under the current locale: columns, or -1 when the code is
 * not a printable character (or does not fit a wchar_t). */
int mg_wcwidth(unsigned int code);

#endif
