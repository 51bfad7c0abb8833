/* Operations: status counts and retention (prune). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "saef_db_internal.h"

#define PRUNE_CHUNK "10000"

/* Exact counts except for audit_events, which can hold millions of rows: there the planner's
 * estimate is used once it is large (never-analysed tables report -1). */
static const db_stmt_t st_status = {
    DB_S_STATUS, "saef_status",
    "SELECT (SELECT count(*) FROM associations WHERE state = 'active'),"
    " (SELECT count(*) FROM associations WHERE state = 'expired'),"
    " (SELECT count(*) FROM associations WHERE state = 'revoked'),"
    " (SELECT count(*) FROM key_vault),"
    " (SELECT count(*) FROM key_vault WHERE NOT revoked AND expires_at > now()),"
    " (SELECT count(*) FROM key_vault WHERE revoked),"
    " (SELECT count(*) FROM credential_map),"
    " (SELECT CASE WHEN c.reltuples < 100000 THEN (SELECT count(*) FROM audit_events)"
    "   ELSE c.reltuples::bigint END"
    "  FROM pg_catalog.pg_class c WHERE c.oid = 'audit_events'::regclass)",
    0};

static const db_stmt_t st_prune_audit = {
    DB_S_PRUNE_AUDIT, "saef_prune_audit",
    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events"
    " WHERE at < to_timestamp($1::bigint) ORDER BY at LIMIT " PRUNE_CHUNK ")",
    1};

static const db_stmt_t st_prune_assoc = {DB_S_PRUNE_ASSOC, "saef_prune_assoc",
                                         "DELETE FROM associations WHERE state <> 'active'"
                                         " AND last_handshake < to_timestamp($1::bigint)",
                                         1};

static const db_stmt_t st_prune_vault = {
    DB_S_PRUNE_VAULT, "saef_prune_vault",
    "DELETE FROM key_vault WHERE (revoked AND revoked_at < to_timestamp($1::bigint))"
    " OR expires_at < to_timestamp($1::bigint)",
    1};

saef_rc_t saef_db_status(saef_db_t *db, saef_db_status_t *st)
{
    PGresult *r;
    saef_rc_t rc;

    if (db == NULL || st == NULL)
        return SAEF_E_INVALID_ARG;
    memset(st, 0, sizeof(*st));
    st->module_version = saef_db_module_version();
    rc = saef_db_schema_version(db, &st->db_version);
    if (rc != SAEF_OK || st->db_version == 0)
        return rc; /* nothing migrated yet: no tables to count */
    r = db_exec(db, &st_status, NULL, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    st->assoc_active = db_int_field(r, 0, 0);
    st->assoc_expired = db_int_field(r, 0, 1);
    st->assoc_revoked = db_int_field(r, 0, 2);
    st->vault_rows = db_int_field(r, 0, 3);
    st->vault_valid = db_int_field(r, 0, 4);
    st->vault_revoked = db_int_field(r, 0, 5);
    st->credmap_rows = db_int_field(r, 0, 6);
    st->audit_rows = db_int_field(r, 0, 7);
    PQclear(r);
    return SAEF_OK;
}

static saef_rc_t delete_before(saef_db_t *db, const db_stmt_t *st, int64_t before, int64_t *count)
{
    char t[24];
    const char *param = t;
    PGresult *r;

    snprintf(t, sizeof(t), "%" PRId64, before);
    r = db_exec(db, st, &param, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    *count = db_affected(r);
    PQclear(r);
    return SAEF_OK;
}

saef_rc_t saef_db_prune(saef_db_t *db, int64_t audit_before, int64_t assoc_before,
                        int64_t vault_before, saef_db_prune_result_t *res)
{
    saef_db_prune_result_t local;
    int64_t n;
    saef_rc_t rc;

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    rc = saef_db_expire_sweep(db, &res->expired);
    /* Chunks outside any caller transaction commit one by one, so that the backlog of a
     * large table shrinks even if a later chunk fails. */
    while (rc == SAEF_OK && audit_before > 0) {
        rc = delete_before(db, &st_prune_audit, audit_before, &n);
        if (rc != SAEF_OK || n == 0)
            break;
        res->audit += n;
    }
    if (rc == SAEF_OK && assoc_before > 0)
        rc = delete_before(db, &st_prune_assoc, assoc_before, &res->assoc);
    if (rc == SAEF_OK && vault_before > 0)
        rc = delete_before(db, &st_prune_vault, vault_before, &res->vault);
    return rc;
}
