/*
 * Wide-character facts for the command line's name printing: iswprint()
 * and wcwidth() of the C library, under the locale the process set (Python
 * calls setlocale(LC_CTYPE, "") at start-up, as file(1) calls
 * setlocale(LC_CTYPE, "")).  See mg_wchar.h.  Nothing else belongs here.
 */
/* wcwidth() is an XSI extension in glibc's <wchar.h>. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <stdint.h>
#include <wchar.h>
#include <wctype.h>

#include "mg_wchar.h"

int
mg_iswprint(unsigned int code)
{
    /* wint_t is at least 32 bits on every platform this builds on, but a
     * code past WINT_MAX must not wrap into another character. */
    if ((uintmax_t)code > (uintmax_t)WINT_MAX)
        return 0;
    return iswprint((wint_t)code) != 0;
}

int
mg_wcwidth(unsigned int code)
{
    /* wchar_t is signed 32-bit on glibc: reject codes it cannot hold. */
    if ((uintmax_t)code > (uintmax_t)WCHAR_MAX)
        return -1;
    return wcwidth((wchar_t)code);
}
