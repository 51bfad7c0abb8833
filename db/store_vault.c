/* Key vault rows: put, get, delete, list of usable keys.  The sealed bytes travel as binary
 * parameters; results come back in text (bytea hex). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "saef_db_internal.h"

/* A revoked row stays revoked: the update is skipped and put reports it. */
static const db_stmt_t st_put = {
    DB_S_VAULT_PUT, "saef_vault_put",
    "INSERT INTO key_vault AS v (key_id, sealed, nonce, kek_id, maf_fqdn, expires_at, suid,"
    " source_id, admin_fqdn, created_by)"
    " VALUES ($1::text, $2::bytea, $3::bytea, $4::text, $5::text, to_timestamp($6::bigint),"
    " $7::smallint, $8::text, $9::text, $10::text)"
    " ON CONFLICT (key_id) DO UPDATE SET sealed = EXCLUDED.sealed, nonce = EXCLUDED.nonce,"
    " kek_id = EXCLUDED.kek_id, maf_fqdn = EXCLUDED.maf_fqdn, expires_at = EXCLUDED.expires_at,"
    " suid = EXCLUDED.suid, source_id = EXCLUDED.source_id, admin_fqdn = EXCLUDED.admin_fqdn,"
    " updated_at = now()"
    " WHERE NOT v.revoked",
    10};

static const db_stmt_t st_get = {DB_S_VAULT_GET, "saef_vault_get",
                                 "SELECT " DB_VAULT_COLS " FROM key_vault WHERE key_id = $1::text",
                                 1};

static const db_stmt_t st_delete = {DB_S_VAULT_DELETE, "saef_vault_delete",
                                    "DELETE FROM key_vault WHERE key_id = $1::text", 1};

static const db_stmt_t st_list_valid = {DB_S_VAULT_LIST_VALID, "saef_vault_list_valid",
                                        "SELECT " DB_VAULT_COLS
                                        " FROM key_vault WHERE NOT revoked AND expires_at > now()"
                                        " ORDER BY expires_at DESC LIMIT $1::bigint",
                                        1};

static const db_stmt_t st_revoked_among = {
    DB_S_VAULT_REVOKED_AMONG, "saef_vault_revoked_among",
    "SELECT key_id FROM key_vault WHERE revoked AND key_id = ANY($1::text[])", 1};

saef_rc_t saef_db_vault_revoked_among(saef_db_t *db, const char *const *key_ids, size_t n,
                                      saef_db_key_cb_t cb, void *ctx)
{
    char key_id[SAEF_ID_MAX];
    const char *vals[1];
    db_buf_t arr;
    PGresult *r;
    size_t i;
    int row;

    if (db == NULL || (key_ids == NULL && n > 0) || cb == NULL)
        return SAEF_E_INVALID_ARG;
    if (n == 0)
        return SAEF_OK;
    db_clear_error(db);
    buf_init(&arr);
    arr_open(&arr);
    for (i = 0; i < n; i++)
        arr_text(&arr, key_ids[i]);
    arr_close(&arr);
    vals[0] = buf_str(&arr);
    if (vals[0] == NULL) {
        buf_free(&arr);
        return SAEF_E_NOMEM;
    }
    r = db_exec(db, &st_revoked_among, vals, NULL, NULL);
    buf_free(&arr);
    if (r == NULL)
        return SAEF_E_DB;
    for (row = 0; row < PQntuples(r); row++) {
        db_copy_field(r, row, 0, key_id, sizeof(key_id));
        if (cb(ctx, key_id) != 0)
            break;
    }
    PQclear(r);
    return SAEF_OK;
}

static bool row_ok(const saef_db_vault_row_t *row)
{
    return db_text_ok(row->key_id, SAEF_ID_MAX - 1, false) && strlen(row->key_id) >= 3 &&
           row->sealed.ct_len > SAEF_VAULT_TAG_LEN && row->sealed.ct_len <= SAEF_VAULT_SEALED_MAX &&
           strnlen(row->sealed.kek_id, SAEF_VAULT_KEK_ID_SIZE) == SAEF_VAULT_KEK_ID_SIZE - 1 &&
           db_text_ok(row->maf_fqdn, SAEF_FQDN_MAX - 1, false) &&
           db_text_ok(row->source_id, SAEF_ID_MAX - 1, false) &&
           db_text_ok(row->admin_fqdn, SAEF_FQDN_MAX - 1, true) &&
           db_text_ok(row->created_by, SAEF_DB_NAME_MAX - 1, false);
}

