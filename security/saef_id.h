/*
 * oneM2M identifiers used by Entity B of the MAF-based SAEF (TS-0003 10.3-10.6, TS-0001 7.2):
 * parse, validate and format.  No function here allocates or logs; views point into the
 * caller's input, and formatted output goes to caller buffers.  All functions are thread-safe
 * (no state).  Inputs are (pointer, length) pairs and need not be NUL-terminated; a NULL pointer
 * with a length > 0, or a NULL out, is SAEF_E_INVALID_ARG.
 *
 * Every parser reports the first defect in this order: SAEF_E_ID_EMPTY (length 0),
 * SAEF_E_ID_TOO_LONG, then SAEF_E_ID_NUL / SAEF_E_ID_NON_ASCII (a byte >= 0x80, a control
 * character or DEL; the first such byte wins), then the structural codes of the function.
 */
#ifndef SAEF_ID_H
#define SAEF_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "saef_rc.h"

#define SAEF_ID_IDENTITY_MAX 255 /* psk_identity / Key Identifier, bytes */
#define SAEF_ID_REL_MAX 64       /* RelativeKeyID, relative KmID/KpsaID part */
#define SAEF_ID_FQDN_LEN_MAX 253 /* FQDN without trailing dot */
#define SAEF_ID_LABEL_MAX 63     /* one DNS label */

/* A span of the caller's input.  Not NUL-terminated; borrowed from the parsed buffer. */
typedef struct saef_span {
    const char *ptr; /* borrowed */
    size_t len;
} saef_span_t;

/*
 * A parsed "relative@FQDN" identifier (Key Identifier, KmID, KpsaID, KeID).  rel and fqdn
 * point into the parsed input; fqdn excludes a trailing dot.
 */
typedef struct saef_id_scoped {
    saef_span_t rel;
    saef_span_t fqdn;
} saef_id_scoped_t;

/*
 * Validate an FQDN (RFC 1123 LDH labels of 1..63 characters, <= 253 characters in all, one
 * trailing dot ignored, no IPv4 or [IPv6] literal, no all-numeric top-level label).  A single
 * label ("localhost") is accepted.
 *   s, len  the bytes to check (may contain NUL: that is SAEF_E_ID_NUL).
 *   out     optional: receives the FQDN without its trailing dot (untouched on error).
 * Returns SAEF_OK or the first defect, checked in this order:
 *   SAEF_E_ID_EMPTY (len 0); SAEF_E_ID_NUL / SAEF_E_ID_NON_ASCII; SAEF_E_ID_FQDN_EMPTY (only a
 *   dot); SAEF_E_ID_FQDN_TOO_LONG (> 253 without the trailing dot); SAEF_E_ID_FQDN_IP_LITERAL
 *   for "[...]"; then label by label, left to right: SAEF_E_ID_FQDN_LABEL_EMPTY (leading dot,
 *   "..", a second trailing dot), SAEF_E_ID_FQDN_LABEL_TOO_LONG, SAEF_E_ID_FQDN_AT /
 *   SAEF_E_ID_FQDN_CHAR, SAEF_E_ID_FQDN_HYPHEN; then SAEF_E_ID_FQDN_IP_LITERAL when every label
 *   is a number as inet_aton() reads it (decimal, octal or 0x-hex: "10.0.0.1", "127.1",
 *   "0x7f000001"), and SAEF_E_ID_FQDN_NUMERIC_TLD when only the last label is all digits.
 *   SAEF_E_INVALID_ARG for NULL s with len > 0.
 */
saef_rc_t saef_id_fqdn_check(const char *s, size_t len, saef_span_t *out);

/* Case-insensitive FQDN equality, a trailing dot on either side ignored.  Inputs need not be
 * valid; two invalid names compare by bytes, ASCII letters folded (no Unicode folding).
 * Returns true when equal; false for a NULL pointer with a length > 0. */
