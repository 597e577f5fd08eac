/*
 * What this build of magicguard has, as constants Python reads through cffi
 * (build_ffi.py declares every `static const int MG_...` found here).
 *
 * Flags and params that not every supported libmagic defines: MG_x is the
 * value <magic.h> gives it, or else 0 for a flag (a no-op, as <magic.h>
 * itself does for MAGIC_NO_CHECK_FORTRAN) and a negative number for a param
 * (Python's Param.supported is false; it refuses the param before it reaches
 * libmagic).  Each missing param has its own negative number, -1, -2, ...:
 * Param is an IntEnum, in which two members of equal value would be one.
 */
#ifndef MAGICGUARD_CAPABILITIES_H
#define MAGICGUARD_CAPABILITIES_H

#include <magic.h>

#ifndef MG_BUNDLED_BUILD
#error "build_ffi.py defines MG_BUNDLED_BUILD to 0 or 1"
#endif
/* 1 when libmagic is the bundled static build, 0 for the system library. */
static const int MG_BUNDLED = MG_BUNDLED_BUILD;

/* MAGIC_VERSION of the <magic.h> compiled against, e.g. 546: the import
 * compares it with magic_version() of the library actually linked. */
static const int MG_HEADER_VERSION = MAGIC_VERSION;

/* The format version (the second word of a compiled .mgc header) of the
 * database built with the bundled libmagic, which that libmagic alone
 * reads; 0 in the system build, whose database is the distribution's. */
#ifdef MG_DATABASE_FORMAT_BUILD
static const int MG_DATABASE_FORMAT = MG_DATABASE_FORMAT_BUILD;
#else
static const int MG_DATABASE_FORMAT = 0;
#endif

#ifdef MAGIC_NO_CHECK_SIMH              /* libmagic >= 5.45 */
static const int MG_NO_CHECK_SIMH = MAGIC_NO_CHECK_SIMH;
#else
static const int MG_NO_CHECK_SIMH = 0;
#endif

#ifdef MAGIC_NO_COMPRESS_FORK           /* libmagic >= 5.44 */
static const int MG_NO_COMPRESS_FORK = MAGIC_NO_COMPRESS_FORK;
#else
static const int MG_NO_COMPRESS_FORK = 0;
#endif

#ifdef MAGIC_PARAM_ELF_SHSIZE_MAX       /* libmagic >= 5.44 (Debian), 5.45 */
static const int MG_PARAM_ELF_SHSIZE_MAX = MAGIC_PARAM_ELF_SHSIZE_MAX;
#else
static const int MG_PARAM_ELF_SHSIZE_MAX = -1;
#endif

#ifdef MAGIC_PARAM_MAGWARN_MAX          /* libmagic >= 5.44 (Debian), 5.46 */
static const int MG_PARAM_MAGWARN_MAX = MAGIC_PARAM_MAGWARN_MAX;
#else
static const int MG_PARAM_MAGWARN_MAX = -2;
#endif

#endif
