/*
 * PostgreSQL backend of mafd_store.h ([maf] store = postgresql): the state survives a restart
 * of the daemon, and several test runs can share one cluster in different schemas.
 *
 * - One blocking connection, used from the daemon's single thread.  A lost connection is
 *   reset before the next operation; the operation that met the loss fails (5000).
 * - Every value is a parameter (PQexecParams, binary format); only the schema name is part of
 *   the SQL text, and the configuration accepts only [a-z_][a-z0-9_]{0,62} for it.
 * - Expiry is part of every lookup (expires > now, with the daemon's clock as for the memory
 *   store), so an expired row is "not found" even before the periodic purge deletes it.
 * - Key values are stored as plain bytea.  This is a test MAF: a production MAF must seal them
 *   (as the module's vault does); DELETE does not erase them from the table files or WAL.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "mafd_store.h"

#define OID_BYTEA 17
#define OID_TEXT 25
#define PARAMS_MAX 8
#define DESCR_MAX 512

/* Statements run after start-up; '@' in a template stands for the schema name. */
enum stmt {
    S_RESERVE,
    S_CREG_GET,
    S_CREG_FIND,
    S_CREG_PUT,
    S_CREG_DEL,
    S_KREG_GET,
    S_KREG_PUT,
    S_KREG_DEL,
    S_PURGE,
    S_COUNT,
    S_N
};

#define CREG_COLS                                                                                  \
    "id, client_id, admin_fqdn, extract(epoch FROM expires)::bigint::text, labels::text"
#define KREG_COLS                                                                                  \
    "id, source_id, admin_fqdn, target_id, suid::text, extract(epoch FROM "                        \
    "expires)::bigint::text, "                                                                     \
    "labels::text, key_value"

static const char *const templates[S_N] = {
    [S_RESERVE] = "INSERT INTO @.issued_ids (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
    [S_CREG_GET] = "SELECT " CREG_COLS " FROM @.client_regs "
                   "WHERE id = $1 AND expires > to_timestamp($2::bigint)",
    [S_CREG_FIND] =
        "SELECT " CREG_COLS " FROM @.client_regs "
        "WHERE client_id = $1 AND admin_fqdn = $2 AND expires > to_timestamp($3::bigint) "
        "ORDER BY expires DESC LIMIT 1",
    [S_CREG_PUT] = "INSERT INTO @.client_regs (id, client_id, admin_fqdn, expires, labels) "
                   "VALUES ($1, $2, $3, to_timestamp($4::bigint), $5::jsonb) "
                   "ON CONFLICT (id) DO UPDATE SET client_id = EXCLUDED.client_id, "
                   "admin_fqdn = EXCLUDED.admin_fqdn, expires = EXCLUDED.expires, "
                   "labels = EXCLUDED.labels",
    [S_CREG_DEL] = "DELETE FROM @.client_regs WHERE id = $1",
    [S_KREG_GET] = "SELECT " KREG_COLS " FROM @.key_regs "
                   "WHERE id = $1 AND expires > to_timestamp($2::bigint)",
    [S_KREG_PUT] = "INSERT INTO @.key_regs (id, source_id, admin_fqdn, target_id, suid, expires, "
                   "labels, key_value) VALUES ($1, $2, $3, $4, $5::integer, "
                   "to_timestamp($6::bigint), $7::jsonb, $8) "
                   "ON CONFLICT (id) DO UPDATE SET source_id = EXCLUDED.source_id, "
                   "admin_fqdn = EXCLUDED.admin_fqdn, target_id = EXCLUDED.target_id, "
                   "suid = EXCLUDED.suid, expires = EXCLUDED.expires, labels = EXCLUDED.labels, "
                   "key_value = EXCLUDED.key_value",
    [S_KREG_DEL] = "DELETE FROM @.key_regs WHERE id = $1",
    /* One statement, so that both deletions commit together. */
    [S_PURGE] = "WITH c AS (DELETE FROM @.client_regs WHERE expires <= to_timestamp($1::bigint) "
                "RETURNING 1), k AS (DELETE FROM @.key_regs "
                "WHERE expires <= to_timestamp($1::bigint) RETURNING 1) "
                "SELECT ((SELECT count(*) FROM c) + (SELECT count(*) FROM k))::text",
    [S_COUNT] = "SELECT (SELECT count(*) FROM @.client_regs "
                "WHERE expires > to_timestamp($1::bigint))::text, "
                "(SELECT count(*) FROM @.key_regs WHERE expires > to_timestamp($1::bigint))::text",
};

