/* Connection, error detail, prepared execution and transactions of a saef_db_t. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saef_db_internal.h"

static const db_stmt_t set_search_path = {
    DB_S_SET_SEARCH_PATH, "saef_set_search_path",
    /* bytea_output is pinned too: the store decodes the hex form only. */
    "SELECT pg_catalog.set_config('search_path', $1::text, false), "
    "pg_catalog.set_config('bytea_output', 'hex', false)",
    1};

saef_rc_t saef_db_schema_check(const char *schema)
{
    size_t i, len;

    if (schema == NULL)
        return SAEF_E_INVALID_ARG;
    len = strnlen(schema, SAEF_DB_SCHEMA_MAX);
    if (len == 0 || len > SAEF_DB_SCHEMA_MAX - 1)
        return SAEF_E_INVALID_ARG;
    if (!((schema[0] >= 'a' && schema[0] <= 'z') || schema[0] == '_'))
        return SAEF_E_INVALID_ARG;
    for (i = 1; i < len; i++) {
        char c = schema[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return SAEF_E_INVALID_ARG;
    }
    /* PostgreSQL reserves pg_* schema names; refusing here gives a clearer message than the
     * server's "unacceptable schema name". */
    if (strncmp(schema, "pg_", 3) == 0)
        return SAEF_E_INVALID_ARG;
    return SAEF_OK;
}

void db_clear_error(saef_db_t *db)
{
    /* Inside a failed transaction the first error is the one worth reporting. */
    if (db->txn_failed)
        return;
    db->errclass = SAEF_DB_ERR_NONE;
    db->sqlstate[0] = '\0';
    db->errmsg[0] = '\0';
}

/* Copy a libpq message as one line: newlines and tabs become spaces, runs collapse. */
static void one_line(char *dst, size_t cap, const char *prefix, const char *msg)
{
    size_t n = 0;
    bool space = false;

    if (prefix != NULL && *prefix != '\0')
        n = (size_t)snprintf(dst, cap, "%s: ", prefix);
    if (n >= cap)
        n = cap - 1;
    for (; msg != NULL && *msg != '\0' && n + 1 < cap; msg++) {
        char c = *msg;

        if (c == '\n' || c == '\t' || c == '\r') {
            space = true;
            continue;
        }
        if (space && n > 0 && dst[n - 1] != ' ')
            dst[n++] = ' ';
        space = false;
        if (n + 1 < cap)
            dst[n++] = c;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* libpq quotes parts of a malformed conninfo in its message, and a conninfo may hold a
 * password: such messages are replaced, never repeated. */
static bool mentions_conninfo(const char *msg)
{
    return msg != NULL &&
           (strstr(msg, "connection info string") != NULL ||
            strstr(msg, "invalid connection option") != NULL || strstr(msg, "URI") != NULL ||
            strstr(msg, "invalid integer value") != NULL || strstr(msg, "invalid sslmode") != NULL);
}

saef_rc_t db_fail(saef_db_t *db, const PGresult *res, const char *prefix)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message only: DETAIL lines can quote row values. */
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    bool lost = db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD;

    if (msg == NULL || *msg == '\0')
        msg = db->conn != NULL ? PQerrorMessage(db->conn) : "no connection";
    if (state == NULL || *state == '\0') {
        /* Errors raised by libpq itself carry no SQLSTATE; a dead connection is the retryable
         * kind, anything else on our side is not. */
        if (mentions_conninfo(msg))
            msg = "the connection string is malformed (not repeated here: it may hold a "
                  "secret)";
        state = lost ? "08006" : "";
    }
    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state);
    db->errclass = *state != '\0' ? saef_db_sqlstate_class(state) : SAEF_DB_ERR_FATAL;
    one_line(db->errmsg, sizeof(db->errmsg), prefix, msg);
    if (db->txn_depth > 0)
        db->txn_failed = true;
    return SAEF_E_DB;
}

saef_rc_t db_fail_msg(saef_db_t *db, saef_db_errclass_t c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
    va_end(ap);
    db->sqlstate[0] = '\0';
    db->errclass = c;
    return SAEF_E_DB;
}

/* libpq prints server notices (WARNING: terminating connection ...) to stderr by default;
 * this library does not log, so they are dropped. */
static void drop_notice(void *arg, const char *message)
{
}

/* Connect with our defaults; the conninfo (expanded as "dbname") comes last so that anything
 * it sets overrides them. */
static saef_rc_t connect_now(saef_db_t *db)
{
    const char *keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "application_name", "dbname",          NULL};
    const char *vals[] = {"5", "1", "30", "10", "3", "maf-saef", db->conninfo, NULL};
    const char *params[1];
    char *quoted;
    PGresult *res;

    if (db->conn != NULL)
        PQfinish(db->conn);
    db->prepared = 0;
    db->txn_depth = 0;
    db->txn_failed = false;
    if (*db->conninfo == '\0')
        keys[6] = NULL; /* the PG* environment decides */
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (db->conn == NULL)
        return db_fail_msg(db, SAEF_DB_ERR_FATAL, "out of memory connecting");
    PQsetNoticeProcessor(db->conn, drop_notice, NULL);
    if (PQstatus(db->conn) != CONNECTION_OK)
        return db_fail(db, NULL, "connect");
    /* The escaped identifier is a value of search_path, passed as a parameter. */
    quoted = PQescapeIdentifier(db->conn, db->schema, strlen(db->schema));
    if (quoted == NULL)
        return db_fail(db, NULL, "escape schema name");
    params[0] = quoted;
    res = db_exec(db, &set_search_path, params, NULL, NULL);
    PQfreemem(quoted);
    if (res == NULL)
        return SAEF_E_DB;
    PQclear(res);
    return SAEF_OK;
}

