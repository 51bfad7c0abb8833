/*
 * Key vault crypto: Kc sealed with AES-256-GCM under a key-encryption key (KEK), so that the
 * database only ever holds ciphertext.  One random 12-byte nonce per seal; the additional
 * authenticated data is the Key Identifier, so a sealed row copied to another Key Identifier
 * does not open.  No I/O except reading the KEK file, no logging: functions return a result
 * code and, where a detail buffer is given, one line without key material.
 *
 * KEK file format: exactly 64 hexadecimal digits (the 32 bytes of the KEK, either case),
 * optionally followed by white space (a trailing newline).  Text rather than raw bytes so that
 * `openssl rand -hex 32 > kek` makes one and so that a 32-character password file is refused
 * instead of being taken for 256 bits of key.  The file must satisfy saef_secret_read() (regular
 * file, no group/other permission bits).
 *
 * kek_id: the first 8 bytes of SHA-256(KEK) in lower-case hex (16 digits).  It is stored with
 * every sealed row so that KEK rotation knows which KEK sealed it; it reveals nothing useful
 * about the KEK.
 *
 * Thread-safety: a saef_vault_kek_t is immutable after loading and may be shared by threads;
 * seal/open keep no state.
 */
#ifndef SAEF_VAULT_H
#define SAEF_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "saef_rc.h"

#define SAEF_VAULT_KEK_LEN 32   /* AES-256 */
#define SAEF_VAULT_NONCE_LEN 12 /* GCM nonce */
#define SAEF_VAULT_TAG_LEN 16   /* GCM tag, appended to the ciphertext */
#define SAEF_VAULT_KEY_MAX 64   /* longest Kc we seal */
#define SAEF_VAULT_SEALED_MAX (SAEF_VAULT_KEY_MAX + SAEF_VAULT_TAG_LEN)
#define SAEF_VAULT_KEK_ID_SIZE 17 /* 16 hex digits and the NUL */

/* A loaded KEK.  Opaque; owns the key bytes, wiped by saef_vault_kek_free(). */
typedef struct saef_vault_kek saef_vault_kek_t;

/* A sealed key as it is stored: nonce, ciphertext followed by the tag, and the KEK's ID. */
typedef struct saef_vault_sealed {
    uint8_t nonce[SAEF_VAULT_NONCE_LEN];
    uint8_t ct[SAEF_VAULT_SEALED_MAX]; /* ciphertext || tag */
    size_t ct_len;                     /* key length + SAEF_VAULT_TAG_LEN */
    char kek_id[SAEF_VAULT_KEK_ID_SIZE];
} saef_vault_sealed_t;

/*
 * Read a KEK file (format above).
 *   out              receives a new KEK (owned by the caller: saef_vault_kek_free()).
 *   detail, dlen     optional buffer for the reason of a refusal (names the path, never content).
 * Returns SAEF_OK; SAEF_E_CFG_SECRET_FILE (missing, not a regular file, group/world-accessible,
 * wrong size, not 64 hex digits); SAEF_E_IO; SAEF_E_NOMEM; SAEF_E_INTERNAL (SHA-256 failed);
 * SAEF_E_INVALID_ARG (NULL path or out).  *out is untouched on error.
 */
saef_rc_t saef_vault_kek_load(const char *path, saef_vault_kek_t **out, char *detail, size_t dlen);

/*
 * Make a KEK from raw bytes (tests, tools).  len must be SAEF_VAULT_KEK_LEN.  The bytes are
 * copied; the caller wipes its own copy.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_INTERNAL.
 */
saef_rc_t saef_vault_kek_from_bytes(const uint8_t *key, size_t len, saef_vault_kek_t **out);

/* Wipe and free; NULL-safe. */
void saef_vault_kek_free(saef_vault_kek_t *kek);

/* The KEK's ID (16 lower-case hex digits); borrowed, valid while kek lives. */
const char *saef_vault_kek_id(const saef_vault_kek_t *kek);

/*
 * Seal key (1..SAEF_VAULT_KEY_MAX bytes) under kek with a fresh random nonce.
 *   aad, aad_len  the Key Identifier the key belongs to (1..255 bytes).
 *   out           receives nonce, ciphertext || tag, and the KEK's ID.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_INTERNAL (random or cipher failure); out is
 * wiped on error.
 */
saef_rc_t saef_vault_seal(const saef_vault_kek_t *kek, const uint8_t *key, size_t key_len,
                          const char *aad, size_t aad_len, saef_vault_sealed_t *out);

/*
 * Open a sealed key.
 *   aad, aad_len   the Key Identifier the caller expects the key to belong to.
 *   key, cap       output buffer; cap must hold ct_len - SAEF_VAULT_TAG_LEN bytes.
 *   key_len        receives the key length.
 * Returns SAEF_OK; SAEF_E_NOT_FOUND when the sealed key does not authenticate: another KEK
 * sealed it (kek_id differs, or a forged kek_id with the wrong key), another Key Identifier,
 * or a modified nonce, ciphertext or tag (GCM cannot tell these apart, and a caller treats them
 * all as "no usable key here"); SAEF_E_BUFFER_TOO_SMALL; SAEF_E_INVALID_ARG (NULL, ct_len out
 * of range); SAEF_E_INTERNAL.  key is wiped on every error.
 */
saef_rc_t saef_vault_open(const saef_vault_kek_t *kek, const saef_vault_sealed_t *in,
                          const char *aad, size_t aad_len, uint8_t *key, size_t cap,
                          size_t *key_len);

#endif /* SAEF_VAULT_H */