/*
 * The schema, created under an advisory lock in one transaction so that two daemons starting
 * on one database do not race on CREATE ... IF NOT EXISTS (which is not safe concurrently).
 */
static const char *const ddl[] = {
    "CREATE SCHEMA IF NOT EXISTS @",
    /* Every ID ever issued (a MAF never issues an ID twice, 5.5): never purged. */
    "CREATE TABLE IF NOT EXISTS @.issued_ids (id bytea PRIMARY KEY CHECK (length(id) = 16), "
    "issued timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS @.client_regs (id bytea PRIMARY KEY CHECK (length(id) = 16), "
    "client_id text NOT NULL, admin_fqdn text NOT NULL, expires timestamptz NOT NULL, "
    "labels jsonb NOT NULL CHECK (jsonb_typeof(labels) = 'array'))",
    "CREATE INDEX IF NOT EXISTS client_regs_client ON @.client_regs (client_id, admin_fqdn)",
    "CREATE INDEX IF NOT EXISTS client_regs_expires ON @.client_regs (expires)",
    "CREATE TABLE IF NOT EXISTS @.key_regs (id bytea PRIMARY KEY CHECK (length(id) = 16), "
    "source_id text NOT NULL, admin_fqdn text NOT NULL, target_id text NOT NULL, "
    "suid integer NOT NULL, expires timestamptz NOT NULL, "
    "labels jsonb NOT NULL CHECK (jsonb_typeof(labels) = 'array'), "
    "key_value bytea NOT NULL CHECK (length(key_value) = 32))",
    "CREATE INDEX IF NOT EXISTS key_regs_expires ON @.key_regs (expires)", NULL};

typedef struct pg_store {
    mafd_store_t base;
    PGconn *conn;   /* owned */
    char *sql[S_N]; /* owned: the templates with the schema name filled in */
} pg_store_t;

/* One parameter: bytea or text, always sent in binary format (raw bytes). */
typedef struct param {
    const void *v;
    int len;
    bool bytea;
} param_t;

static param_t p_bytes(const uint8_t *v, size_t len)
{
    return (param_t){.v = v, .len = (int)len, .bytea = true};
}

static param_t p_text(const char *s)
{
    return (param_t){.v = s, .len = (int)strlen(s), .bytea = false};
}