saef_rc_t saef_db_open(const char *conninfo, const char *schema, saef_db_t **out)
{
    saef_db_t *db;
    saef_rc_t rc;

    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    *out = NULL;
    if (schema == NULL)
        schema = "saef";
    if (saef_db_schema_check(schema) != SAEF_OK)
        return SAEF_E_INVALID_ARG;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return SAEF_E_NOMEM;
    db->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (db->conninfo == NULL) {
        free(db);
        return SAEF_E_NOMEM;
    }
    snprintf(db->schema, sizeof(db->schema), "%s", schema);
    rc = connect_now(db);
    *out = db;
    return rc;
}

saef_rc_t saef_db_reconnect(saef_db_t *db)
{
    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    return connect_now(db);
}

void db_disconnect(saef_db_t *db)
{
    if (db == NULL || db->conn == NULL)
        return;
    PQfinish(db->conn);
    db->conn = NULL;
    db->prepared = 0;
    db->txn_depth = 0;
    db->txn_failed = false;
}

bool saef_db_connected(const saef_db_t *db)
{
    return db != NULL && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

void saef_db_close(saef_db_t *db)
{
    if (db == NULL)
        return;
    if (db->conn != NULL)
        PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

saef_db_errclass_t saef_db_errclass(const saef_db_t *db)
{
    return db != NULL ? db->errclass : SAEF_DB_ERR_FATAL;
}

const char *saef_db_sqlstate(const saef_db_t *db)
{
    return db != NULL ? db->sqlstate : "";
}

const char *saef_db_errmsg(const saef_db_t *db)
{
    return db != NULL ? db->errmsg : "no database handle";
}

const char *saef_db_schema(const saef_db_t *db)
{
    return db != NULL ? db->schema : "";
}

PGresult *db_exec(saef_db_t *db, const db_stmt_t *st, const char *const *vals, const int *lens,
                  const int *fmts)
{
    PGresult *res;
    ExecStatusType s;

    if (db->txn_failed)
        return NULL; /* the server would only say "transaction is aborted" */
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        db_fail(db, NULL, st->name);
        return NULL;
    }
    if (!(db->prepared & (UINT64_C(1) << st->slot))) {
        res = PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            db_fail(db, res, st->name);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        db->prepared |= UINT64_C(1) << st->slot;
    }
    res = PQexecPrepared(db->conn, st->name, st->nparams, vals, lens, fmts, 0);
    s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        db_fail(db, res, st->name);
        PQclear(res);
        return NULL;
    }
    return res;
}

saef_rc_t db_exec_plain(saef_db_t *db, const char *sql)
{
    PGresult *res;
    ExecStatusType s;
    saef_rc_t rc = SAEF_OK;

    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
        return db_fail(db, NULL, NULL);
    res = PQexec(db->conn, sql);
    s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = db_fail(db, res, NULL);
    PQclear(res);
    return rc;
}

saef_rc_t saef_db_begin(saef_db_t *db)
{
    saef_rc_t rc;

    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    if (db->txn_depth > 0) {
        db->txn_depth++;
        return SAEF_OK;
    }
    db_clear_error(db);
    rc = db_exec_plain(db, "BEGIN");
    if (rc == SAEF_OK) {
        db->txn_depth = 1;
        db->txn_failed = false;
    }
    return rc;
}

saef_rc_t saef_db_commit(saef_db_t *db)
{
    PGresult *res;
    saef_rc_t rc = SAEF_OK;

    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    if (db->txn_depth == 0)
        return SAEF_E_STATE;
    if (--db->txn_depth > 0)
        return db->txn_failed ? SAEF_E_DB : SAEF_OK;
    if (db->txn_failed) {
        /* Keep the detail of the statement that failed; the rollback's own result does not
         * matter (the server discards the transaction either way). */
        db->txn_failed = false;
        if (saef_db_connected(db))
            PQclear(PQexec(db->conn, "ROLLBACK"));
        return SAEF_E_DB;
    }
    if (!saef_db_connected(db))
        return db_fail(db, NULL, "commit");
    res = PQexec(db->conn, "COMMIT");
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = db_fail(db, res, "commit");
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        /* The server answers ROLLBACK to COMMIT of an aborted transaction. */
        rc = db_fail_msg(db, SAEF_DB_ERR_FATAL, "commit: the transaction was rolled back");
    PQclear(res);
    return rc;
}

saef_rc_t saef_db_rollback(saef_db_t *db)
{
    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    if (db->txn_depth == 0)
        return SAEF_E_STATE;
    if (db->txn_depth > 1) {
        /* No savepoints: an inner rollback dooms the outer transaction. */
        db->txn_depth--;
        db->txn_failed = true;
        return SAEF_OK;
    }
    db->txn_depth = 0;
    db->txn_failed = false;
    if (saef_db_connected(db))
        PQclear(PQexec(db->conn, "ROLLBACK"));
    return SAEF_OK;
}

saef_rc_t db_txn_enter(saef_db_t *db, bool *own)
{
    *own = db->txn_depth == 0;
    return *own ? saef_db_begin(db) : SAEF_OK;
}

saef_rc_t db_txn_leave(saef_db_t *db, bool own, saef_rc_t rc)
{
    if (!own)
        return rc;
    if (rc != SAEF_OK) {
        saef_db_rollback(db);
        return rc;
    }
    return saef_db_commit(db);
}