bool saef_id_fqdn_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Parse a Key Identifier "RelativeKeyID@MAF-FQDN" (TS-0003 10.3.5), e.g. the psk_identity of
 * the SAEF handshake.  Split at the LAST '@'; RelativeKeyID is [A-Za-z0-9._-]{1,64}; the FQDN
 * as saef_id_fqdn_check(); the whole identity at most 255 bytes.  A second '@' can only be in
 * the relative part, and is SAEF_E_ID_REL_CHAR there.  (An '@' in the FQDN cannot happen when
 * splitting at the last '@'; SAEF_E_ID_FQDN_AT is reported by saef_id_fqdn_check for an FQDN
 * that contains '@'.)
 * Order of checks: the whole-identifier codes (see the top of this file), SAEF_E_ID_NO_AT, the
 * relative part (SAEF_E_ID_REL_EMPTY, SAEF_E_ID_REL_TOO_LONG, SAEF_E_ID_REL_CHAR), then the
 * FQDN as saef_id_fqdn_check() except that an empty FQDN ("key@") is SAEF_E_ID_FQDN_EMPTY.
 * Returns SAEF_OK (and fills out) or SAEF_E_ID_*; out is untouched on error.
 */
saef_rc_t saef_id_keyid_parse(const char *s, size_t len, saef_id_scoped_t *out);

/* KeID "hexBinary(RelativeKeID)@MEF-FQDN" (TS-0003 10.3.4): as Key Identifier, and the relative
 * part must be non-empty hexBinary (even number of [0-9A-Fa-f]); SAEF_E_ID_HEX otherwise (checked
 * after every Key Identifier rule).  out is untouched on error. */
saef_rc_t saef_id_keid_parse(const char *s, size_t len, saef_id_scoped_t *out);

/* KmID "MAF_RELATIVE_KmID@MAF-FQDN" (TS-0003 10.6); relative part case-insensitive. */
saef_rc_t saef_id_kmid_parse(const char *s, size_t len, saef_id_scoped_t *out);

/* KmID equality: relative parts case-insensitive, FQDNs case-insensitive.  Both must parse;
 * returns false otherwise. */
bool saef_id_kmid_equal(const char *a, size_t alen, const char *b, size_t blen);

/* KpsaID "Issuer_Relative_KpsaID@Issuer-FQDN" (TS-0003 10.5). */
saef_rc_t saef_id_kpsaid_parse(const char *s, size_t len, saef_id_scoped_t *out);

/*
 * Format "rel@fqdn" into buf (NUL-terminated).  Validates both parts as for a Key Identifier
 * (rel first, then fqdn, then the 255-byte total: SAEF_E_ID_TOO_LONG).  A trailing dot of fqdn
 * is not written, so the result is what saef_id_keyid_parse() returns as spans.  Case is kept.
 * Returns SAEF_OK, SAEF_E_ID_*, SAEF_E_INVALID_ARG (NULL part with a length > 0) or
 * SAEF_E_BUFFER_TOO_SMALL (buflen must exceed the length of the result); buf holds "" on every
 * error when buflen > 0.
 */
saef_rc_t saef_id_scoped_format(const char *rel, size_t rel_len, const char *fqdn, size_t fqdn_len,
                                char *buf, size_t buflen);

/* Credential-ID typeIDs (sec:credIDTypeID, TS-0003 12.3.2.1). */
typedef enum saef_credid_type {
    SAEF_CREDID_KPMID = 10,         /* symmetric key, MEF (KpmID) */
    SAEF_CREDID_KMID = 11,          /* symmetric key used to authenticate to a MAF (KmID) */
    SAEF_CREDID_KPSAID_KCID = 12,   /* KpsaID or KcID (SAEF) */
    SAEF_CREDID_ESPRIM_KEYID = 13,  /* pairwiseESPrimKeyID */
    SAEF_CREDID_ESDATA_SYM_14 = 14, /* ESData symmetric keys: 14..16 */
    SAEF_CREDID_ESDATA_SYM_15 = 15,
    SAEF_CREDID_ESDATA_SYM_16 = 16,
    SAEF_CREDID_RAW_PUBLIC_KEY = 30, /* TLS certificates: raw public key ID */
    SAEF_CREDID_DEVICE_HW_ID = 31,   /* device hardware ID */
    SAEF_CREDID_CSE_ID_CERT = 32,    /* CSE-ID certificate */
    SAEF_CREDID_AE_ID_CERT = 33,     /* AE-ID certificate */
    SAEF_CREDID_NODE_ID_CERT = 34,   /* Node-ID certificate */
    /* 41..45 ESData key management, 51..55 ESData signature: valid, no names of their own */
} saef_credid_type_t;

/* True when type is in the sec:credIDTypeID table. */
bool saef_credid_type_known(unsigned type);