/* CREATE ... IF NOT EXISTS sends a NOTICE for every existing object: not worth a log line. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* tmpl with every '@' replaced by schema; NULL when out of memory. */
static char *fill_schema(const char *tmpl, const char *schema)
{
    size_t n = 0, slen = strlen(schema);
    for (const char *t = tmpl; *t != '\0'; t++)
        n += *t == '@' ? slen : 1;
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const char *t = tmpl; *t != '\0'; t++) {
        if (*t == '@') {
            memcpy(o, schema, slen);
            o += slen;
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return out;
}

/* A libpq message on one line (they end in a newline and may continue on indented lines). */
static void one_line(const char *msg, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; msg != NULL && msg[i] != '\0' && j + 1 < outlen; i++) {
        char c = msg[i] == '\n' || msg[i] == '\t' ? ' ' : msg[i];
        if (c == ' ' && (j == 0 || out[j - 1] == ' '))
            continue;
        out[j++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

/* What the connection is (or was trying to be), for messages: never the password. */
static void describe(PGconn *conn, const char *conninfo, char *out, size_t outlen)
{
    const char *host = conn ? PQhost(conn) : NULL, *port = conn ? PQport(conn) : NULL;
    const char *db = conn ? PQdb(conn) : NULL, *user = conn ? PQuser(conn) : NULL;
    snprintf(out, outlen, "db_conninfo \"%s\"%s (host=%s port=%s dbname=%s user=%s)", conninfo,
             *conninfo == '\0' ? ", i.e. the PG* environment," : "", host ? host : "?",
             port ? port : "?", db ? db : "?", user ? user : "?");
}

/* Log a failed statement with its SQLSTATE; libpq's own failures (connection) have none. */
static void log_error(pg_store_t *s, const char *what, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[256];
    one_line(primary != NULL ? primary : PQerrorMessage(s->conn), msg, sizeof(msg));
    fprintf(stderr, "saef-mafd: database: %s failed: SQLSTATE %s: %s\n", what,
            state != NULL ? state : "none (connection)", msg);
}

/*
 * Run one statement; the result when its status is want, else NULL after logging.  A broken
 * connection is reset first: the daemon then recovers by itself once the server is back.
 */
static PGresult *run(pg_store_t *s, const char *sql, const char *what, int n, const param_t *params,
                     ExecStatusType want)
{
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        PQreset(s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK) {
            log_error(s, what, NULL);
            return NULL;
        }
        fprintf(stderr, "saef-mafd: database: connection re-established\n");
    }
    Oid types[PARAMS_MAX];
    const char *values[PARAMS_MAX];
    int lens[PARAMS_MAX], formats[PARAMS_MAX];
    for (int i = 0; i < n && i < PARAMS_MAX; i++) {
        types[i] = params[i].bytea ? OID_BYTEA : OID_TEXT;
        values[i] = params[i].v;
        lens[i] = params[i].len;
        formats[i] = 1;
    }
    PGresult *res = PQexecParams(s->conn, sql, n, types, values, lens, formats, 1);
    if ((res == NULL || PQresultStatus(res) != want) && PQstatus(s->conn) == CONNECTION_BAD) {
        /* The connection died before this statement (a server restart is only noticed on the
         * next use): reconnect and send it once more. */
        PQclear(res);
        PQreset(s->conn);
        res = PQstatus(s->conn) == CONNECTION_OK
                  ? PQexecParams(s->conn, sql, n, types, values, lens, formats, 1)
                  : NULL;
        if (res != NULL && PQresultStatus(res) == want)
            fprintf(stderr, "saef-mafd: database: connection re-established\n");
    }
    if (res != NULL && PQresultStatus(res) == want)
        return res;
    log_error(s, what, res);
    PQclear(res);
    return NULL;
}

/* "DELETE 1" and friends: how many rows the statement touched. */
static unsigned long touched(PGresult *res)
{
    return strtoul(PQcmdTuples(res), NULL, 10);
}

static bool get_text(const PGresult *res, int col, char *out, size_t outlen)
{
    int len = PQgetlength(res, 0, col);
    if (PQgetisnull(res, 0, col) || len < 0 || (size_t)len >= outlen)
        return false;
    memcpy(out, PQgetvalue(res, 0, col), (size_t)len);
    out[len] = '\0';
    return strlen(out) == (size_t)len;
}

static bool get_bytes(const PGresult *res, int col, uint8_t *out, size_t len)
{
    if (PQgetisnull(res, 0, col) || PQgetlength(res, 0, col) != (int)len)
        return false;
    memcpy(out, PQgetvalue(res, 0, col), len);
    return true;
}

static bool get_ll(const PGresult *res, int col, long long *out)
{
    char buf[32], *end;
    if (!get_text(res, col, buf, sizeof(buf)))
        return false;
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno == 0 && end != buf && *end == '\0';
}

/* Labels are a JSON array in the table: jansson does the quoting both ways. */
static char *labels_json(const mafd_labels_t *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n; i++)
        if (json_array_append_new(arr, json_string(l->v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    char *s = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

static bool get_labels(const PGresult *res, int col, mafd_labels_t *l)
{
    json_t *arr = json_loads(PQgetvalue(res, 0, col), 0, NULL);
    bool ok = json_is_array(arr) && json_array_size(arr) <= MAFD_LABELS_MAX;
    l->n = 0;
    for (size_t i = 0; ok && i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        ok = json_is_string(e) && json_string_length(e) <= MAFD_LABEL_MAX;
        if (ok)
            memcpy(l->v[l->n++], json_string_value(e), json_string_length(e) + 1);
    }
    json_decref(arr);
    return ok;
}

static void fmt_time(time_t t, char buf[32])
{
    snprintf(buf, 32, "%lld", (long long)t);
}

/* A row that does not fit the record types: a table changed behind the daemon's back. */
static saef_rc_t bad_row(const char *what)
{
    fprintf(stderr, "saef-mafd: database: %s: a row does not fit the record (edited by hand?)\n",
            what);
    return SAEF_E_DB;
}

static saef_rc_t pg_reserve_id(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], bool *fresh)
{
    pg_store_t *s = (pg_store_t *)st;
    param_t p[] = {p_bytes(id, MAFD_ID_LEN)};
    PGresult *res = run(s, s->sql[S_RESERVE], "reserving an ID", 1, p, PGRES_COMMAND_OK);
    if (res == NULL)
        return SAEF_E_DB;
    *fresh = touched(res) == 1;
    PQclear(res);
    return SAEF_OK;
}

static saef_rc_t creg_row(PGresult *res, mafd_creg_t *out)
{
    long long exp;
    mafd_creg_t c = {0};
    if (PQntuples(res) == 0)
        return SAEF_E_NOT_FOUND;
    if (!get_bytes(res, 0, c.id, MAFD_ID_LEN) ||
        !get_text(res, 1, c.client_id, sizeof(c.client_id)) ||
        !get_text(res, 2, c.admin_fqdn, sizeof(c.admin_fqdn)) || !get_ll(res, 3, &exp) ||
        !get_labels(res, 4, &c.labels))
        return bad_row("client registration");
    c.expires = (time_t)exp;
    *out = c;
    return SAEF_OK;
}

static saef_rc_t pg_creg_get(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                             mafd_creg_t *out)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(now, t);
    param_t p[] = {p_bytes(id, MAFD_ID_LEN), p_text(t)};
    PGresult *res = run(s, s->sql[S_CREG_GET], "client registration lookup", 2, p, PGRES_TUPLES_OK);
    if (res == NULL)
        return SAEF_E_DB;
    saef_rc_t rc = creg_row(res, out);
    PQclear(res);
    return rc;
}

static saef_rc_t pg_creg_find(mafd_store_t *st, const char *client_id, const char *admin_fqdn,
                              time_t now, mafd_creg_t *out)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(now, t);
    param_t p[] = {p_text(client_id), p_text(admin_fqdn), p_text(t)};
    PGresult *res =
        run(s, s->sql[S_CREG_FIND], "client registration search", 3, p, PGRES_TUPLES_OK);
    if (res == NULL)
        return SAEF_E_DB;
    saef_rc_t rc = creg_row(res, out);
    PQclear(res);
    return rc;
}

static saef_rc_t pg_creg_put(mafd_store_t *st, const mafd_creg_t *rec)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(rec->expires, t);
    char *labels = labels_json(&rec->labels);
    if (labels == NULL)
        return SAEF_E_NOMEM;
    param_t p[] = {p_bytes(rec->id, MAFD_ID_LEN), p_text(rec->client_id), p_text(rec->admin_fqdn),
                   p_text(t), p_text(labels)};
    PGresult *res =
        run(s, s->sql[S_CREG_PUT], "storing a client registration", 5, p, PGRES_COMMAND_OK);
    free(labels);
    if (res == NULL)
        return SAEF_E_DB;
    PQclear(res);
    return SAEF_OK;
}

static saef_rc_t del_by_id(pg_store_t *s, enum stmt which, const char *what,
                           const uint8_t id[MAFD_ID_LEN])
{
    param_t p[] = {p_bytes(id, MAFD_ID_LEN)};
    PGresult *res = run(s, s->sql[which], what, 1, p, PGRES_COMMAND_OK);
    if (res == NULL)
        return SAEF_E_DB;
    saef_rc_t rc = touched(res) > 0 ? SAEF_OK : SAEF_E_NOT_FOUND;
    PQclear(res);
    return rc;
}

static saef_rc_t pg_creg_del(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN])
{
    return del_by_id((pg_store_t *)st, S_CREG_DEL, "deleting a client registration", id);
}

