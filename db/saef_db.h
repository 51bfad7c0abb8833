/*
 * PostgreSQL store of the module: connection, migrations, and the statements on the module's
 * tables (associations, audit events, key vault, credential map).  libpq underneath; every
 * statement that carries a value is prepared once per connection and executed with
 * parameters, so no value ever becomes SQL text.
 *
 * The tables live in their own schema (default "saef", any name matching
 * [a-z_][a-z0-9_]{0,62} and not starting with "pg_").  saef_db_open() sets the session's
 * search_path to that schema only (pg_catalog stays implicitly first), so the SQL names tables
 * without a schema and works for any schema name.
 *
 * Errors: functions return SAEF_OK, SAEF_E_INVALID_ARG / SAEF_E_NOMEM / SAEF_E_NOT_FOUND where
 * stated, and SAEF_E_DB for a failed statement or connection.  After SAEF_E_DB the handle
 * keeps the detail: saef_db_errclass() (retry / exists / fatal, from the SQLSTATE table in
 * sqlstate.c), saef_db_sqlstate() and saef_db_errmsg() (one line, never a parameter value that
 * could be a secret, never the conninfo).  No function logs.
 *
 * Threading: a saef_db_t is one connection and must be used by one thread at a time.  The
 * writer (saef_db_writer.h) and the listener (saef_db_notify.h) own their connections.
 *
 * Times: *_us fields are microseconds since the Epoch (UTC); other time fields are seconds.
 *
 * How the module is meant to use it:
 *   start      saef_db_open(db_conninfo, db_schema) and saef_db_migrate(); load the credential
 *              map (saef_db_credmap_load() -> saef_credmap_live_replace()); start the writer
 *              (saef_db_writer.h) and the listener (saef_db_notify.h).
 *   handshake  saef_db_writer_enqueue_assoc() / _audit() only: no I/O, never blocks.
 *   key fetch  on the thread that talks to the MAF, with a saef_db_t of its own:
 *              saef_db_vault_get_open() before a retrieval, saef_db_vault_seal_put() after.
 *   listener   REVOKED -> evict the key; CREDMAP or RESYNC -> reload the credential map
 *              (RESYNC also: re-check cached keys with saef_db_vault_get()).
 *   admin      saef_db_assoc_list(), saef_db_revoke(), saef_db_credmap_*(), saef_db_status().
 */
#ifndef SAEF_DB_H
#define SAEF_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "saef_credmap.h"
#include "saef_rc.h"
#include "saef_vault.h"

#define SAEF_DB_SCHEMA_MAX 64   /* schema name buffer incl. NUL (63 characters) */
#define SAEF_DB_NAME_MAX 65     /* node ID buffer incl. NUL ([A-Za-z0-9._-]{1,64}) */
#define SAEF_DB_ADDR_MAX 64     /* remote address buffer incl. NUL ("[v6]:port") */
#define SAEF_DB_REASON_MAX 1024 /* audit reason text, bytes incl. NUL */
#define SAEF_DB_ERRMSG_MAX 512  /* saef_db_errmsg() length bound incl. NUL */

/* NOTIFY channels (fixed names: every node of every deployment in the database listens). */
#define SAEF_DB_CHANNEL_REVOCATIONS "saef_revocations"
#define SAEF_DB_CHANNEL_CREDMAP "saef_credmap"

typedef struct saef_db saef_db_t;

/* How a failure should be handled (the FreeRADIUS classification). */
typedef enum saef_db_errclass {
    SAEF_DB_ERR_NONE = 0,
    SAEF_DB_ERR_RETRY,  /* connection lost/refused, shutdown, serialization failure, deadlock,
                           too many connections: try again later, on a new connection */
    SAEF_DB_ERR_EXISTS, /* unique violation: the row is already there */
    SAEF_DB_ERR_FATAL,  /* anything else: retrying the same thing gives the same error */
} saef_db_errclass_t;

/*
 * Classify a SQLSTATE (5 characters [0-9A-Z]): class 08 (connection exception), 57P01..57P03
 * (admin/crash shutdown, cannot connect now), 40001 (serialization failure), 40P01 (deadlock),
 * 53300 (too many connections) -> RETRY; 23505 -> EXISTS; any other well-formed code -> FATAL;
 * NULL or malformed -> FATAL.  Pure function.
 */