/* Static description of a typeID ("unknown" otherwise). */
const char *saef_credid_type_name(unsigned type);

/* A parsed Credential-ID "<typeID>-<value>" (TS-0003 10.4). */
typedef struct saef_credid {
    unsigned type;     /* known typeID */
    saef_span_t value; /* borrowed; [A-Za-z0-9._@-]{1,}, at most 255 bytes in all */
} saef_credid_t;

/* Parse a Credential-ID; typeID is a decimal number without sign or leading zeros, known to
 * saef_credid_type_known(), and ends at the first '-' (the value may hold more).  The value is
 * not interpreted further (a KmID in an "11-" value is not validated as one).
 * Returns SAEF_OK, SAEF_E_ID_EMPTY/TOO_LONG/NUL/NON_ASCII, SAEF_E_ID_CREDID_TYPE (no '-', empty,
 * signed, leading zero, not decimal, unknown) or SAEF_E_ID_CREDID_VALUE; out untouched on error. */
saef_rc_t saef_id_credid_parse(const char *s, size_t len, saef_credid_t *out);

/* Derive the Credential-ID "11-<KmID>" from a KmID (validated with saef_id_kmid_parse) into
 * buf.  The KmID is written as parsed: case kept, a trailing dot of its FQDN dropped.
 * Returns SAEF_OK, SAEF_E_ID_* (SAEF_E_ID_TOO_LONG when the result would exceed 255 bytes) or
 * SAEF_E_BUFFER_TOO_SMALL (buflen must exceed the result's length); buf holds "" on error. */
saef_rc_t saef_id_credid_from_kmid(const char *kmid, size_t len, char *buf, size_t buflen);

/* What a oneM2M originator ID is (TS-0001 7.2, TS-0004 6.2.3). */
typedef enum saef_m2m_id_kind {
    SAEF_M2M_ID_INVALID = 0,
    SAEF_M2M_ID_CSE_SP_RELATIVE, /* "/cse-id" */
    SAEF_M2M_ID_CSE_ABSOLUTE,    /* "//sp-domain/cse-id" */
    SAEF_M2M_ID_AE_SP_RELATIVE,  /* "C..." or "S..." (SP-relative AE-ID; CSE-relative "C...") */
    SAEF_M2M_ID_AE_CSE_RELATIVE, /* "/cse-id/C..." or "/cse-id/S..." (SP-relative with CSE) */
    SAEF_M2M_ID_AE_ABSOLUTE,     /* "//sp-domain/cse-id/C..." or ".../S..." */
} saef_m2m_id_kind_t;

/* A classified CSE-ID or AE-ID; spans borrowed from the input, empty when absent. */
typedef struct saef_m2m_id {
    saef_m2m_id_kind_t kind;
    saef_span_t sp_domain; /* absolute forms only */
    saef_span_t cse_id;    /* without slashes; empty for a bare AE-ID */
    saef_span_t ae_id;     /* AE forms only, starts with 'C' or 'S' */
} saef_m2m_id_t;

/*
 * Classify a CSE-ID or AE-ID.  Characters of CSE-ID and AE-ID segments are unreserved URI
 * characters [A-Za-z0-9._~-]; an AE-ID is 'C' or 'S' (upper case) and at least one more
 * character; sp_domain is an FQDN as saef_id_fqdn_check() accepts it but without a trailing
 * dot (the ID is compared as text); at most 255 bytes in all.
 * Returns SAEF_OK, SAEF_E_ID_EMPTY/TOO_LONG/NUL/NON_ASCII, SAEF_E_ID_SP_ID ("//", "///x",
 * "//bad_dom/cse"), SAEF_E_ID_CSE_ID ("/", "//dom", "//dom/", bad character), SAEF_E_ID_AE_ID
 * (a bare ID that is not an AE-ID such as "X123", "/cse/", "/cse/X1", an extra segment) or
 * SAEF_E_INVALID_ARG; out is zeroed and out->kind is SAEF_M2M_ID_INVALID on error.
 */
saef_rc_t saef_id_m2m_classify(const char *s, size_t len, saef_m2m_id_t *out);

/* Convenience: true when s is a CSE-ID (either form) / an AE-ID (any form). */
bool saef_id_is_cse_id(const char *s, size_t len);
bool saef_id_is_ae_id(const char *s, size_t len);

#endif /* SAEF_ID_H */
