/* Migrations: embedded NNNN_name.sql texts applied in one transaction under an advisory lock,
 * recorded with their SHA-256 in schema_version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "saef_db_internal.h"
#include "saef_ascii.h"

#define CHECKSUM_HEX 65

static const db_stmt_t st_schema_exists = {
    DB_S_SCHEMA_EXISTS, "saef_schema_exists",
    "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text", 1};

static const db_stmt_t st_version_table = {
    DB_S_VERSION_TABLE_EXISTS, "saef_version_table_exists",
    "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1::text "
    "AND tablename = 'schema_version'",
    1};

/* One lock per schema name, so deployments in other schemas of the database do not wait. */
static const db_stmt_t st_lock = {
    DB_S_ADVISORY_LOCK, "saef_migrate_lock",
    "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended($1::text, 0))", 1};

static const db_stmt_t st_versions = {
    DB_S_VERSIONS, "saef_versions",
    "SELECT version, name, checksum FROM schema_version ORDER BY version", 0};

static const db_stmt_t st_record = {DB_S_RECORD_VERSION, "saef_record_version",
                                    "INSERT INTO schema_version (version, name, checksum) "
                                    "VALUES ($1::integer, $2::text, $3::text)",
                                    3};

int saef_db_module_version(void)
{
    return (int)saef_db_n_migrations;
}

static saef_rc_t checksum(const char *sql, char hex[CHECKSUM_HEX])
{
    unsigned char md[32];
    unsigned int len = 0;

    if (EVP_Digest(sql, strlen(sql), md, &len, EVP_sha256(), NULL) != 1 || len != sizeof(md))
        return SAEF_E_INTERNAL;
    saef_hex_encode(md, sizeof(md), hex);
    return SAEF_OK;
}

/* Does a row exist for this one-parameter query? -1 on error. */
static int exists(saef_db_t *db, const db_stmt_t *st, const char *param)
{
    PGresult *r = db_exec(db, st, &param, NULL, NULL);
    int n;

    if (r == NULL)
        return -1;
    n = PQntuples(r) > 0;
    PQclear(r);
    return n;
}

saef_rc_t saef_db_schema_version(saef_db_t *db, int *version)
{
    PGresult *r;
    int e, i, max = 0;

    if (db == NULL || version == NULL)
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    e = exists(db, &st_version_table, db->schema);
    if (e < 0)
        return SAEF_E_DB;
    if (e > 0) {
        r = db_exec(db, &st_versions, NULL, NULL, NULL);
        if (r == NULL)
            return SAEF_E_DB;
        for (i = 0; i < PQntuples(r); i++)
            if ((int)db_int_field(r, i, 0) > max)
                max = (int)db_int_field(r, i, 0);
        PQclear(r);
    }
    *version = max;
    return SAEF_OK;
}

/* Compare what the database recorded with the embedded migrations; *applied receives the
 * highest recorded version. */
