/* Key vault crypto: AES-256-GCM seal/open of Kc under the KEK, KEK file loading. */
#include "saef_vault.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "saef_ascii.h"
#include "saef_secret.h"

/* Longest KEK file we accept: 64 digits and generous trailing white space. */
#define KEK_FILE_MAX 128
#define KEK_HEX_LEN (2 * SAEF_VAULT_KEK_LEN)
#define AAD_MAX 255

struct saef_vault_kek {
    uint8_t key[SAEF_VAULT_KEK_LEN];
    char id[SAEF_VAULT_KEK_ID_SIZE];
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

saef_rc_t saef_vault_kek_from_bytes(const uint8_t *key, size_t len, saef_vault_kek_t **out)
{
    uint8_t digest[32];
    unsigned int dlen = 0;
    saef_vault_kek_t *kek;

    if (key == NULL || len != SAEF_VAULT_KEK_LEN || out == NULL)
        return SAEF_E_INVALID_ARG;
    kek = OPENSSL_zalloc(sizeof(*kek));
    if (kek == NULL)
        return SAEF_E_NOMEM;
    memcpy(kek->key, key, SAEF_VAULT_KEK_LEN);
    if (EVP_Digest(kek->key, SAEF_VAULT_KEK_LEN, digest, &dlen, EVP_sha256(), NULL) != 1 ||
        dlen != sizeof(digest)) {
        saef_vault_kek_free(kek);
        return SAEF_E_INTERNAL;
    }
    saef_hex_encode(digest, 8, kek->id); /* 16 digits and the NUL */
    OPENSSL_cleanse(digest, sizeof(digest));
    *out = kek;
    return SAEF_OK;
}

saef_rc_t saef_vault_kek_load(const char *path, saef_vault_kek_t **out, char *detail, size_t dlen)
{
    uint8_t *text = NULL, key[SAEF_VAULT_KEK_LEN];
    size_t len = 0, digits = 0, i;
    saef_rc_t rc;

    if (path == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    rc = saef_secret_read(path, 1, KEK_FILE_MAX, &text, &len, detail, dlen);
    if (rc != SAEF_OK)
        return rc;
    while (digits < len && saef_hex_value(text[digits]) >= 0)
        digits++;
    for (i = digits; i < len && is_space(text[i]); i++)
        ;
    if (digits != KEK_HEX_LEN || i != len) {
        /* Count only; the content of a secret file never goes into a message. */
        if (detail != NULL && dlen > 0)
            snprintf(detail, dlen,
                     "%s: must hold exactly 64 hexadecimal digits (a 256-bit key, e.g. from "
                     "`openssl rand -hex 32`), found %zu%s",
                     path, digits, i != len ? " followed by other characters" : "");
        saef_secret_free(text, len);
        return SAEF_E_CFG_SECRET_FILE;
    }
    (void)saef_hex_decode((const char *)text, KEK_HEX_LEN, key, SAEF_VAULT_KEK_LEN);
    saef_secret_free(text, len);
    rc = saef_vault_kek_from_bytes(key, sizeof(key), out);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

void saef_vault_kek_free(saef_vault_kek_t *kek)
{
    if (kek != NULL)
        OPENSSL_clear_free(kek, sizeof(*kek));
}

const char *saef_vault_kek_id(const saef_vault_kek_t *kek)
{
    return kek != NULL ? kek->id : "";
}

/* One GCM pass over in[0..len) into out; enc selects the direction.  With enc == 0 the tag
 * is set before the final call, which verifies it. */
static saef_rc_t gcm(const saef_vault_kek_t *kek, int enc, const uint8_t *nonce, const char *aad,
                     size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    saef_rc_t rc = SAEF_E_INTERNAL;
    int n = 0, fin = 0;

    if (ctx == NULL)
        return SAEF_E_NOMEM;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SAEF_VAULT_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, kek->key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)aad_len) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SAEF_VAULT_TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1) {
        /* For decryption this is the tag check: the data is not authentic under this KEK and
         * this Key Identifier. */
        rc = enc ? SAEF_E_INTERNAL : SAEF_E_NOT_FOUND;
        goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SAEF_VAULT_TAG_LEN, tag) != 1)
        goto done;
    rc = (size_t)(n + fin) == len ? SAEF_OK : SAEF_E_INTERNAL;
done:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

saef_rc_t saef_vault_seal(const saef_vault_kek_t *kek, const uint8_t *key, size_t key_len,
                          const char *aad, size_t aad_len, saef_vault_sealed_t *out)
{
    saef_rc_t rc;

    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (kek == NULL || key == NULL || key_len == 0 || key_len > SAEF_VAULT_KEY_MAX || aad == NULL ||
        aad_len == 0 || aad_len > AAD_MAX)
        return SAEF_E_INVALID_ARG;
    /* A nonce must never repeat under one KEK; 96 random bits make that negligible for far
     * more seals than a vault will ever see. */
    if (RAND_bytes(out->nonce, SAEF_VAULT_NONCE_LEN) != 1)
        return SAEF_E_INTERNAL;
    rc = gcm(kek, 1, out->nonce, aad, aad_len, key, key_len, out->ct, out->ct + key_len);
    if (rc != SAEF_OK) {
        OPENSSL_cleanse(out, sizeof(*out));
        return rc;
    }
    out->ct_len = key_len + SAEF_VAULT_TAG_LEN;
    memcpy(out->kek_id, kek->id, sizeof(out->kek_id));
    return SAEF_OK;
}

saef_rc_t saef_vault_open(const saef_vault_kek_t *kek, const saef_vault_sealed_t *in,
                          const char *aad, size_t aad_len, uint8_t *key, size_t cap,
                          size_t *key_len)
{
    uint8_t tag[SAEF_VAULT_TAG_LEN];
    size_t len;
    saef_rc_t rc;

    if (kek == NULL || in == NULL || aad == NULL || aad_len == 0 || aad_len > AAD_MAX ||
        key == NULL || key_len == NULL || in->ct_len <= SAEF_VAULT_TAG_LEN ||
        in->ct_len > SAEF_VAULT_SEALED_MAX) {
        if (key != NULL)
            OPENSSL_cleanse(key, cap);
        return SAEF_E_INVALID_ARG;
    }
    len = in->ct_len - SAEF_VAULT_TAG_LEN;
    if (cap < len) {
        OPENSSL_cleanse(key, cap);
        return SAEF_E_BUFFER_TOO_SMALL;
    }
    /* Cheap and clear: a row sealed under another KEK is named as such by its kek_id.  The
     * tag check below still decides when the kek_id was forged. */
    if (CRYPTO_memcmp(in->kek_id, kek->id, SAEF_VAULT_KEK_ID_SIZE - 1) != 0) {
        OPENSSL_cleanse(key, cap);
        return SAEF_E_NOT_FOUND;
    }
    memcpy(tag, in->ct + len, SAEF_VAULT_TAG_LEN);
    rc = gcm(kek, 0, in->nonce, aad, aad_len, in->ct, len, key, tag);
    if (rc != SAEF_OK) {
        OPENSSL_cleanse(key, cap);
        return rc;
    }
    *key_len = len;
    return SAEF_OK;
}
