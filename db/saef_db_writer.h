/*
 * The database writer: one thread with its own connection and a bounded queue of association
 * upserts and audit events, written in batches (one transaction per batch: one upsert and one
 * audit INSERT, both through unnest(), see store.c).
 *
 * Handshake threads call the enqueue functions: they copy the record, never block on the
 * database and never touch it.  The queue holds at most queue_size records; audit events may
 * take at most half of it, so a flood of refused handshakes (which an attacker can cause at
 * will) cannot crowd out associations.
 *   - association and queue full: SAEF_E_BUSY, counted as refused.  The caller fails the
 *     handshake (fail closed): an accepted association is never dropped silently.
 *   - audit event and its share full: SAEF_E_BUSY, the event is dropped and counted.
 *
 * Outage: when the connection or a batch fails, the batch stays at the head of the queue and
 * the writer reconnects with back-off (100 ms doubling to 5 s, jittered; configurable); when
 * the database is back it writes the queue.  Every record accepted by enqueue is written
 * unless saef_db_writer_stop()'s deadline passes first (then they are counted in lost).  A
 * batch whose COMMIT was sent but not acknowledged when the connection died is written again
 * after the reconnect: associations merge (their handshake_count may then count those
 * handshakes twice), audit events may appear twice.  Enqueue validates every field against the
 * table's constraints, so a batch only fails for reasons outside its records (connection,
 * server, privileges, schema): an operator fixes those, and last_error names them.
 *
 * Threading: enqueue, stats and flush are thread-safe; start/stop/free are called by one
 * owner thread.
 */
#ifndef SAEF_DB_WRITER_H
#define SAEF_DB_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "saef_db.h"

typedef struct saef_db_writer saef_db_writer_t;

typedef struct saef_db_writer_cfg {
    const char *conninfo;    /* borrowed for the call; NULL/"": PG* environment */
    const char *schema;      /* borrowed for the call; NULL: "saef" */
    size_t queue_size;       /* records in the queue, >= 2 (db_queue_size) */
    size_t batch_max;        /* records per batch and kind; 0: 512 */
    uint32_t linger_ms;      /* wait for more records before a batch that is not full;
                                0: none (tests), default of the module: 10 */
    uint32_t backoff_min_ms; /* 0: 100 */
    uint32_t backoff_max_ms; /* 0: 5000 */
} saef_db_writer_cfg_t;

typedef struct saef_db_writer_stats {
    uint64_t queued_assoc, queued_audit;   /* in the queue now */
    uint64_t written_assoc, written_audit; /* records in committed batches */
    uint64_t batches;                      /* committed batches */
    uint64_t retries;                      /* failed connects and failed batches */
    uint64_t refused;                      /* associations refused with SAEF_E_BUSY */
    uint64_t dropped_audit;                /* audit events dropped with SAEF_E_BUSY */
    uint64_t lost;                         /* records abandoned when stop's deadline passed */
    bool connected;
    char last_error[SAEF_DB_ERRMSG_MAX]; /* "" until the first failure; kept afterwards */
} saef_db_writer_stats_t;

/*
 * Start the writer thread.  It connects on its own; an unreachable database is not an error
 * here (the writer keeps trying, and enqueue works meanwhile).
 *   out  receives the writer (owned by the caller: saef_db_writer_free()).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG (bad schema, queue_size < 2), SAEF_E_NOMEM or
 * SAEF_E_INTERNAL (thread creation).
 */
saef_rc_t saef_db_writer_start(const saef_db_writer_cfg_t *cfg, saef_db_writer_t **out);

/*
 * Queue one association (copied).  Never blocks on the database, never does I/O.
 * Returns SAEF_OK; SAEF_E_BUSY (queue full; counted as refused); SAEF_E_INVALID_ARG (the
 * record fails saef_db_assoc_check() or a time is out of range); SAEF_E_NOMEM; SAEF_E_STATE
 * (stopping or stopped).
 */
saef_rc_t saef_db_writer_enqueue_assoc(saef_db_writer_t *w, const saef_db_assoc_t *a);

/*
 * Whether one more association could be queued now (the check a handshake makes before it
 * commits to a key; the record itself is queued once the handshake completed).  Never blocks.
 * Returns SAEF_OK; SAEF_E_BUSY (queue full; counted as refused: the caller fails the
 * handshake); SAEF_E_STATE (stopping or stopped); SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_db_writer_room(saef_db_writer_t *w);

/*
 * Queue one audit event (copied; strings cut to the lengths saef_db_audit_insert() keeps).
 * Returns SAEF_OK; SAEF_E_BUSY (dropped and counted); SAEF_E_INVALID_ARG; SAEF_E_NOMEM;
 * SAEF_E_STATE.
 */
saef_rc_t saef_db_writer_enqueue_audit(saef_db_writer_t *w, const saef_db_audit_t *e);

/* Copy the counters.  Thread-safe. */
void saef_db_writer_stats(saef_db_writer_t *w, saef_db_writer_stats_t *out);

/*
 * Wait until everything queued before the call is written, or timeout_ms passed.
 * Returns SAEF_OK, SAEF_E_TIMEOUT or SAEF_E_INVALID_ARG.  Thread-safe.
 */
saef_rc_t saef_db_writer_flush(saef_db_writer_t *w, uint32_t timeout_ms);

/*
 * Refuse new records, write what is queued until the queue is empty or deadline_ms passed,
 * then stop the thread and close the connection.  Records left are freed and counted in
 * lost.  Idempotent.  A statement in flight at the deadline is not interrupted; libpq's
 * connect timeout and TCP keepalives bound that wait.
 * Returns SAEF_OK (nothing lost) or SAEF_E_TIMEOUT (stats.lost > 0).
 */
saef_rc_t saef_db_writer_stop(saef_db_writer_t *w, uint32_t deadline_ms);

/* Stop (deadline 0 when still running) and free; NULL-safe. */
void saef_db_writer_free(saef_db_writer_t *w);

#endif /* SAEF_DB_WRITER_H */
