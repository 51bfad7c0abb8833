/* Internals shared by the db/ sources: the handle, prepared statements, small helpers. */
#ifndef SAEF_DB_INTERNAL_H
#define SAEF_DB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "saef_db.h"

/* Every prepared statement has a slot: its bit in saef_db.prepared says whether this
 * connection has prepared it already. */
typedef enum db_slot {
    DB_S_SET_SEARCH_PATH,
    DB_S_SCHEMA_EXISTS,
    DB_S_VERSION_TABLE_EXISTS,
    DB_S_ADVISORY_LOCK,
    DB_S_VERSIONS,
    DB_S_RECORD_VERSION,
    DB_S_ASSOC_UPSERT,
    DB_S_AUDIT_INSERT,
    DB_S_ASSOC_LIST,
    DB_S_EXPIRE_SWEEP,
    DB_S_REVOKE_VAULT,
    DB_S_REVOKE_ASSOC,
    DB_S_NOTIFY,
    DB_S_VAULT_PUT,
    DB_S_VAULT_GET,
    DB_S_VAULT_DELETE,
    DB_S_VAULT_LIST_VALID,
    DB_S_VAULT_REVOKED_AMONG,
    DB_S_VAULT_COUNT,
    DB_S_VAULT_PAGE,
    DB_S_VAULT_PAGE_LOCK,
    DB_S_VAULT_RESEAL,
    DB_S_CREDMAP_ADD,
    DB_S_CREDMAP_UPDATE,
    DB_S_CREDMAP_DELETE,
    DB_S_CREDMAP_GET,
    DB_S_CREDMAP_ALL,
    DB_S_STATUS,
    DB_S_PRUNE_AUDIT,
    DB_S_PRUNE_ASSOC,
    DB_S_PRUNE_VAULT,
    DB_S_COUNT_
} db_slot_t;

/* A statement: parameter types are written as casts in the SQL, so none are passed. */
typedef struct db_stmt {
    db_slot_t slot;
    const char *name; /* prepared statement name, unique per connection */
    const char *sql;
    int nparams;
} db_stmt_t;

struct saef_db {
    PGconn *conn;   /* owned */
    char *conninfo; /* owned; "" for the environment */
    char schema[SAEF_DB_SCHEMA_MAX];
    uint64_t prepared; /* bit per db_slot_t */
    int txn_depth;     /* saef_db_begin() nesting */
    bool txn_failed;   /* a statement failed inside the open transaction */
    saef_db_errclass_t errclass;
    char sqlstate[6];
    char errmsg[SAEF_DB_ERRMSG_MAX];
};

/* An embedded migration (the generated saef_migrations.c defines the table). */
typedef struct saef_db_migration {
    int version;
    const char *name; /* "initial" for 0001_initial.sql */
    const char *sql;
} saef_db_migration_t;

extern const saef_db_migration_t saef_db_migrations[];
extern const size_t saef_db_n_migrations;

/* Record a failure on the handle: SQLSTATE and message from res (may be NULL: then from the
 * connection), classified; a lost connection is RETRY with SQLSTATE 08006.  prefix (optional)
 * goes before the server's message.  Returns SAEF_E_DB. */
saef_rc_t db_fail(saef_db_t *db, const PGresult *res, const char *prefix);

/* Drop the connection (keeping the handle for saef_db_reconnect()); NULL-safe. */
void db_disconnect(saef_db_t *db);

