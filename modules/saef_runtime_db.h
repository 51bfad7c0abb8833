/*
 * The module's use of PostgreSQL (db/), when db_conninfo is set: what start() does with the
 * database, and the hooks the handshake machinery calls.
 *
 *   start     connect, migrate under the advisory lock, load the credential map into the live
 *             table, open the KEK and warm the key cache from the vault (key_vault), start the
 *             writer (associations, audit), the listener (revocations, credential map) and one
 *             worker thread with a connection of its own for the vault.
 *   handshake admit_room / admit (saef_tls_params_t): the association is queued to the writer
 *             once the handshake completed; a full queue fails the handshake.  Never blocks.
 *   key miss  store.get (saef_eb_store_t): the worker opens the vault row; a miss, an
 *             unreachable database or a slow worker sends the fetch on to the MAF.  store.put
 *             seals and stores every key the MAF returns.
 *   notify    a revocation evicts the key from the cache at once; a credential-map change (and
 *             every reconnection of the listener) reloads the map and re-checks the cached keys
 *             against the vault's revocations, on the worker.
 *   log       saef_rtdb_audit() turns each logged decision into an audit row.
 *
 * Threads: the hooks are thread-safe.  start/stop/free are called by the owner (runtime.c).
 */
#ifndef SAEF_RUNTIME_DB_H
#define SAEF_RUNTIME_DB_H

#include "saef_db.h"
#include "saef_db_notify.h"
#include "saef_db_writer.h"
#include "saef_entityb.h"

struct saef_instance;
struct saef_report_rec;

typedef struct saef_rtdb saef_rtdb_t;

/*
 * Connect, migrate, load, start the threads.  Uses inst->cfg, inst->rt.cache and
 * inst->rt.credmap (which must exist and outlive it).  Logs every failure with its reason.
 * Returns SAEF_OK; SAEF_E_DB (unreachable, migration failed), SAEF_E_DB_SCHEMA_NEWER,
 * SAEF_E_CFG_SECRET_FILE (KEK file), SAEF_E_NOMEM, SAEF_E_INTERNAL.
 */
saef_rc_t saef_rtdb_start(struct saef_instance *inst, saef_rtdb_t **out);

/* The store hooks for the engine, or NULL when key_vault is off. */
const saef_eb_store_t *saef_rtdb_store(saef_rtdb_t *d);

/* saef_tls_params_t.admit_room / admit; arg is the saef_rtdb_t. */
saef_rc_t saef_rtdb_admit_room(void *arg);
saef_rc_t saef_rtdb_admit(void *arg, const saef_eb_binding_t *b, const char *peer,
                          const char *transport);

/* Queue the audit row of one decision (the housekeeper calls it next to the log line). */
void saef_rtdb_audit(saef_rtdb_t *d, const struct saef_report_rec *rec);

/* Log what changed in the writer's counters since the last call: the database going away or
 * coming back, handshakes refused for a full queue, audit events dropped (the housekeeper
 * calls it every second). */
void saef_rtdb_tick(saef_rtdb_t *d);

/*
 * The management resources' connection (its own, opened on first use): begin returns it
 * connected with a lock held, or NULL (the lock released) with err naming why; end releases
 * it.  After a statement failed with SAEF_E_DB, retry reconnects when the connection was lost
 * and says whether the statement is worth one more try.  Calls block on the database: the
 * management resources are not on the handshake path.
 */
saef_db_t *saef_rtdb_admin_begin(saef_rtdb_t *d, char *err, size_t errlen);
bool saef_rtdb_admin_retry(saef_rtdb_t *d);
void saef_rtdb_admin_end(saef_rtdb_t *d);

/* The writer's and the listener's counters. */
void saef_rtdb_stats(saef_rtdb_t *d, saef_db_writer_stats_t *w, saef_db_listener_stats_t *l);

/* Vault lookups that waited more than 500 ms for the worker (a slow or unreachable database)
 * are answered "ask the MAF" at once; the worker drops them later.  The housekeeper calls it
 * every 200 ms, so that the vault never holds a handshake up for long. */
void saef_rtdb_expire_lookups(saef_rtdb_t *d);

/* Stop the listener and the worker (pending vault lookups are answered SAEF_E_STATE), then the
 * writer, which gets a few seconds to write its queue (what it cannot write is logged as
 * lost).  The hooks stay callable and do nothing.  Idempotent; NULL-safe. */
void saef_rtdb_stop(saef_rtdb_t *d);

/* Stop if needed, then free; NULL-safe. */
void saef_rtdb_free(saef_rtdb_t *d);

#endif