static saef_rc_t pg_kreg_get(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                             mafd_kreg_t *out)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(now, t);
    param_t p[] = {p_bytes(id, MAFD_ID_LEN), p_text(t)};
    PGresult *res = run(s, s->sql[S_KREG_GET], "key registration lookup", 2, p, PGRES_TUPLES_OK);
    if (res == NULL)
        return SAEF_E_DB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SAEF_E_NOT_FOUND;
    }
    mafd_kreg_t k = {0};
    long long exp, suid;
    saef_rc_t rc = SAEF_OK;
    if (!get_bytes(res, 0, k.id, MAFD_ID_LEN) ||
        !get_text(res, 1, k.source_id, sizeof(k.source_id)) ||
        !get_text(res, 2, k.admin_fqdn, sizeof(k.admin_fqdn)) ||
        !get_text(res, 3, k.target_id, sizeof(k.target_id)) || !get_ll(res, 4, &suid) || suid < 0 ||
        suid > 0xffff || !get_ll(res, 5, &exp) || !get_labels(res, 6, &k.labels) ||
        !get_bytes(res, 7, k.key, MAFD_KEY_LEN)) {
        rc = bad_row("key registration");
    } else {
        k.suid = (unsigned)suid;
        k.expires = (time_t)exp;
        *out = k;
    }
    /* The key's only copies in this process: the result buffer and k. */
    if (!PQgetisnull(res, 0, 7))
        OPENSSL_cleanse(PQgetvalue(res, 0, 7), (size_t)PQgetlength(res, 0, 7));
    PQclear(res);
    mafd_kreg_wipe(&k);
    return rc;
}