saef_db_errclass_t saef_db_sqlstate_class(const char *sqlstate);

/* True for SQLSTATE classes 22 (data exception) and 23 (integrity constraint) except 23505:
 * errors caused by one row's values, which no retry can fix.  Pure function. */
bool saef_db_sqlstate_is_data_error(const char *sqlstate);

/* Static name of a class ("retry", "exists", "fatal", "none"). */
const char *saef_db_errclass_name(saef_db_errclass_t c);

/* Check a schema name: [a-z_][a-z0-9_]{0,62}, not "pg_*".  Returns SAEF_OK or
 * SAEF_E_INVALID_ARG. */
saef_rc_t saef_db_schema_check(const char *schema);

/* ---------------------------------------------------------------- connection */

/*
 * Connect and select the schema (search_path).
 *   conninfo  libpq conninfo or URI; NULL or "" uses the PG* environment.  Defaults that the
 *             conninfo may override: connect_timeout=5, TCP keepalives (idle 30 s, interval
 *             10 s, count 3), application_name=maf-saef.
 *   schema    validated with saef_db_schema_check(); NULL means "saef".
 *   out       receives the handle (owned by the caller: saef_db_close()), also on SAEF_E_DB
 *             when the server was unreachable, so that saef_db_reconnect() can retry; *out
 *             is NULL for the other errors.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_DB (detail in the handle).
 */
saef_rc_t saef_db_open(const char *conninfo, const char *schema, saef_db_t **out);

/* Drop the connection and connect again (prepared statements are prepared anew on first use).
 * Returns SAEF_OK or SAEF_E_DB. */
saef_rc_t saef_db_reconnect(saef_db_t *db);

/* True when the connection is up as far as libpq knows (no I/O). */
bool saef_db_connected(const saef_db_t *db);

/* Close and free; NULL-safe.  A transaction still open is rolled back by the server. */
void saef_db_close(saef_db_t *db);

/* Detail of the last failure on this handle (borrowed, valid until the next call). */
saef_db_errclass_t saef_db_errclass(const saef_db_t *db);
const char *saef_db_sqlstate(const saef_db_t *db); /* "" when none */
const char *saef_db_errmsg(const saef_db_t *db);   /* "" when none */

/* The schema name this handle uses (borrowed). */
const char *saef_db_schema(const saef_db_t *db);

/*
 * Transactions.  begin/commit/rollback nest by depth: only the outermost begin and its commit
 * talk to the server, so a store function that needs a transaction (revoke, credmap changes
 * with their NOTIFY) joins the caller's when there is one.  commit on a transaction in which a
 * statement failed rolls back and returns SAEF_E_DB; rollback is always safe to call.
 * Return SAEF_OK or SAEF_E_DB (SAEF_E_STATE for commit/rollback without begin).
 */
saef_rc_t saef_db_begin(saef_db_t *db);
saef_rc_t saef_db_commit(saef_db_t *db);
saef_rc_t saef_db_rollback(saef_db_t *db);

/* ---------------------------------------------------------------- migrations */

/* Highest migration version built into this module. */
int saef_db_module_version(void);

typedef struct saef_db_migrate_result {
    int from_version; /* database version before */
    int to_version;   /* after */
    int applied;      /* migrations applied by this call */
} saef_db_migrate_result_t;

/*
 * Bring the schema up to the module's version in ONE transaction under
 * pg_advisory_xact_lock (key derived from the schema name), so that nodes starting together
 * serialise and each migration is applied exactly once: create the schema when missing, check
 * what schema_version records, apply what is missing, record it.
 *   res  optional.
 * Returns SAEF_OK; SAEF_E_DB_SCHEMA_NEWER when the database records a version the module does
 * not know (the message names both versions); SAEF_E_DB for a checksum mismatch of an applied
 * migration, a gap in the recorded versions, or a failed statement (the message names the
 * migration).  Nothing is changed on error.  Must not be called inside saef_db_begin().
 */
