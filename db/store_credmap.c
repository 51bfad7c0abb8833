/* Credential map rows: changes NOTIFY saef_credmap in their own transaction; load builds the
 * in-memory table. */
#include <stdio.h>
#include <string.h>

#include "saef_db_internal.h"

#define CREDMAP_COLS                                                                               \
    "pattern, target_id, target_kind, extract(epoch FROM created_at)::bigint,"                     \
    " extract(epoch FROM updated_at)::bigint"

static const db_stmt_t st_add = {DB_S_CREDMAP_ADD, "saef_credmap_add",
                                 "INSERT INTO credential_map (pattern, target_id, target_kind)"
                                 " VALUES ($1::text, $2::text, $3::smallint)",
                                 3};

/* lower(pattern) everywhere: it is what the unique index is built on. */
static const db_stmt_t st_update = {
    DB_S_CREDMAP_UPDATE, "saef_credmap_update",
    "UPDATE credential_map SET target_id = $2::text, target_kind = $3::smallint,"
    " updated_at = now() WHERE lower(pattern) = lower($1::text)",
    3};

static const db_stmt_t st_delete = {
    DB_S_CREDMAP_DELETE, "saef_credmap_delete",
    "DELETE FROM credential_map WHERE lower(pattern) = lower($1::text)", 1};

static const db_stmt_t st_get = {
    DB_S_CREDMAP_GET, "saef_credmap_get",
    "SELECT " CREDMAP_COLS " FROM credential_map WHERE lower(pattern) = lower($1::text)", 1};

static const db_stmt_t st_all = {
    DB_S_CREDMAP_ALL, "saef_credmap_all",
    "SELECT " CREDMAP_COLS " FROM credential_map ORDER BY lower(pattern)", 0};

/* Run a change and its NOTIFY in one transaction; *affected receives the row count. */
static saef_rc_t change(saef_db_t *db, const db_stmt_t *st, const char *const *vals,
                        const char *pattern, int64_t *affected)
{
    PGresult *r;
    bool own;
    saef_rc_t rc;

    db_clear_error(db);
    rc = db_txn_enter(db, &own);
    if (rc != SAEF_OK)
        return rc;
    r = db_exec(db, st, vals, NULL, NULL);
    if (r == NULL) {
        rc = SAEF_E_DB;
    } else {
        *affected = db_affected(r);
        PQclear(r);
        if (*affected > 0)
            rc = saef_db_notify(db, SAEF_DB_CHANNEL_CREDMAP, pattern);
    }
    return db_txn_leave(db, own, rc);
}

static saef_rc_t write_mapping(saef_db_t *db, const db_stmt_t *st, const char *pattern,
                               const char *target, bool must_exist)
{
    saef_peer_kind_t kind;
    char kind_s[4];
    const char *vals[3] = {pattern, target, kind_s};
    int64_t n = 0;
    saef_rc_t rc;

    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    if ((rc = saef_credmap_pattern_check(pattern)) != SAEF_OK ||
        (rc = saef_credmap_target_check(target, &kind)) != SAEF_OK)
        return rc;
    snprintf(kind_s, sizeof(kind_s), "%d", (int)kind);
    rc = change(db, st, vals, pattern, &n);
    if (rc == SAEF_OK && must_exist && n == 0)
        return SAEF_E_NOT_FOUND;
    return rc;
}

saef_rc_t saef_db_credmap_add(saef_db_t *db, const char *pattern, const char *target)
{
    return write_mapping(db, &st_add, pattern, target, false);
}

saef_rc_t saef_db_credmap_update(saef_db_t *db, const char *pattern, const char *target)
{
    return write_mapping(db, &st_update, pattern, target, true);
}

saef_rc_t saef_db_credmap_delete(saef_db_t *db, const char *pattern)
{
    int64_t n = 0;
    saef_rc_t rc;

    if (db == NULL || !db_text_ok(pattern, SAEF_CREDMAP_PATTERN_MAX, false))
        return SAEF_E_INVALID_ARG;
    rc = change(db, &st_delete, &pattern, pattern, &n);
    if (rc == SAEF_OK && n == 0)
        return SAEF_E_NOT_FOUND;
    return rc;
}

static void fill(const PGresult *r, int i, saef_db_credmap_row_t *o)
{
    memset(o, 0, sizeof(*o));
    db_copy_field(r, i, 0, o->pattern, sizeof(o->pattern));
    db_copy_field(r, i, 1, o->target, sizeof(o->target));
    o->kind = (saef_peer_kind_t)db_int_field(r, i, 2);
    o->created_at = db_int_field(r, i, 3);
    o->updated_at = db_int_field(r, i, 4);
}

saef_rc_t saef_db_credmap_get(saef_db_t *db, const char *pattern, saef_db_credmap_row_t *out)
{
    PGresult *r;
    saef_rc_t rc = SAEF_OK;

    if (db == NULL || out == NULL || !db_text_ok(pattern, SAEF_CREDMAP_PATTERN_MAX, false))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_get, &pattern, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    if (PQntuples(r) == 0)
        rc = SAEF_E_NOT_FOUND;
    else
        fill(r, 0, out);
    PQclear(r);
    return rc;
}

saef_rc_t saef_db_credmap_list(saef_db_t *db, saef_db_credmap_cb_t cb, void *ctx)
{
    saef_db_credmap_row_t row;
    PGresult *r;
    int i;

    if (db == NULL || cb == NULL)
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_all, NULL, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    for (i = 0; i < PQntuples(r); i++) {
        fill(r, i, &row);
        if (cb(ctx, &row) != 0)
            break;
    }
    PQclear(r);
    return SAEF_OK;
}

saef_rc_t saef_db_credmap_load(saef_db_t *db, saef_credmap_t **out, size_t *skipped)
{
    saef_credmap_t *map = NULL;
    size_t bad = 0;
    PGresult *r;
    saef_rc_t rc;
    int i;

    if (db == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_all, NULL, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    rc = saef_credmap_new(&map);
    for (i = 0; rc == SAEF_OK && i < PQntuples(r); i++) {
        saef_rc_t arc = saef_credmap_add(map, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));

        if (arc == SAEF_E_NOMEM)
            rc = arc;
        else if (arc != SAEF_OK)
            bad++;
    }
    PQclear(r);
    if (rc != SAEF_OK) {
        saef_credmap_free(map);
        return rc;
    }
    saef_credmap_finish(map);
    *out = map;
    if (skipped != NULL)
        *skipped = bad;
    return SAEF_OK;
}