static saef_rc_t pg_kreg_put(mafd_store_t *st, const mafd_kreg_t *rec)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32], suid[16];
    fmt_time(rec->expires, t);
    snprintf(suid, sizeof(suid), "%u", rec->suid);
    char *labels = labels_json(&rec->labels);
    if (labels == NULL)
        return SAEF_E_NOMEM;
    param_t p[] = {p_bytes(rec->id, MAFD_ID_LEN),
                   p_text(rec->source_id),
                   p_text(rec->admin_fqdn),
                   p_text(rec->target_id),
                   p_text(suid),
                   p_text(t),
                   p_text(labels),
                   p_bytes(rec->key, MAFD_KEY_LEN)};
    PGresult *res =
        run(s, s->sql[S_KREG_PUT], "storing a key registration", 8, p, PGRES_COMMAND_OK);
    free(labels);
    if (res == NULL)
        return SAEF_E_DB;
    PQclear(res);
    return SAEF_OK;
}

static saef_rc_t pg_kreg_del(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN])
{
    return del_by_id((pg_store_t *)st, S_KREG_DEL, "deleting a key registration", id);
}

static saef_rc_t pg_purge(mafd_store_t *st, time_t now, size_t *purged)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(now, t);
    param_t p[] = {p_text(t)};
    PGresult *res = run(s, s->sql[S_PURGE], "purging expired registrations", 1, p, PGRES_TUPLES_OK);
    if (res == NULL)
        return SAEF_E_DB;
    long long n;
    bool ok = PQntuples(res) == 1 && get_ll(res, 0, &n) && n >= 0;
    PQclear(res);
    if (!ok)
        return bad_row("purge");
    if (purged != NULL)
        *purged = (size_t)n;
    return SAEF_OK;
}

static saef_rc_t pg_count(mafd_store_t *st, time_t now, size_t *cregs, size_t *kregs)
{
    pg_store_t *s = (pg_store_t *)st;
    char t[32];
    fmt_time(now, t);
    param_t p[] = {p_text(t)};
    PGresult *res = run(s, s->sql[S_COUNT], "counting registrations", 1, p, PGRES_TUPLES_OK);
    if (res == NULL)
        return SAEF_E_DB;
    long long c, k;
    bool ok = PQntuples(res) == 1 && get_ll(res, 0, &c) && get_ll(res, 1, &k) && c >= 0 && k >= 0;
    PQclear(res);
    if (!ok)
        return bad_row("count");
    *cregs = (size_t)c;
    *kregs = (size_t)k;
    return SAEF_OK;
}

