/* KEK rotation: verify every row under the old KEK, then re-seal in batches, one transaction
 * per batch, keyset-paged by key_id. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "saef_db_internal.h"

static const db_stmt_t st_count = {DB_S_VAULT_COUNT, "saef_vault_count",
                                   "SELECT count(*), count(*) FILTER (WHERE kek_id <> $1::text)"
                                   " FROM key_vault",
                                   1};

static const db_stmt_t st_page = {DB_S_VAULT_PAGE, "saef_vault_page",
                                  "SELECT " DB_VAULT_COLS " FROM key_vault WHERE key_id > $1::text"
                                  " ORDER BY key_id LIMIT $2::bigint",
                                  2};

static const db_stmt_t st_page_lock = {DB_S_VAULT_PAGE_LOCK, "saef_vault_page_lock",
                                       "SELECT " DB_VAULT_COLS
                                       " FROM key_vault WHERE key_id > $1::text"
                                       " ORDER BY key_id LIMIT $2::bigint FOR UPDATE",
                                       2};

/* kek_id in the WHERE clause: a row someone re-sealed meanwhile is not overwritten. */
static const db_stmt_t st_reseal = {
    DB_S_VAULT_RESEAL, "saef_vault_reseal",
    "UPDATE key_vault SET sealed = $2::bytea, nonce = $3::bytea, kek_id = $4::text,"
    " updated_at = now() WHERE key_id = $1::text AND kek_id = $5::text",
    5};

typedef struct rotation {
    saef_db_t *db;
    const saef_vault_kek_t *old_kek, *new_kek;
    char batch[24];
    saef_db_rotate_result_t *res;
} rotation_t;

static saef_rc_t counts(rotation_t *ro, int64_t *total, int64_t *not_new)
{
    const char *param = saef_vault_kek_id(ro->new_kek);
    PGresult *r = db_exec(ro->db, &st_count, &param, NULL, NULL);

    if (r == NULL)
        return SAEF_E_DB;
    *total = db_int_field(r, 0, 0);
    *not_new = db_int_field(r, 0, 1);
    PQclear(r);
    return SAEF_OK;
}

/* Does the row open with the old KEK?  The plaintext is wiped at once. */
static saef_rc_t opens(rotation_t *ro, const saef_db_vault_row_t *row, uint8_t *key, size_t *len)
{
    saef_rc_t rc = saef_vault_open(ro->old_kek, &row->sealed, row->key_id, strlen(row->key_id), key,
                                   SAEF_VAULT_KEY_MAX, len);

    if (rc == SAEF_E_NOT_FOUND || rc == SAEF_E_INVALID_ARG) {
        snprintf(ro->res->failed_key_id, sizeof(ro->res->failed_key_id), "%s", row->key_id);
        db_fail_msg(ro->db, SAEF_DB_ERR_FATAL,
                    "vault row %s (kek_id %s) does not open with the old KEK (kek_id %s)",
                    row->key_id, row->sealed.kek_id, saef_vault_kek_id(ro->old_kek));
        return SAEF_E_NOT_FOUND;
    }
    return rc;
}

/* Read-only pass: every row must open with the old KEK or already be under the new one. */
static saef_rc_t verify_all(rotation_t *ro)
{
    const char *new_id = saef_vault_kek_id(ro->new_kek);
    char last[SAEF_ID_MAX] = "";
    uint8_t key[SAEF_VAULT_KEY_MAX];
    saef_db_vault_row_t row;
    saef_rc_t rc = SAEF_OK;
    size_t len;

    for (;;) {
        const char *vals[2] = {last, ro->batch};
        PGresult *r = db_exec(ro->db, &st_page, vals, NULL, NULL);
        int i, n;

        if (r == NULL)
            return SAEF_E_DB;
        n = PQntuples(r);
        for (i = 0; i < n && rc == SAEF_OK; i++) {
            if (!db_vault_fill_row(r, i, &row)) {
                snprintf(ro->res->failed_key_id, sizeof(ro->res->failed_key_id), "%s",
                         PQgetvalue(r, i, 0));
                rc = db_fail_msg(ro->db, SAEF_DB_ERR_FATAL, "vault row %s is malformed",
                                 PQgetvalue(r, i, 0));
                break;
            }
            if (strcmp(row.sealed.kek_id, new_id) == 0)
                ro->res->already++;
            else
                rc = opens(ro, &row, key, &len);
            OPENSSL_cleanse(key, sizeof(key));
            snprintf(last, sizeof(last), "%s", row.key_id);
        }
        PQclear(r);
        if (rc != SAEF_OK || n == 0)
            return rc;
    }
}