saef_rc_t saef_db_vault_put(saef_db_t *db, const saef_db_vault_row_t *row)
{
    char expires[24], suid[8];
    const char *vals[10];
    int lens[10] = {0}, fmts[10] = {0};
    PGresult *r;
    int64_t n;

    if (db == NULL || row == NULL || !row_ok(row))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    snprintf(expires, sizeof(expires), "%" PRId64, row->expires_at);
    snprintf(suid, sizeof(suid), "%u", (unsigned)row->suid);
    vals[0] = row->key_id;
    vals[1] = (const char *)row->sealed.ct;
    lens[1] = (int)row->sealed.ct_len;
    fmts[1] = 1;
    vals[2] = (const char *)row->sealed.nonce;
    lens[2] = SAEF_VAULT_NONCE_LEN;
    fmts[2] = 1;
    vals[3] = row->sealed.kek_id;
    vals[4] = row->maf_fqdn;
    vals[5] = expires;
    vals[6] = suid;
    vals[7] = row->source_id;
    vals[8] = row->admin_fqdn[0] != '\0' ? row->admin_fqdn : NULL;
    vals[9] = row->created_by;
    r = db_exec(db, &st_put, vals, lens, fmts);
    if (r == NULL)
        return SAEF_E_DB;
    n = db_affected(r);
    PQclear(r);
    return n == 1 ? SAEF_OK : SAEF_E_STATE;
}

bool db_vault_fill_row(const PGresult *r, int i, saef_db_vault_row_t *o)
{
    size_t nonce_len = 0;

    memset(o, 0, sizeof(*o));
    db_copy_field(r, i, 0, o->key_id, sizeof(o->key_id));
    if (!db_bytea_field(r, i, 1, o->sealed.ct, sizeof(o->sealed.ct), &o->sealed.ct_len) ||
        !db_bytea_field(r, i, 2, o->sealed.nonce, sizeof(o->sealed.nonce), &nonce_len) ||
        nonce_len != SAEF_VAULT_NONCE_LEN)
        return false;
    db_copy_field(r, i, 3, o->sealed.kek_id, sizeof(o->sealed.kek_id));
    db_copy_field(r, i, 4, o->maf_fqdn, sizeof(o->maf_fqdn));
    o->expires_at = db_int_field(r, i, 5);
    o->suid = (uint16_t)db_int_field(r, i, 6);
    db_copy_field(r, i, 7, o->source_id, sizeof(o->source_id));
    db_copy_field(r, i, 8, o->admin_fqdn, sizeof(o->admin_fqdn));
    db_copy_field(r, i, 9, o->created_by, sizeof(o->created_by));
    o->created_at = db_int_field(r, i, 10);
    o->revoked = strcmp(PQgetvalue(r, i, 11), "t") == 0;
    o->revoked_at = db_int_field(r, i, 12);
    return true;
}

saef_rc_t saef_db_vault_get(saef_db_t *db, const char *key_id, saef_db_vault_row_t *out)
{
    PGresult *r;
    saef_rc_t rc = SAEF_OK;

    if (db == NULL || out == NULL || !db_text_ok(key_id, SAEF_ID_MAX - 1, false))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_get, &key_id, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    if (PQntuples(r) == 0)
        rc = SAEF_E_NOT_FOUND;
    else if (!db_vault_fill_row(r, 0, out))
        rc = db_fail_msg(db, SAEF_DB_ERR_FATAL, "vault row %s: malformed sealed key or nonce",
                         key_id);
    PQclear(r);
    return rc;
}

saef_rc_t saef_db_vault_delete(saef_db_t *db, const char *key_id)
{
    PGresult *r;
    int64_t n;

    if (db == NULL || !db_text_ok(key_id, SAEF_ID_MAX - 1, false))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_delete, &key_id, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    n = db_affected(r);
    PQclear(r);
    return n > 0 ? SAEF_OK : SAEF_E_NOT_FOUND;
}

saef_rc_t saef_db_vault_list_valid(saef_db_t *db, saef_db_vault_row_t *rows, size_t cap, size_t *n)
{
    char limit[24];
    const char *param = limit;
    PGresult *r;
    size_t got = 0;
    int i;

    if (db == NULL || n == NULL || (rows == NULL && cap > 0))
        return SAEF_E_INVALID_ARG;
    *n = 0;
    db_clear_error(db);
    if (cap == 0)
        return SAEF_OK;
    snprintf(limit, sizeof(limit), "%zu", cap);
    r = db_exec(db, &st_list_valid, &param, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    /* A malformed row is skipped: it cannot be opened anyway, and one bad row must not
     * hide the others. */
    for (i = 0; i < PQntuples(r) && got < cap; i++)
        if (db_vault_fill_row(r, i, &rows[got]))
            got++;
    PQclear(r);
    *n = got;
    return SAEF_OK;
}