saef_rc_t saef_db_migrate(saef_db_t *db, saef_db_migrate_result_t *res);

/* The version recorded in the database (0 when the schema or its version table is missing).
 * Returns SAEF_OK or SAEF_E_DB. */
saef_rc_t saef_db_schema_version(saef_db_t *db, int *version);

/* ---------------------------------------------------------------- associations and audit */

typedef enum saef_db_transport {
    SAEF_DB_TLS = 1,
    SAEF_DB_DTLS = 2,
} saef_db_transport_t;

typedef enum saef_db_assoc_state {
    SAEF_DB_ACTIVE = 1,
    SAEF_DB_EXPIRED = 2,
    SAEF_DB_REVOKED = 3,
} saef_db_assoc_state_t;

/*
 * One completed handshake, as the handshake path reports it.  Strings are borrowed and must be
 * printable ASCII (0x20..0x7e): IDs up to 255 bytes, node_id up to 64, remote_addr up to 63.
 */
typedef struct saef_db_assoc {
    saef_peer_kind_t peer_kind; /* CSE-ID, AE-ID or (unresolved) Credential-ID */
    const char *peer_id;
    const char *credential_id; /* optional: the Credential-ID the peer was resolved from */
    const char *key_id;        /* Key Identifier */
    const char *maf_fqdn;
    saef_db_transport_t transport;
    const char *node_id;     /* this host node */
    const char *remote_addr; /* optional: "ip:port" / "[ip]:port" */
    int64_t handshake_us;    /* when the handshake completed */
    int64_t kc_expiry;       /* Kc expirationTime */
} saef_db_assoc_t;

/* Check one record as the store functions do.  Returns SAEF_OK or SAEF_E_INVALID_ARG. */
saef_rc_t saef_db_assoc_check(const saef_db_assoc_t *a);

/*
 * Upsert n records with one statement (unnest() of array parameters).  Records with the same
 * (node_id, key_id, peer_kind, peer_id), in the batch or in the table, merge: first/last
 * handshake widen, the count adds up, the other columns come from the latest handshake.  The
 * state becomes active (expired when kc_expiry has passed), except that a revocation newer than
 * the handshake wins, so a record queued before a revocation does not undo it.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG (a bad record; nothing written) or SAEF_E_DB.
 */
saef_rc_t saef_db_assoc_upsert(saef_db_t *db, const saef_db_assoc_t *recs, size_t n);

typedef enum saef_db_outcome {
    SAEF_DB_ACCEPTED = 1,
    SAEF_DB_REFUSED = 2,
} saef_db_outcome_t;

/* One audit event.  Strings are borrowed; key_id and peer_addr are optional.  Never key
 * material.  Bytes outside printable ASCII are stored as "\xHH" (the identity of a refused
 * handshake is whatever the peer sent); longer strings are cut (key_id 255, peer_addr 63,
 * reason_text 1023 bytes, node_id must fit as for associations). */
typedef struct saef_db_audit {
    int64_t at_us;
    const char *node_id;
    const char *key_id;
    const char *peer_addr;
    saef_db_outcome_t outcome;
    int32_t reason_code; /* a saef_rc_t */
    const char *reason_text;
} saef_db_audit_t;

/* Insert n audit events with one statement.  Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM
 * or SAEF_E_DB. */
saef_rc_t saef_db_audit_insert(saef_db_t *db, const saef_db_audit_t *recs, size_t n);

/* An association row as stored. */
typedef struct saef_db_assoc_row {
    int64_t id;
    saef_peer_kind_t peer_kind;
    char peer_id[SAEF_ID_MAX];
    char credential_id[SAEF_ID_MAX]; /* "" when none */
    char key_id[SAEF_ID_MAX];
    char maf_fqdn[SAEF_FQDN_MAX];
    saef_db_transport_t transport;
    char node_id[SAEF_DB_NAME_MAX];
    char remote_addr[SAEF_DB_ADDR_MAX]; /* "" when unknown */
    int64_t first_us, last_us;
    int64_t count;
    int64_t kc_expiry;
    saef_db_assoc_state_t state;
    int64_t revoked_at; /* 0 unless revoked */
} saef_db_assoc_row_t;