static void pg_free(mafd_store_t *st)
{
    pg_store_t *s = (pg_store_t *)st;
    PQfinish(s->conn);
    for (size_t i = 0; i < S_N; i++)
        free(s->sql[i]);
    free(s);
}

static const mafd_store_ops_t pg_ops = {
    .free = pg_free,
    .reserve_id = pg_reserve_id,
    .creg_get = pg_creg_get,
    .creg_find = pg_creg_find,
    .creg_put = pg_creg_put,
    .creg_del = pg_creg_del,
    .kreg_get = pg_kreg_get,
    .kreg_put = pg_kreg_put,
    .kreg_del = pg_kreg_del,
    .purge = pg_purge,
    .count = pg_count,
};

/* Run one statement of the schema transaction; false with err set. */
static bool ddl_step(pg_store_t *s, const char *sql, int n, const param_t *p, ExecStatusType want,
                     char *err, size_t errlen)
{
    Oid types[1] = {OID_TEXT};
    const char *values[1] = {n > 0 ? p[0].v : NULL};
    int lens[1] = {n > 0 ? p[0].len : 0}, formats[1] = {1};
    PGresult *res = PQexecParams(s->conn, sql, n, types, values, lens, formats, 1);
    if (res != NULL && PQresultStatus(res) == want) {
        PQclear(res);
        return true;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[192];
    one_line(primary != NULL ? primary : PQerrorMessage(s->conn), msg, sizeof(msg));
    snprintf(err, errlen, "SQLSTATE %s: %s", state ? state : "none (connection)", msg);
    PQclear(res);
    return false;
}

static bool create_schema(pg_store_t *s, const char *schema, char *err, size_t errlen)
{
    char lock_key[96]; /* the schema name has at most 63 characters */
    snprintf(lock_key, sizeof(lock_key), "saef-mafd schema %s", schema);
    param_t key = p_text(lock_key);
    if (!ddl_step(s, "BEGIN", 0, NULL, PGRES_COMMAND_OK, err, errlen) ||
        !ddl_step(s, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, &key, PGRES_TUPLES_OK, err,
                  errlen))
        return false;
    for (size_t i = 0; ddl[i] != NULL; i++) {
        char *sql = fill_schema(ddl[i], schema);
        if (sql == NULL) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        bool ok = ddl_step(s, sql, 0, NULL, PGRES_COMMAND_OK, err, errlen);
        free(sql);
        if (!ok)
            return false; /* the transaction is rolled back when the connection closes */
    }
    return ddl_step(s, "COMMIT", 0, NULL, PGRES_COMMAND_OK, err, errlen);
}

mafd_store_t *mafd_store_pg_new(const char *conninfo, const char *schema, char *err, size_t errlen)
{
    pg_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &pg_ops;
    for (size_t i = 0; i < S_N; i++)
        if ((s->sql[i] = fill_schema(templates[i], schema)) == NULL) {
            snprintf(err, errlen, "out of memory");
            pg_free(&s->base);
            return NULL;
        }
    /* conninfo comes last so that its own connect_timeout or application_name wins. */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const vals[] = {"10", "saef-mafd", conninfo, NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    char who[DESCR_MAX], msg[320];
    describe(s->conn, conninfo, who, sizeof(who));
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        one_line(s->conn ? PQerrorMessage(s->conn) : "out of memory", msg, sizeof(msg));
        snprintf(err, errlen, "[maf] store = postgresql: cannot connect to %s: %s", who, msg);
        pg_free(&s->base);
        return NULL;
    }
    PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
    if (!create_schema(s, schema, msg, sizeof(msg))) {
        snprintf(err, errlen, "[maf] store = postgresql: cannot create schema %s in %s: %s", schema,
                 who, msg);
        pg_free(&s->base);
        return NULL;
    }
    fprintf(stderr, "saef-mafd: state in PostgreSQL schema %s, %s\n", schema, who);
    return &s->base;
}
