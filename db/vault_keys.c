/* The vault as the module uses it: seal-and-put after a retrieval, get-and-open on a miss. */
#include <string.h>

#include <openssl/crypto.h>

#include "saef_db_internal.h"

saef_rc_t saef_db_vault_seal_put(saef_db_t *db, const saef_vault_kek_t *kek, const uint8_t *key,
                                 size_t key_len, const saef_db_vault_row_t *meta)
{
    saef_db_vault_row_t row;
    saef_rc_t rc;

    if (db == NULL || kek == NULL || meta == NULL)
        return SAEF_E_INVALID_ARG;
    row = *meta;
    rc = saef_vault_seal(kek, key, key_len, row.key_id, strnlen(row.key_id, SAEF_ID_MAX),
                         &row.sealed);
    if (rc == SAEF_OK)
        rc = saef_db_vault_put(db, &row);
    /* Only ciphertext, but there is no reason to leave it on the stack. */
    OPENSSL_cleanse(&row.sealed, sizeof(row.sealed));
    return rc;
}

saef_rc_t saef_db_vault_get_open(saef_db_t *db, const saef_vault_kek_t *kek, const char *key_id,
                                 int64_t now, uint8_t *key, size_t cap, size_t *key_len,
                                 saef_db_vault_row_t *meta)
{
    saef_db_vault_row_t row;
    saef_rc_t rc;

    if (key == NULL || key_len == NULL)
        return SAEF_E_INVALID_ARG;
    OPENSSL_cleanse(key, cap);
    if (db == NULL || kek == NULL || key_id == NULL)
        return SAEF_E_INVALID_ARG;
    rc = saef_db_vault_get(db, key_id, &row);
    if (rc != SAEF_OK)
        return rc;
    if (meta != NULL)
        *meta = row;
    /* Revocation and expiry are decided before the key is opened: a revoked or expired Kc
     * never reaches the caller's buffer. */
    if (row.revoked)
        return SAEF_E_STATE;
    if (row.expires_at <= now)
        return SAEF_E_KEY_EXPIRED;
    return saef_vault_open(kek, &row.sealed, key_id, strlen(key_id), key, cap, key_len);
}