/* Filters of saef_db_assoc_list(); NULL / 0 fields do not filter. */
typedef struct saef_db_assoc_filter {
    const char *node_id;
    const char *key_id;
    saef_db_assoc_state_t state; /* 0: any */
    int64_t after_id;            /* paging: only rows with id > after_id */
} saef_db_assoc_filter_t;

/*
 * List associations by ascending id (stable paging: pass the last id as after_id).
 *   rows, cap  caller array; *n receives how many were filled (at most cap).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_DB.
 */
saef_rc_t saef_db_assoc_list(saef_db_t *db, const saef_db_assoc_filter_t *f,
                             saef_db_assoc_row_t *rows, size_t cap, size_t *n);

/* Accepts "active" / "expired" / "revoked"; returns 0 for anything else. */
saef_db_assoc_state_t saef_db_assoc_state_parse(const char *s);
/* Static name of a state ("?" when out of range). */
const char *saef_db_assoc_state_name(saef_db_assoc_state_t s);

/*
 * Expire sweep: associations whose Kc expired become 'expired'.
 *   changed  optional; receives the number of rows changed.
 * Returns SAEF_OK or SAEF_E_DB.
 */
saef_rc_t saef_db_expire_sweep(saef_db_t *db, int64_t *changed);

/*
 * Revoke a Key Identifier across nodes: mark its vault row and its associations revoked and
 * NOTIFY saef_revocations with the Key Identifier, in one transaction (the caller's when one
 * is open).  The NOTIFY is sent even when no row exists, so nodes that hold the key only in
 * memory drop it too.
 *   vault_rows, assoc_rows  optional; receive the rows newly marked.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_DB.
 */
saef_rc_t saef_db_revoke(saef_db_t *db, const char *key_id, int64_t *vault_rows,
                         int64_t *assoc_rows);

/* NOTIFY channel with payload (at most 255 bytes, printable ASCII) through pg_notify(), in
 * the caller's transaction when one is open (delivered at its commit) or at once.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_DB. */
saef_rc_t saef_db_notify(saef_db_t *db, const char *channel, const char *payload);

/* ---------------------------------------------------------------- key vault */

/* A vault row: the sealed Kc and the MAF's metadata in clear. */
typedef struct saef_db_vault_row {
    char key_id[SAEF_ID_MAX];
    saef_vault_sealed_t sealed;
    char maf_fqdn[SAEF_FQDN_MAX];
    int64_t expires_at;
    uint16_t suid;
    char source_id[SAEF_ID_MAX];    /* Source MAF Client ID (CSE-ID, AE-ID or KmID) */
    char admin_fqdn[SAEF_FQDN_MAX]; /* "" when none */
    char created_by[SAEF_DB_NAME_MAX];
    int64_t created_at; /* set by the database; ignored by put */
    bool revoked;       /* set by saef_db_revoke(); ignored by put */
    int64_t revoked_at;
} saef_db_vault_row_t;

/*
 * Store (insert or replace) a sealed key.  A revoked row is never replaced: the Key
 * Identifier stays revoked until an operator deletes the row.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_STATE (the row is revoked) or SAEF_E_DB.
 */
saef_rc_t saef_db_vault_put(saef_db_t *db, const saef_db_vault_row_t *row);

/* Fetch a row by Key Identifier, revoked and expired ones included (the caller checks).
 * Returns SAEF_OK, SAEF_E_NOT_FOUND, SAEF_E_INVALID_ARG or SAEF_E_DB. */
saef_rc_t saef_db_vault_get(saef_db_t *db, const char *key_id, saef_db_vault_row_t *out);

/* Delete a row.  Returns SAEF_OK, SAEF_E_NOT_FOUND, SAEF_E_INVALID_ARG or SAEF_E_DB. */
saef_rc_t saef_db_vault_delete(saef_db_t *db, const char *key_id);

/*
 * The usable rows (not revoked, not expired), latest expiry first, at most cap of them (to
 * warm a cache of bounded size).  *n receives the number filled.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_DB.
 */
