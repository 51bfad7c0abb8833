/*
 * Helpers shared by the identifier files (id_*.c).  Not part of the security/ interface: other
 * code includes saef_id.h only.
 */
#ifndef SAEF_ID_INTERNAL_H
#define SAEF_ID_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "saef_id.h"

/* Character classes are spelled out rather than taken from <ctype.h>: the ctype functions follow
 * the process locale, which the module must not depend on, and are undefined for negative chars. */
static inline bool id_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool id_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool id_is_alnum(unsigned char c)
{
    return id_is_alpha(c) || id_is_digit(c);
}

static inline bool id_is_xdigit(unsigned char c)
{
    return id_is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static inline unsigned char id_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* sec:relKeyID characters: [A-Za-z0-9._-]. */
static inline bool id_is_rel_char(unsigned char c)
{
    return id_is_alnum(c) || c == '.' || c == '_' || c == '-';
}

/* SAEF_E_ID_NUL or SAEF_E_ID_NON_ASCII (byte >= 0x80, C0 control or DEL) for the first bad byte
 * of s[0..len), else SAEF_OK. */
saef_rc_t saef_id_scan_bytes(const char *s, size_t len);

/* The checks every parser starts with, in this order: SAEF_E_ID_EMPTY when len is 0,
 * SAEF_E_ID_TOO_LONG when len > max, then saef_id_scan_bytes(). */
saef_rc_t saef_id_check_whole(const char *s, size_t len, size_t max);

/* A relative part (RelativeKeyID, relative KmID or KpsaID): SAEF_E_ID_REL_EMPTY,
 * SAEF_E_ID_REL_TOO_LONG (> SAEF_ID_REL_MAX), then per byte SAEF_E_ID_NUL,
 * SAEF_E_ID_NON_ASCII or SAEF_E_ID_REL_CHAR. */
saef_rc_t saef_id_rel_check(const char *s, size_t len);

/* saef_id_fqdn_check() for an FQDN that is one part of a larger identifier: an empty part is
 * SAEF_E_ID_FQDN_EMPTY rather than SAEF_E_ID_EMPTY.  out (required) receives the name without
 * its trailing dot. */
saef_rc_t saef_id_fqdn_part(const char *s, size_t len, saef_span_t *out);

/* Case-insensitive ASCII comparison of two byte ranges of equal length n. */
bool saef_id_equal_nocase(const char *a, const char *b, size_t n);

#endif /* SAEF_ID_INTERNAL_H */
