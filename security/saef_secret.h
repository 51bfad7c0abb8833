/*
 * Reading secrets (KEK, Km, private keys) from files referenced by path.  A secret file must be
 * a regular file that neither group nor others can read or write; its content is returned in
 * an OpenSSL-allocated buffer that saef_secret_free() wipes.  No logging: the caller gets a
 * result code and a detail line that names the path and the reason, never the content.
 */
#ifndef SAEF_SECRET_H
#define SAEF_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "saef_rc.h"

/* Upper bound of any secret file we read (a PEM private key with chain fits easily). */
#define SAEF_SECRET_FILE_MAX (64u * 1024u)

/*
 * Check that path names a secret file we may use: regular file (symbolic links are not
 * followed), mode without any group/other bit, size within [min_len, max_len].
 *   detail, detail_len  optional buffer for the reason ("/etc/x.key: mode 0644 lets group or
 *                       others read it; chmod 600").
 * Returns SAEF_OK or SAEF_E_CFG_SECRET_FILE (SAEF_E_INVALID_ARG for a NULL path).
 */
saef_rc_t saef_secret_check(const char *path, size_t min_len, size_t max_len, char *detail,
                            size_t detail_len);

/*
 * Check as saef_secret_check(), then read the whole file.  The checks are made on the opened
 * descriptor, so the file cannot be swapped between check and read.
 *   out, out_len  receive the content (owned by the caller: saef_secret_free()).  One extra
 *                 NUL byte follows the content so that PEM text can be parsed in place.
 * Returns SAEF_OK, SAEF_E_CFG_SECRET_FILE, SAEF_E_IO, SAEF_E_NOMEM or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_secret_read(const char *path, size_t min_len, size_t max_len, uint8_t **out,
                           size_t *out_len, char *detail, size_t detail_len);

/*
 * Read a symmetric key (Km, a KEK) from a secret file: hex text (2*min_len..2*max_len hex digits,
 * trailing whitespace allowed) or the raw min_len..max_len bytes.  Content made only of hex
 * digits (and an optional line end) is always read as hex.
 *   key, key_cap  caller buffer (the caller wipes it); *key_len receives the length.
 * Returns SAEF_OK, SAEF_E_CFG_SECRET_FILE (with the reason in detail: never the content),
 * SAEF_E_IO, SAEF_E_NOMEM or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_secret_read_key(const char *path, size_t min_len, size_t max_len, uint8_t *key,
                               size_t key_cap, size_t *key_len, char *detail, size_t detail_len);

/* Wipe and free a buffer returned by saef_secret_read(); NULL-safe. */
void saef_secret_free(uint8_t *buf, size_t len);

#endif