saef_rc_t saef_db_vault_list_valid(saef_db_t *db, saef_db_vault_row_t *rows, size_t cap, size_t *n);

/* Called for every Key Identifier saef_db_vault_revoked_among() finds; borrowed for the call;
 * a non-zero return stops the iteration. */
typedef int (*saef_db_key_cb_t)(void *ctx, const char *key_id);

/*
 * Which of the n Key Identifiers have a revoked vault row: one statement (= ANY of an array
 * parameter), whatever n is.  For a node that re-checks its cached keys after it may have
 * missed notifications.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_DB.
 */
saef_rc_t saef_db_vault_revoked_among(saef_db_t *db, const char *const *key_ids, size_t n,
                                      saef_db_key_cb_t cb, void *ctx);

/*
 * Seal key under kek (AAD = meta->key_id) and put the row: the one call the module makes after
 * a MAF Key Retrieval.  meta supplies key_id and the MAF's metadata (its sealed member is
 * ignored).  The sealed copy is wiped before returning.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_STATE (revoked), SAEF_E_INTERNAL or SAEF_E_DB.
 */
saef_rc_t saef_db_vault_seal_put(saef_db_t *db, const saef_vault_kek_t *kek, const uint8_t *key,
                                 size_t key_len, const saef_db_vault_row_t *meta);

/*
 * Get the row of key_id and open it with kek: the module's path on a cache miss, before asking
 * the MAF.
 *   key, cap, key_len  receive Kc (wiped on every error).
 *   meta               optional; receives the row (metadata, revocation, expiry).
 *   now                seconds since the Epoch, for the expiry check.
 * Returns SAEF_OK; SAEF_E_NOT_FOUND (no row, or it does not open under this KEK and Key
 * Identifier: ask the MAF); SAEF_E_STATE (revoked: refuse); SAEF_E_KEY_EXPIRED (expires_at
 * not after now); SAEF_E_BUFFER_TOO_SMALL; SAEF_E_INVALID_ARG; SAEF_E_DB.
 */
saef_rc_t saef_db_vault_get_open(saef_db_t *db, const saef_vault_kek_t *kek, const char *key_id,
                                 int64_t now, uint8_t *key, size_t cap, size_t *key_len,
                                 saef_db_vault_row_t *meta);

/* Progress of saef_db_vault_rotate(), called after every committed batch (may be NULL). */
typedef void (*saef_db_rotate_progress_t)(void *ctx, int64_t done, int64_t total);

typedef struct saef_db_rotate_result {
    int64_t total;     /* rows in the vault at the start */
    int64_t resealed;  /* rows re-sealed by this call */
    int64_t already;   /* rows already sealed under the new KEK (an earlier, interrupted run) */
    int64_t remaining; /* rows not under the new KEK at the end (written meanwhile by a node
                          that still has the old KEK); 0 after a complete rotation */
    char failed_key_id[SAEF_ID_MAX]; /* the first row that did not open, "" when none */
} saef_db_rotate_result_t;

/*
 * Re-seal every vault row from old_kek to new_kek.  First a read-only pass checks that every
 * row opens with old_kek (or is already under new_kek); if one does not, nothing is written.
 * Then rows are re-sealed in batches of batch rows (key order), one transaction per batch,
 * each row re-checked under a row lock.  A failure rolls back the current batch only; every
 * row is always either wholly under the old KEK or wholly under the new one (its kek_id says
 * which), and running the rotation again finishes the job.  Rows that nodes still running
 * with the old KEK add meanwhile are counted in res->remaining (run again once every node has
 * the new KEK).  Must not be called inside a transaction.
 * Returns SAEF_OK; SAEF_E_NOT_FOUND when a row does not open with old_kek (res->failed_key_id
 * names it); SAEF_E_INVALID_ARG (same KEK twice, batch 0); SAEF_E_DB; SAEF_E_INTERNAL.
 */
saef_rc_t saef_db_vault_rotate(saef_db_t *db, const saef_vault_kek_t *old_kek,
                               const saef_vault_kek_t *new_kek, size_t batch,
                               saef_db_rotate_progress_t progress, void *ctx,
                               saef_db_rotate_result_t *res);