/* Re-seal one locked row. */
static saef_rc_t reseal(rotation_t *ro, const saef_db_vault_row_t *row)
{
    uint8_t key[SAEF_VAULT_KEY_MAX];
    saef_vault_sealed_t fresh;
    const char *vals[5];
    int lens[5] = {0}, fmts[5] = {0};
    PGresult *r;
    size_t len = 0;
    saef_rc_t rc;

    rc = opens(ro, row, key, &len);
    if (rc == SAEF_OK)
        rc = saef_vault_seal(ro->new_kek, key, len, row->key_id, strlen(row->key_id), &fresh);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc != SAEF_OK)
        return rc;
    vals[0] = row->key_id;
    vals[1] = (const char *)fresh.ct;
    lens[1] = (int)fresh.ct_len;
    fmts[1] = 1;
    vals[2] = (const char *)fresh.nonce;
    lens[2] = SAEF_VAULT_NONCE_LEN;
    fmts[2] = 1;
    vals[3] = fresh.kek_id;
    vals[4] = row->sealed.kek_id;
    r = db_exec(ro->db, &st_reseal, vals, lens, fmts);
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    if (r == NULL)
        return SAEF_E_DB;
    if (db_affected(r) == 1)
        ro->res->resealed++;
    PQclear(r);
    return SAEF_OK;
}

/* One batch in its own transaction; *more is false after the last page. */
static saef_rc_t reseal_batch(rotation_t *ro, char *last, size_t lastcap, bool *more)
{
    const char *new_id = saef_vault_kek_id(ro->new_kek);
    const char *vals[2] = {last, ro->batch};
    saef_db_vault_row_t row;
    int64_t before = ro->res->resealed;
    saef_rc_t rc;
    PGresult *r;
    int i, n;

    rc = saef_db_begin(ro->db);
    if (rc != SAEF_OK)
        return rc;
    r = db_exec(ro->db, &st_page_lock, vals, NULL, NULL);
    if (r == NULL) {
        saef_db_rollback(ro->db);
        return SAEF_E_DB;
    }
    n = PQntuples(r);
    for (i = 0; i < n && rc == SAEF_OK; i++) {
        if (!db_vault_fill_row(r, i, &row)) {
            rc = db_fail_msg(ro->db, SAEF_DB_ERR_FATAL, "vault row %s is malformed",
                             PQgetvalue(r, i, 0));
            break;
        }
        if (strcmp(row.sealed.kek_id, new_id) != 0)
            rc = reseal(ro, &row);
        snprintf(last, lastcap, "%s", row.key_id);
    }
    PQclear(r);
    if (rc != SAEF_OK) {
        saef_db_rollback(ro->db);
        ro->res->resealed = before; /* nothing of this batch was kept */
        return rc;
    }
    rc = saef_db_commit(ro->db);
    if (rc != SAEF_OK)
        ro->res->resealed = before;
    *more = n > 0;
    return rc;
}

saef_rc_t saef_db_vault_rotate(saef_db_t *db, const saef_vault_kek_t *old_kek,
                               const saef_vault_kek_t *new_kek, size_t batch,
                               saef_db_rotate_progress_t progress, void *ctx,
                               saef_db_rotate_result_t *res)
{
    saef_db_rotate_result_t local;
    char last[SAEF_ID_MAX] = "";
    int64_t not_new = 0;
    rotation_t ro;
    bool more = true;
    saef_rc_t rc;

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (db == NULL || old_kek == NULL || new_kek == NULL || batch == 0 ||
        strcmp(saef_vault_kek_id(old_kek), saef_vault_kek_id(new_kek)) == 0)
        return SAEF_E_INVALID_ARG;
    if (db->txn_depth > 0)
        return SAEF_E_STATE;
    db_clear_error(db);
    ro.db = db;
    ro.old_kek = old_kek;
    ro.new_kek = new_kek;
    ro.res = res;
    snprintf(ro.batch, sizeof(ro.batch), "%zu", batch);
    rc = counts(&ro, &res->total, &not_new);
    if (rc == SAEF_OK)
        rc = verify_all(&ro);
    while (rc == SAEF_OK && more) {
        rc = reseal_batch(&ro, last, sizeof(last), &more);
        if (rc == SAEF_OK && more && progress != NULL)
            progress(ctx, res->resealed + res->already, res->total);
    }
    if (rc == SAEF_OK)
        rc = counts(&ro, &not_new, &res->remaining);
    return rc;
}