/* Record a failure of our own making (no server error). */
saef_rc_t db_fail_msg(saef_db_t *db, saef_db_errclass_t c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear the error detail (at the start of every public call). */
void db_clear_error(saef_db_t *db);

/*
 * Prepare st on this connection when needed, execute it with text parameters (NULL value =
 * SQL NULL) or, where fmts says 1, binary ones.  On success returns the result (the caller
 * PQclear()s it); on failure records the error and returns NULL.
 */
PGresult *db_exec(saef_db_t *db, const db_stmt_t *st, const char *const *vals, const int *lens,
                  const int *fmts);

/* Run a fixed statement without parameters (transaction control, embedded migration text,
 * DDL with an escaped identifier).  Returns SAEF_OK or SAEF_E_DB. */
saef_rc_t db_exec_plain(saef_db_t *db, const char *sql);

/* Growable text buffer for array literals.  On allocation failure it goes into a failed state
 * that buf_str() reports with NULL. */
typedef struct db_buf {
    char *p;
    size_t len, cap;
    bool failed;
} db_buf_t;

void buf_init(db_buf_t *b);
void buf_free(db_buf_t *b);
void buf_putc(db_buf_t *b, char c);
void buf_puts(db_buf_t *b, const char *s);
const char *buf_str(db_buf_t *b); /* NUL-terminated content, or NULL after a failure */

/* Array literals for unnest(): "{" + elements + "}".  A text element is always double-quoted
 * with '"' and '\' escaped, so "NULL", braces, commas and quotes stay data; NULL s is an SQL
 * NULL element. */
void arr_open(db_buf_t *b);
void arr_text(db_buf_t *b, const char *s);
void arr_int(db_buf_t *b, int64_t v);
void arr_close(db_buf_t *b);

/* True when s is at most max bytes of printable ASCII (NULL allowed when optional). */
bool db_text_ok(const char *s, size_t max, bool optional);

/* Copy a result field into a buffer (truncating; "" for SQL NULL). */
void db_copy_field(const PGresult *r, int row, int col, char *dst, size_t cap);
/* Integer field (0 for SQL NULL or garbage). */
int64_t db_int_field(const PGresult *r, int row, int col);
/* bytea field in hex text output ("\x..."), decoded into dst; false when malformed or too
 * long. */
bool db_bytea_field(const PGresult *r, int row, int col, uint8_t *dst, size_t cap, size_t *len);

/* Number of rows an UPDATE/DELETE/INSERT touched. */
int64_t db_affected(const PGresult *r);

/* The columns db_vault_fill_row() parses, in its order. */
#define DB_VAULT_COLS                                                                              \
    "key_id, sealed, nonce, kek_id, maf_fqdn, extract(epoch FROM expires_at)::bigint, suid,"       \
    " source_id, admin_fqdn, created_by, extract(epoch FROM created_at)::bigint, revoked,"         \
    " coalesce(extract(epoch FROM revoked_at)::bigint, 0)"

/* Parse one row of DB_VAULT_COLS; false when the stored bytes are not what put writes. */
bool db_vault_fill_row(const PGresult *r, int i, saef_db_vault_row_t *o);

/* Begin/commit a transaction only when none is open (for functions that need one); *own tells
 * db_txn_leave() whether this call opened it. */
saef_rc_t db_txn_enter(saef_db_t *db, bool *own);
saef_rc_t db_txn_leave(saef_db_t *db, bool own, saef_rc_t rc);

/*
 * Reconnect back-off: the nominal wait starts at min_ms and doubles up to max_ms; each actual
 * wait is a random point in the upper half of the nominal one (equal jitter), so nodes that
 * lost the database together do not come back in lockstep.  Per-object state, no globals.
 */
typedef struct db_backoff {
    uint32_t min_ms, max_ms, cur_ms;
    uint64_t rng; /* xorshift64 state, never 0 */
} db_backoff_t;

void db_backoff_init(db_backoff_t *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed);
/* The next wait in milliseconds, within [nominal / 2, nominal]; then the nominal doubles. */
uint32_t db_backoff_next(db_backoff_t *b);
/* After a success: the next wait starts from min_ms again. */
void db_backoff_reset(db_backoff_t *b);
/* A seed that differs between objects and processes (address, time, pid). */
uint64_t db_backoff_seed(const void *obj);

#endif /* SAEF_DB_INTERNAL_H */