static saef_rc_t check_recorded(saef_db_t *db, int *applied)
{
    int module = saef_db_module_version(), i, n, max = 0;
    char sum[CHECKSUM_HEX];
    saef_rc_t rc = SAEF_OK;
    PGresult *r;

    r = db_exec(db, &st_versions, NULL, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    n = PQntuples(r);
    for (i = 0; i < n; i++)
        if ((int)db_int_field(r, i, 0) > max)
            max = (int)db_int_field(r, i, 0);
    if (max > module) {
        db_fail_msg(db, SAEF_DB_ERR_FATAL,
                    "database schema \"%s\" is at version %d, newer than this module's version "
                    "%d: run a module that knows version %d (or restore a matching backup)",
                    db->schema, max, module, max);
        PQclear(r);
        return SAEF_E_DB_SCHEMA_NEWER;
    }
    /* Rows come ordered by version; the embedded table is 1..module without gaps. */
    for (i = 0; i < n && rc == SAEF_OK; i++) {
        int v = (int)db_int_field(r, i, 0);
        const saef_db_migration_t *m = &saef_db_migrations[i];

        if (v != i + 1) {
            rc = db_fail_msg(db, SAEF_DB_ERR_FATAL,
                             "schema_version lacks migration %04d while %04d is applied", i + 1, v);
        } else if (checksum(m->sql, sum) != SAEF_OK) {
            rc = db_fail_msg(db, SAEF_DB_ERR_FATAL, "cannot compute SHA-256");
        } else if (strcmp(PQgetvalue(r, i, 1), m->name) != 0 ||
                   strcmp(PQgetvalue(r, i, 2), sum) != 0) {
            rc = db_fail_msg(db, SAEF_DB_ERR_FATAL,
                             "migration %04d_%s: the database recorded %.64s (%s), this module "
                             "has %s: an applied migration was changed",
                             v, m->name, PQgetvalue(r, i, 2), PQgetvalue(r, i, 1), sum);
        }
    }
    PQclear(r);
    *applied = max;
    return rc;
}

static saef_rc_t create_schema(saef_db_t *db)
{
    char *quoted, *sql;
    saef_rc_t rc;

    /* DDL takes no parameters: the name was validated ([a-z_][a-z0-9_]*) and is quoted by
     * libpq on top, so it cannot be anything but one identifier. */
    quoted = PQescapeIdentifier(db->conn, db->schema, strlen(db->schema));
    if (quoted == NULL)
        return db_fail(db, NULL, "escape schema name");
    sql = malloc(strlen(quoted) + sizeof("CREATE SCHEMA "));
    if (sql == NULL) {
        PQfreemem(quoted);
        return SAEF_E_NOMEM;
    }
    strcpy(sql, "CREATE SCHEMA ");
    strcat(sql, quoted);
    PQfreemem(quoted);
    rc = db_exec_plain(db, sql);
    free(sql);
    return rc;
}

static saef_rc_t apply(saef_db_t *db, const saef_db_migration_t *m)
{
    char sum[CHECKSUM_HEX], ver[12], prefix[96];
    const char *params[3] = {ver, m->name, sum};
    PGresult *r;

    if (checksum(m->sql, sum) != SAEF_OK)
        return db_fail_msg(db, SAEF_DB_ERR_FATAL, "cannot compute SHA-256");
    if (db_exec_plain(db, m->sql) != SAEF_OK) {
        /* Name the migration in front of the server's message. */
        snprintf(prefix, sizeof(prefix), "migration %04d_%s: ", m->version, m->name);
        if (strlen(prefix) + strlen(db->errmsg) < sizeof(db->errmsg)) {
            memmove(db->errmsg + strlen(prefix), db->errmsg, strlen(db->errmsg) + 1);
            memcpy(db->errmsg, prefix, strlen(prefix));
        }
        return SAEF_E_DB;
    }
    snprintf(ver, sizeof(ver), "%d", m->version);
    r = db_exec(db, &st_record, params, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    PQclear(r);
    return SAEF_OK;
}

static saef_rc_t migrate_locked(saef_db_t *db, saef_db_migrate_result_t *res)
{
    char lockname[SAEF_DB_SCHEMA_MAX + 32];
    const char *param = lockname;
    int e, applied = 0, module = saef_db_module_version(), v;
    PGresult *r;
    saef_rc_t rc;

    snprintf(lockname, sizeof(lockname), "maf-saef migrate %s", db->schema);
    r = db_exec(db, &st_lock, &param, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    PQclear(r);
    e = exists(db, &st_schema_exists, db->schema);
    if (e < 0)
        return SAEF_E_DB;
    /* Checked first rather than CREATE SCHEMA IF NOT EXISTS, which needs the CREATE
     * privilege on the database even when the schema is there. */
    if (e == 0 && (rc = create_schema(db)) != SAEF_OK)
        return rc;
    e = exists(db, &st_version_table, db->schema);
    if (e < 0)
        return SAEF_E_DB;
    if (e > 0 && (rc = check_recorded(db, &applied)) != SAEF_OK)
        return rc;
    res->from_version = applied;
    for (v = applied + 1; v <= module; v++) {
        rc = apply(db, &saef_db_migrations[v - 1]);
        if (rc != SAEF_OK)
            return rc;
        res->applied++;
    }
    res->to_version = module;
    return SAEF_OK;
}

saef_rc_t saef_db_migrate(saef_db_t *db, saef_db_migrate_result_t *res)
{
    saef_db_migrate_result_t local;
    saef_rc_t rc;

    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    if (db->txn_depth > 0)
        return SAEF_E_STATE;
    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    rc = saef_db_begin(db);
    if (rc != SAEF_OK)
        return rc;
    rc = migrate_locked(db, res);
    if (rc != SAEF_OK) {
        saef_db_rollback(db);
        res->applied = 0;
        res->to_version = res->from_version;
        return rc;
    }
    return saef_db_commit(db);
}