/* ---------------------------------------------------------------- credential map */

typedef struct saef_db_credmap_row {
    char pattern[SAEF_ID_MAX];
    char target[SAEF_ID_MAX];
    saef_peer_kind_t kind;
    int64_t created_at, updated_at;
} saef_db_credmap_row_t;

/*
 * Add a mapping and NOTIFY saef_credmap with the pattern, in one transaction.  Pattern and
 * target are checked with saef_credmap_pattern_check() / saef_credmap_target_check().
 * Returns SAEF_OK, their codes, SAEF_E_DB (errclass EXISTS when the pattern, ignoring case, is
 * already mapped).
 */
saef_rc_t saef_db_credmap_add(saef_db_t *db, const char *pattern, const char *target);

/* Change the target of an existing pattern (and NOTIFY).
 * Returns SAEF_OK, the check codes, SAEF_E_NOT_FOUND or SAEF_E_DB. */
saef_rc_t saef_db_credmap_update(saef_db_t *db, const char *pattern, const char *target);

/* Delete a pattern, matched ignoring case (and NOTIFY).
 * Returns SAEF_OK, SAEF_E_NOT_FOUND, SAEF_E_INVALID_ARG or SAEF_E_DB. */
saef_rc_t saef_db_credmap_delete(saef_db_t *db, const char *pattern);

/* Fetch one mapping (pattern matched ignoring case).
 * Returns SAEF_OK, SAEF_E_NOT_FOUND, SAEF_E_INVALID_ARG or SAEF_E_DB. */
saef_rc_t saef_db_credmap_get(saef_db_t *db, const char *pattern, saef_db_credmap_row_t *out);

/* Called for every row of saef_db_credmap_list(); a non-zero return stops the iteration. */
typedef int (*saef_db_credmap_cb_t)(void *ctx, const saef_db_credmap_row_t *row);

/* Every mapping, ordered by lower-case pattern.  Returns SAEF_OK or SAEF_E_DB. */
saef_rc_t saef_db_credmap_list(saef_db_t *db, saef_db_credmap_cb_t cb, void *ctx);

/*
 * Build a finished in-memory table from every row (for saef_credmap_live_replace()).
 *   out      receives the table (owned by the caller).
 *   skipped  optional; receives the number of rows that failed the checks (someone wrote them
 *            with SQL); they are left out rather than failing the load, so one bad row cannot
 *            freeze the map.
 * Returns SAEF_OK, SAEF_E_NOMEM or SAEF_E_DB.
 */
saef_rc_t saef_db_credmap_load(saef_db_t *db, saef_credmap_t **out, size_t *skipped);

/* ---------------------------------------------------------------- operations */

typedef struct saef_db_status {
    int db_version, module_version;
    int64_t assoc_active, assoc_expired, assoc_revoked;
    int64_t vault_rows, vault_valid, vault_revoked;
    int64_t credmap_rows;
    int64_t audit_rows; /* estimate (planner statistics); the table can be huge */
} saef_db_status_t;

/* Schema version and row counts.  Returns SAEF_OK or SAEF_E_DB. */
saef_rc_t saef_db_status(saef_db_t *db, saef_db_status_t *st);

typedef struct saef_db_prune_result {
    int64_t expired; /* associations marked expired by the sweep */
    int64_t audit;   /* audit rows deleted */
    int64_t assoc;   /* associations deleted */
    int64_t vault;   /* vault rows deleted */
} saef_db_prune_result_t;

/*
 * Retention: run the expire sweep, then delete audit events older than audit_before,
 * non-active associations whose last handshake is older than assoc_before, and vault rows
 * that expired or were revoked before vault_before (seconds since the Epoch; 0 skips that
 * table).  Audit rows go in chunks of 10000, each its own transaction, so a large backlog does
 * not hold one huge transaction.
 * Returns SAEF_OK or SAEF_E_DB (counts so far are in res).
 */
saef_rc_t saef_db_prune(saef_db_t *db, int64_t audit_before, int64_t assoc_before,
                        int64_t vault_before, saef_db_prune_result_t *res);

#endif /* SAEF_DB_H */
