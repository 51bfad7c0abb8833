/* The module's use of PostgreSQL: see saef_runtime_db.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "saef_db.h"
#include "saef_db_notify.h"
#include "saef_db_writer.h"
#include "saef_instance_internal.h"
#include "saef_rc.h"
#include "saef_runtime_db.h"
#include "saef_time.h"

#define WORKER_QUEUE_MAX 4096  /* vault jobs waiting for the worker */
#define GET_STALE_MS 500       /* a vault lookup queued longer goes to the MAF instead */
#define RECONNECT_EVERY_MS 1000 /* the worker's reconnection attempts while the db is away */
#define SWEEP_EVERY_S 5         /* expire sweep of the associations (an indexed UPDATE) */
#define WARM_MAX 10000          /* vault rows loaded into the cache at start */
#define WRITER_STOP_MS 5000     /* what stop() gives the writer to empty its queue */

typedef enum job_kind {
    JOB_GET = 1, /* open key_id from the vault, answer done() */
    JOB_PUT,     /* seal and store a key the MAF returned */
    JOB_EVICT,   /* a revocation: evict key_id again once the jobs before it are done */
} job_kind_t;

typedef struct job {
    struct job *next;
    job_kind_t kind;
    char key_id[SAEF_ID_MAX];
    saef_eb_store_done_t done; /* JOB_GET; NULL once answered (under mu) */
    void *user;
    struct timespec queued; /* CLOCK_MONOTONIC */
    saef_cache_value_t v;   /* JOB_PUT; secret: wiped with the job */
} job_t;

struct saef_rtdb {
    saef_instance_t *inst; /* borrowed */
    const saef_cfg_t *cfg; /* borrowed */
    saef_cache_t *cache;   /* borrowed */
    saef_credmap_live_t *credmap;
    saef_vault_kek_t *kek; /* owned; NULL without key_vault */
    saef_eb_store_t store;
    saef_db_writer_t *writer;
    saef_db_listener_t *listener;
    /* worker */
    saef_db_t *db; /* the worker's connection (start's before the worker runs) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_running, stopping, writer_stopped; /* under mu */
    bool reload_wanted;  /* under mu: reload the credential map (a change, or a failure) */
    bool recheck_wanted; /* under mu: re-check cached keys against revocations (RESYNC) */
    bool reload_failing; /* worker only: the last reload failed (logged once) */
    pthread_mutex_t admin_mu;    /* the management resources' connection */
    saef_db_t *admin_db;         /* opened on first use, under admin_mu */
    saef_db_writer_stats_t seen; /* housekeeper only: the writer's counters at the last tick */
    bool reported_down;          /* housekeeper only: "database unavailable" was logged */
    uint64_t puts_dropped_seen;  /* housekeeper only */
    job_t *head, *tail;          /* under mu */
    job_t *current;              /* under mu: the job the worker is doing */
    size_t n_jobs;
    uint64_t puts_dropped; /* under mu */
    struct timespec next_connect, next_sweep, next_retry; /* worker only, CLOCK_MONOTONIC */
};

static void job_free(job_t *j)
{
    if (j == NULL)
        return;
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

/* ---------------------------------------------------------------- vault rows and the cache */

/* A vault row opened into a cache value.  Returns SAEF_OK, or SAEF_E_NOT_FOUND for a row this
 * node cannot use (another key length or SUID, a source ID of no known kind). */
static saef_rc_t value_of_row(const saef_rtdb_t *d, const saef_db_vault_row_t *row,
                              const uint8_t *key, size_t key_len, saef_cache_value_t *v)
{
    saef_maf_source_kind_t kind;

    memset(v, 0, sizeof(*v));
    if (key_len != d->cfg->psk_length || key_len > sizeof(v->psk) || row->suid != d->cfg->suid ||
        saef_maf_source_classify(row->source_id, strlen(row->source_id), &kind) != SAEF_OK)
        return SAEF_E_NOT_FOUND;
    memcpy(v->psk, key, key_len);
    v->psk_len = key_len;
    v->expiry.tv_sec = (time_t)row->expires_at;
    v->suid = row->suid;
    v->source_kind = (int)kind;
    snprintf(v->source_id, sizeof(v->source_id), "%s", row->source_id);
    snprintf(v->admin_fqdn, sizeof(v->admin_fqdn), "%s", row->admin_fqdn);
    return SAEF_OK;
}

/* Put one key into the cache as if a fetch had returned it (no-op when the key is there). */
static void cache_insert(saef_cache_t *cache, const char *key_id, const saef_cache_value_t *v)
{
    saef_cache_flight_t *flight = NULL;
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    if (saef_cache_lookup(cache, key_id, strlen(key_id), &now, NULL, NULL, &flight) ==
        SAEF_CACHE_MISS_FETCH) {
        saef_cache_complete(cache, flight, SAEF_OK, v, false, &now);
    }
    saef_cache_flight_release(flight);
}

/* Start: the still-valid vault keys into the cache, so a restart does not send every peer back
 * to the MAF. */
static void warm_cache(saef_rtdb_t *d)
{
    size_t cap = d->cfg->cache_size < WARM_MAX ? d->cfg->cache_size : WARM_MAX;
    saef_db_vault_row_t *rows = calloc(cap, sizeof(*rows));
    size_t n = 0, i, loaded = 0, unusable = 0;
    uint8_t key[SAEF_VAULT_KEY_MAX];
    saef_cache_value_t v;
    size_t key_len;

    if (rows == NULL) {
        saef_log(d->inst, SAEF_LOG_WARNING, "key vault: no memory to warm the cache");
        return;
    }
    if (saef_db_vault_list_valid(d->db, rows, cap, &n) != SAEF_OK) {
        saef_log(d->inst, SAEF_LOG_WARNING, "key vault: cannot list keys to warm the cache: %s",
                 saef_db_errmsg(d->db));
        n = 0;
    }
    for (i = 0; i < n; i++) {
        if (saef_vault_open(d->kek, &rows[i].sealed, rows[i].key_id, strlen(rows[i].key_id), key,
                            sizeof(key), &key_len) == SAEF_OK &&
            value_of_row(d, &rows[i], key, key_len, &v) == SAEF_OK) {
            cache_insert(d->cache, rows[i].key_id, &v);
            loaded++;
        } else {
            unusable++;
        }
        saef_cache_value_clear(&v);
        OPENSSL_cleanse(key, sizeof(key));
    }
    OPENSSL_cleanse(rows, cap * sizeof(*rows));
    free(rows);
    saef_log(d->inst, SAEF_LOG_NOTICE,
             "key vault: %zu valid key(s) loaded into the cache%s, %zu not usable here "
             "(another KEK, key length or SUID)",
             loaded, n == cap ? " (the limit)" : "", unusable);
}

/* After a failed statement: when the connection was lost (a server restart, which libpq only
 * notices on use, and reports without a SQLSTATE), connect again at once.  True when the
 * statement is worth one more try. */
static bool connection_lost(const saef_db_t *db)
{
    return !saef_db_connected(db) || saef_db_errclass(db) == SAEF_DB_ERR_RETRY ||
           saef_db_sqlstate(db)[0] == '\0';
}

static bool reconnected(saef_rtdb_t *d)
{
    if (!connection_lost(d->db))
        return false;
    d->next_connect = saef_clock_after_ms(CLOCK_MONOTONIC, RECONNECT_EVERY_MS);
    return saef_db_reconnect(d->db) == SAEF_OK;
}

/* True when the worker may use its connection; reconnects at most once per second. */
static bool worker_connected(saef_rtdb_t *d)
{
    if (saef_db_connected(d->db))
        return true;
    if (!saef_clock_passed(CLOCK_MONOTONIC, &d->next_connect))
        return false;
    d->next_connect = saef_clock_after_ms(CLOCK_MONOTONIC, RECONNECT_EVERY_MS);
    if (saef_db_reconnect(d->db) != SAEF_OK)
        return false;
    saef_log(d->inst, SAEF_LOG_NOTICE, "key vault: database connection restored");
    return true;
}

/* Returns false when the map could not be read (the old one stays; logged once per run of
 * failures). */
static bool reload_credmap(saef_rtdb_t *d)
{
    saef_credmap_t *map = NULL;
    size_t skipped = 0, n;
    saef_rc_t rc = SAEF_E_DB;

    if (worker_connected(d)) {
        rc = saef_db_credmap_load(d->db, &map, &skipped);
        if (rc == SAEF_E_DB && reconnected(d))
            rc = saef_db_credmap_load(d->db, &map, &skipped);
    }
    if (rc == SAEF_OK) {
        n = saef_credmap_count(map);
        rc = saef_credmap_live_replace(d->credmap, map);
        if (rc != SAEF_OK)
            saef_credmap_free(map);
    }
    if (rc != SAEF_OK) {
        if (!d->reload_failing)
            saef_log(d->inst, SAEF_LOG_WARNING,
                     "credential map: reload failed, keeping the old one and retrying every "
                     "%d ms: %s",
                     RECONNECT_EVERY_MS,
                     rc == SAEF_E_DB ? saef_db_errmsg(d->db) : saef_strerror(rc));
        d->reload_failing = true;
        return false;
    }
    d->reload_failing = false;
    saef_log(d->inst, SAEF_LOG_INFO, "credential map: %zu pattern(s) loaded", n);
    if (skipped > 0)
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "credential map: %zu row(s) fail the pattern or target checks and were left out",
                 skipped);
    return true;
}

/* ---------------------------------------------------------------- the worker */

typedef struct key_list {
    char (*ids)[SAEF_ID_MAX];
    const char **ptrs;
    size_t n, cap;
    bool incomplete; /* out of memory: not every cached key is in the list */
} key_list_t;

static int collect_key(void *arg, const saef_cache_meta_t *m)
{
    key_list_t *l = arg;

    if (m->negative)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char(*ids)[SAEF_ID_MAX] = realloc(l->ids, cap * sizeof(*ids));

        if (ids == NULL) {
            l->incomplete = true;
            return 1;
        }
        l->ids = ids;
        l->cap = cap;
    }
    snprintf(l->ids[l->n++], SAEF_ID_MAX, "%s", m->key_id);
    return 0;
}

static int evict_revoked(void *ctx, const char *key_id)
{
    saef_rtdb_t *d = ctx;

    if (saef_cache_evict(d->cache, key_id, strlen(key_id)) == SAEF_OK)
        saef_log(d->inst, SAEF_LOG_NOTICE,
                 "key %s revoked while notifications were not heard: removed from the cache",
                 key_id);
    return 0;
}

/* Notifications may have been missed (the listener reconnected): every cached key whose vault
 * row is revoked leaves the cache.  One statement for the whole cache.  Returns false when it
 * could not be done (retried later). */
static bool recheck_revocations(saef_rtdb_t *d)
{
    key_list_t l = {0};
    struct timespec now;
    saef_rc_t rc = SAEF_OK;
    size_t i;

    clock_gettime(CLOCK_REALTIME, &now);
    if (saef_cache_foreach_meta(d->cache, &now, collect_key, &l) != SAEF_OK || l.incomplete ||
        (l.n > 0 && (l.ptrs = malloc(l.n * sizeof(*l.ptrs))) == NULL)) {
        rc = SAEF_E_NOMEM;
    } else if (l.n > 0) {
        for (i = 0; i < l.n; i++)
            l.ptrs[i] = l.ids[i];
        rc = worker_connected(d) ? saef_db_vault_revoked_among(d->db, l.ptrs, l.n,
                                                               evict_revoked, d)
                                 : SAEF_E_DB;
        if (rc == SAEF_E_DB && reconnected(d))
            rc = saef_db_vault_revoked_among(d->db, l.ptrs, l.n, evict_revoked, d);
    }
    free(l.ptrs);
    free(l.ids);
    return rc == SAEF_OK;
}

static void do_get(saef_rtdb_t *d, job_t *j)
{
    uint8_t key[SAEF_VAULT_KEY_MAX];
    saef_db_vault_row_t *meta = NULL;
    saef_eb_store_done_t done;
    saef_cache_value_t v;
    size_t key_len = 0;
    saef_rc_t rc = SAEF_E_NOT_FOUND;
    struct timespec stale = j->queued;

    memset(&v, 0, sizeof(v));
    saef_ts_add_ms(&stale, GET_STALE_MS);
    /* Too late or no database: the MAF decides, the vault is only a shortcut. */
    if (!saef_clock_passed(CLOCK_MONOTONIC, &stale) && worker_connected(d) &&
        (meta = malloc(sizeof(*meta))) != NULL) {
        rc = saef_db_vault_get_open(d->db, d->kek, j->key_id, (int64_t)time(NULL), key,
                                    sizeof(key), &key_len, meta);
        if (rc == SAEF_E_DB && reconnected(d))
            rc = saef_db_vault_get_open(d->db, d->kek, j->key_id, (int64_t)time(NULL), key,
                                        sizeof(key), &key_len, meta);
        if (rc == SAEF_OK)
            rc = value_of_row(d, meta, key, key_len, &v);
        else if (rc == SAEF_E_STATE)
            rc = SAEF_E_KEY_REVOKED;
        else if (rc == SAEF_E_DB)
            saef_log(d->inst, SAEF_LOG_WARNING, "key vault: lookup of %s failed, asking the MAF: %s",
                     j->key_id, saef_db_errmsg(d->db));
        if (rc != SAEF_OK && rc != SAEF_E_KEY_REVOKED)
            rc = SAEF_E_NOT_FOUND;
    }
    /* The housekeeper may have answered it meanwhile (saef_rtdb_expire_lookups()). */
    pthread_mutex_lock(&d->mu);
    done = j->done;
    j->done = NULL;
    pthread_mutex_unlock(&d->mu);
    if (done != NULL) {
        if (rc == SAEF_OK)
            saef_log(d->inst, SAEF_LOG_INFO, "key vault: %s opened (no MAF request)", j->key_id);
        done(j->user, rc, rc == SAEF_OK ? &v : NULL);
    }
    saef_cache_value_clear(&v);
    OPENSSL_cleanse(key, sizeof(key));
    if (meta != NULL)
        OPENSSL_cleanse(meta, sizeof(*meta));
    free(meta);
}

static void do_put(saef_rtdb_t *d, job_t *j)
{
    saef_db_vault_row_t *row = calloc(1, sizeof(*row));
    const char *at = strchr(j->key_id, '@');
    saef_rc_t rc;

    if (row == NULL || at == NULL || !worker_connected(d)) {
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "key vault: %s not stored (%s): other nodes will ask the MAF for it", j->key_id,
                 row == NULL ? "out of memory"
                 : at == NULL ? "not a Key Identifier"
                              : "database unavailable");
        free(row);
        return;
    }
    snprintf(row->key_id, sizeof(row->key_id), "%s", j->key_id);
    snprintf(row->maf_fqdn, sizeof(row->maf_fqdn), "%s", at + 1);
    row->expires_at = (int64_t)j->v.expiry.tv_sec;
    row->suid = j->v.suid;
    snprintf(row->source_id, sizeof(row->source_id), "%s", j->v.source_id);
    snprintf(row->admin_fqdn, sizeof(row->admin_fqdn), "%s", j->v.admin_fqdn);
    snprintf(row->created_by, sizeof(row->created_by), "%s", d->cfg->node_id);
    rc = saef_db_vault_seal_put(d->db, d->kek, j->v.psk, j->v.psk_len, row);
    if (rc == SAEF_E_DB && reconnected(d))
        rc = saef_db_vault_seal_put(d->db, d->kek, j->v.psk, j->v.psk_len, row);
    if (rc == SAEF_E_STATE) {
        /* Revoked while the MAF answered: the key the fetch just cached must go. */
        (void)saef_cache_evict(d->cache, j->key_id, strlen(j->key_id));
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "key vault: %s is revoked: the key the MAF returned was dropped", j->key_id);
    } else if (rc != SAEF_OK) {
        saef_log(d->inst, SAEF_LOG_WARNING, "key vault: storing %s failed: %s", j->key_id,
                 rc == SAEF_E_DB ? saef_db_errmsg(d->db) : saef_strerror(rc));
    }
    free(row);
}

static void do_sweep(saef_rtdb_t *d)
{
    int64_t changed = 0;

    if (worker_connected(d) && saef_db_expire_sweep(d->db, &changed) == SAEF_OK && changed > 0)
        saef_log(d->inst, SAEF_LOG_INFO, "associations: %lld marked expired", (long long)changed);
}

/* What is due besides the queue: a credential-map reload or a revocation re-check that was
 * asked for (one that failed is retried every RECONNECT_EVERY_MS), and the expire sweep.
 * Called with mu held; returns with it held. */
static void maintenance(saef_rtdb_t *d)
{
    bool paced = saef_clock_passed(CLOCK_MONOTONIC, &d->next_retry);
    bool reload = d->reload_wanted && paced, recheck = d->recheck_wanted && paced;
    bool sweep = saef_clock_passed(CLOCK_MONOTONIC, &d->next_sweep), failed = false;

    if (!reload && !recheck && !sweep)
        return;
    d->reload_wanted &= !reload;
    d->recheck_wanted &= !recheck;
    pthread_mutex_unlock(&d->mu);
    if (reload && !reload_credmap(d))
        failed = true;
    else
        reload = false;
    if (recheck && !recheck_revocations(d))
        failed = true;
    else
        recheck = false;
    if (failed)
        d->next_retry = saef_clock_after_ms(CLOCK_MONOTONIC, RECONNECT_EVERY_MS);
    if (sweep) {
        d->next_sweep = saef_clock_after_ms(CLOCK_MONOTONIC, SWEEP_EVERY_S * 1000u);
        do_sweep(d);
    }
    pthread_mutex_lock(&d->mu);
    d->reload_wanted |= reload; /* still wanted: it failed */
    d->recheck_wanted |= recheck;
}

static void *worker(void *arg)
{
    saef_rtdb_t *d = arg;
    struct timespec wake;
    job_t *j;

    pthread_mutex_lock(&d->mu);
    while (!d->stopping) {
        maintenance(d);
        if (d->head == NULL && !d->stopping) {
            clock_gettime(CLOCK_REALTIME, &wake);
            saef_ts_add_ms(&wake, RECONNECT_EVERY_MS);
            pthread_cond_timedwait(&d->cv, &d->mu, &wake);
            continue;
        }
        if (d->stopping)
            break;
        j = d->head;
        d->head = j->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->n_jobs--;
        d->current = j;
        pthread_mutex_unlock(&d->mu);
        switch (j->kind) {
        case JOB_GET:
            do_get(d, j);
            break;
        case JOB_PUT:
            do_put(d, j);
            break;
        case JOB_EVICT:
            /* A vault lookup that read the row before the revocation may have cached it. */
            (void)saef_cache_evict(d->cache, j->key_id, strlen(j->key_id));
            break;
        }
        pthread_mutex_lock(&d->mu);
        d->current = NULL;
        job_free(j);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Queue a job; SAEF_E_BUSY when the queue is full, SAEF_E_STATE when stopping.  The job is the
 * queue's on SAEF_OK, the caller's otherwise. */
static saef_rc_t push_job(saef_rtdb_t *d, job_t *j)
{
    saef_rc_t rc = SAEF_OK;

    clock_gettime(CLOCK_MONOTONIC, &j->queued);
    j->next = NULL;
    pthread_mutex_lock(&d->mu);
    if (!d->thread_running || d->stopping) {
        rc = SAEF_E_STATE;
    } else if (d->n_jobs >= WORKER_QUEUE_MAX) {
        rc = SAEF_E_BUSY;
        if (j->kind == JOB_PUT)
            d->puts_dropped++;
    } else {
        if (d->tail != NULL)
            d->tail->next = j;
        else
            d->head = j;
        d->tail = j;
        d->n_jobs++;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static job_t *job_new(job_kind_t kind, const char *key_id)
{
    job_t *j = calloc(1, sizeof(*j));

    if (j != NULL) {
        j->kind = kind;
        snprintf(j->key_id, sizeof(j->key_id), "%s", key_id);
    }
    return j;
}

/* ---------------------------------------------------------------- hooks */

static saef_rc_t store_get(void *arg, const char *key_id, saef_eb_store_done_t done, void *user)
{
    job_t *j = job_new(JOB_GET, key_id);
    saef_rc_t rc;

    if (j == NULL)
        return SAEF_E_NOMEM;
    j->done = done;
    j->user = user;
    rc = push_job(arg, j);
    if (rc != SAEF_OK)
        job_free(j);
    return rc;
}

static void store_put(void *arg, const char *key_id, const saef_cache_value_t *v)
{
    job_t *j = job_new(JOB_PUT, key_id);

    if (j == NULL)
        return;
    j->v = *v;
    if (push_job(arg, j) != SAEF_OK)
        job_free(j);
}

/* Take the done() of a lookup queued before stale (under mu): the caller answers it. */
static bool take_stale(job_t *j, const struct timespec *stale, saef_eb_store_done_t *done,
                       void **user)
{
    if (j == NULL || j->kind != JOB_GET || j->done == NULL ||
        j->queued.tv_sec > stale->tv_sec ||
        (j->queued.tv_sec == stale->tv_sec && j->queued.tv_nsec >= stale->tv_nsec))
        return false;
    *done = j->done;
    *user = j->user;
    j->done = NULL; /* the worker drops the job when it gets to it */
    return true;
}

void saef_rtdb_expire_lookups(saef_rtdb_t *d)
{
    saef_eb_store_done_t done[64];
    void *user[64];
    size_t n = 0, i;
    struct timespec stale;
    job_t *j;

    /* A lookup queued before this instant has waited GET_STALE_MS: the MAF answers it. */
    clock_gettime(CLOCK_MONOTONIC, &stale);
    stale.tv_sec -= 1;
    saef_ts_add_ms(&stale, 1000 - GET_STALE_MS);
    pthread_mutex_lock(&d->mu);
    if (take_stale(d->current, &stale, &done[n], &user[n]))
        n++;
    for (j = d->head; j != NULL && n < 64; j = j->next)
        if (take_stale(j, &stale, &done[n], &user[n]))
            n++;
    pthread_mutex_unlock(&d->mu);
    for (i = 0; i < n; i++)
        done[i](user[i], SAEF_E_NOT_FOUND, NULL);
    if (n > 0)
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "key vault: %zu lookup(s) waited more than %d ms for the database: asked the "
                 "MAF instead",
                 n, GET_STALE_MS);
}

/* Listener thread. */
static void on_event(void *ctx, saef_db_event_kind_t kind, const char *payload)
{
    saef_rtdb_t *d = ctx;
    job_t *j;

    if (kind == SAEF_DB_EVENT_REVOKED) {
        if (saef_cache_evict(d->cache, payload, strlen(payload)) == SAEF_OK)
            saef_log(d->inst, SAEF_LOG_NOTICE,
                     "key %s revoked: removed from the cache, its next handshake is refused",
                     payload);
        j = job_new(JOB_EVICT, payload);
        if (j != NULL && push_job(d, j) != SAEF_OK)
            job_free(j);
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->reload_wanted = true;
    if (kind == SAEF_DB_EVENT_RESYNC && d->kek != NULL)
        d->recheck_wanted = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

const saef_eb_store_t *saef_rtdb_store(saef_rtdb_t *d)
{
    return d != NULL && d->kek != NULL ? &d->store : NULL;
}

saef_rc_t saef_rtdb_admit_room(void *arg)
{
    saef_rtdb_t *d = arg;
    saef_rc_t rc = saef_db_writer_room(d->writer);

    return rc == SAEF_E_STATE ? SAEF_OK : rc; /* stopping: nothing more is recorded */
}

saef_rc_t saef_rtdb_admit(void *arg, const saef_eb_binding_t *b, const char *peer,
                          const char *transport)
{
    saef_rtdb_t *d = arg;
    saef_db_assoc_t a = {
        .peer_kind = b->kind,
        .peer_id = b->peer_id,
        .credential_id = b->credential_id[0] != '\0' ? b->credential_id : NULL,
        .key_id = b->key_id,
        .maf_fqdn = b->maf_fqdn,
        .transport = strcmp(transport, "tls") == 0 ? SAEF_DB_TLS : SAEF_DB_DTLS,
        .node_id = d->cfg->node_id,
        .remote_addr = peer != NULL && strcmp(peer, "-") != 0 ? peer : NULL,
        .handshake_us = saef_now_us(),
        .kc_expiry = (int64_t)b->kc_expiry.tv_sec,
    };
    saef_rc_t rc = saef_db_writer_enqueue_assoc(d->writer, &a);

    if (rc == SAEF_E_STATE)
        return SAEF_OK;
    if (rc == SAEF_E_INVALID_ARG)
        saef_log(d->inst, SAEF_LOG_ERROR,
                 "association of %s (key %s) cannot be recorded: a field fails the table's "
                 "checks", b->peer_id, b->key_id);
    return rc;
}

void saef_rtdb_audit(saef_rtdb_t *d, const saef_report_rec_t *rec)
{
    char reason[SAEF_DB_REASON_MAX];
    bool maf = strcmp(rec->transport, "maf") == 0;
    saef_db_audit_t e = {
        .at_us = rec->at_us,
        .node_id = d->cfg->node_id,
        .key_id = rec->key_id[0] != '\0' ? rec->key_id : NULL,
        .peer_addr = maf ? "maf" : (strcmp(rec->peer, "-") != 0 ? rec->peer : NULL),
        .outcome = rec->rc == SAEF_OK ? SAEF_DB_ACCEPTED : SAEF_DB_REFUSED,
        .reason_code = (int32_t)(rec->rc == SAEF_E_NEGATIVE_CACHED ? rec->cause : rec->rc),
        .reason_text = reason,
    };

    if (maf && rec->rc == SAEF_OK)
        snprintf(reason, sizeof(reason), "MAF key retrieval: key received");
    else if (rec->rc == SAEF_OK)
        snprintf(reason, sizeof(reason), "%s handshake: bound to %s %s", rec->transport,
                 saef_peer_kind_name(rec->kind), rec->peer_id);
    else
        snprintf(reason, sizeof(reason), "%s: %s%s%s", maf ? "MAF key retrieval" : rec->transport,
                 saef_strerror(rec->rc), rec->detail[0] != '\0' ? ": " : "", rec->detail);
    (void)saef_db_writer_enqueue_audit(d->writer, &e); /* a full queue drops and counts */
}

void saef_rtdb_tick(saef_rtdb_t *d)
{
    saef_db_writer_stats_t st;
    uint64_t puts_dropped;

    saef_db_writer_stats(d->writer, &st);
    if (!st.connected && st.retries > d->seen.retries && !d->reported_down) {
        d->reported_down = true;
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "database writer: database unavailable (%s); records stay queued and "
                 "handshakes continue until the queue (db_queue_size) is full",
                 st.last_error);
    } else if (st.connected && d->reported_down) {
        d->reported_down = false;
        saef_log(d->inst, SAEF_LOG_NOTICE,
                 "database writer: connected again, %llu record(s) to write",
                 (unsigned long long)(st.queued_assoc + st.queued_audit));
    }
    if (st.refused > d->seen.refused)
        saef_log(d->inst, SAEF_LOG_ERROR,
                 "database writer: queue full, %llu handshake(s) refused since the last report "
                 "(%llu in all)",
                 (unsigned long long)(st.refused - d->seen.refused),
                 (unsigned long long)st.refused);
    if (st.dropped_audit > d->seen.dropped_audit)
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "database writer: %llu audit event(s) dropped (their share of the queue is full)",
                 (unsigned long long)(st.dropped_audit - d->seen.dropped_audit));
    d->seen = st;
    pthread_mutex_lock(&d->mu);
    puts_dropped = d->puts_dropped;
    pthread_mutex_unlock(&d->mu);
    if (puts_dropped > d->puts_dropped_seen)
        saef_log(d->inst, SAEF_LOG_WARNING,
                 "key vault: %llu key(s) not stored, the vault worker's queue is full",
                 (unsigned long long)(puts_dropped - d->puts_dropped_seen));
    d->puts_dropped_seen = puts_dropped;
}

saef_db_t *saef_rtdb_admin_begin(saef_rtdb_t *d, char *err, size_t errlen)
{
    saef_rc_t rc;

    pthread_mutex_lock(&d->admin_mu);
    if (d->admin_db == NULL)
        rc = saef_db_open(d->cfg->db_conninfo, d->cfg->db_schema, &d->admin_db);
    else if (!saef_db_connected(d->admin_db))
        rc = saef_db_reconnect(d->admin_db);
    else
        return d->admin_db;
    if (rc == SAEF_OK)
        return d->admin_db;
    snprintf(err, errlen, "database unavailable: %s",
             d->admin_db != NULL ? saef_db_errmsg(d->admin_db) : saef_strerror(rc));
    pthread_mutex_unlock(&d->admin_mu);
    return NULL;
}

bool saef_rtdb_admin_retry(saef_rtdb_t *d)
{
    return connection_lost(d->admin_db) && saef_db_reconnect(d->admin_db) == SAEF_OK;
}

void saef_rtdb_admin_end(saef_rtdb_t *d)
{
    pthread_mutex_unlock(&d->admin_mu);
}

void saef_rtdb_stats(saef_rtdb_t *d, saef_db_writer_stats_t *w, saef_db_listener_stats_t *l)
{
    saef_db_writer_stats(d->writer, w);
    memset(l, 0, sizeof(*l));
    if (d->listener != NULL)
        saef_db_listener_stats(d->listener, l);
}

/* ---------------------------------------------------------------- start / stop */

static saef_rc_t open_and_migrate(saef_rtdb_t *d)
{
    saef_db_migrate_result_t mr;
    saef_rc_t rc = saef_db_open(d->cfg->db_conninfo, d->cfg->db_schema, &d->db);

    if (rc != SAEF_OK) {
        saef_log(d->inst, SAEF_LOG_ERROR, "start: database (db_conninfo): %s",
                 d->db != NULL ? saef_db_errmsg(d->db) : saef_strerror(rc));
        return rc;
    }
    rc = saef_db_migrate(d->db, &mr);
    if (rc != SAEF_OK) {
        saef_log(d->inst, SAEF_LOG_ERROR, "start: database schema %s: %s", d->cfg->db_schema,
                 saef_db_errmsg(d->db));
        return rc;
    }
    if (mr.applied > 0)
        saef_log(d->inst, SAEF_LOG_NOTICE,
                 "database schema %s migrated from version %d to %d (%d migration(s))",
                 d->cfg->db_schema, mr.from_version, mr.to_version, mr.applied);
    else
        saef_log(d->inst, SAEF_LOG_INFO, "database schema %s at version %d", d->cfg->db_schema,
                 mr.to_version);
    return SAEF_OK;
}

saef_rc_t saef_rtdb_start(saef_instance_t *inst, saef_rtdb_t **out)
{
    saef_rtdb_t *d = calloc(1, sizeof(*d));
    saef_db_writer_cfg_t wc = {0};
    saef_db_listener_cfg_t lc = {0};
    char detail[512] = "";
    saef_rc_t rc;
    int err;

    *out = NULL;
    if (d == NULL)
        return SAEF_E_NOMEM;
    d->inst = inst;
    d->cfg = inst->cfg;
    d->cache = inst->rt.cache;
    d->credmap = inst->rt.credmap;
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        free(d);
        return SAEF_E_INTERNAL;
    }
    if (pthread_cond_init(&d->cv, NULL) != 0) {
        pthread_mutex_destroy(&d->mu);
        free(d);
        return SAEF_E_INTERNAL;
    }
    if (pthread_mutex_init(&d->admin_mu, NULL) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return SAEF_E_INTERNAL;
    }
    *out = d; /* from here on saef_rtdb_free() undoes what was done */
    if (d->cfg->key_vault) {
        rc = saef_vault_kek_load(d->cfg->kek_file, &d->kek, detail, sizeof(detail));
        if (rc != SAEF_OK) {
            saef_log(inst, SAEF_LOG_ERROR, "start: kek_file: %s", detail);
            return rc;
        }
    }
    rc = open_and_migrate(d);
    if (rc != SAEF_OK)
        return rc;
    if (!reload_credmap(d))
        d->reload_wanted = true; /* the worker tries again */
    if (d->kek != NULL)
        warm_cache(d);
    wc.conninfo = d->cfg->db_conninfo;
    wc.schema = d->cfg->db_schema;
    wc.queue_size = d->cfg->db_queue_size;
    wc.linger_ms = 10;
    rc = saef_db_writer_start(&wc, &d->writer);
    if (rc != SAEF_OK) {
        saef_log(inst, SAEF_LOG_ERROR, "start: database writer: %s", saef_strerror(rc));
        return rc;
    }
    d->next_sweep = saef_clock_after_ms(CLOCK_MONOTONIC, SWEEP_EVERY_S * 1000u);
    err = pthread_create(&d->thread, NULL, worker, d);
    if (err != 0) {
        saef_log(inst, SAEF_LOG_ERROR, "start: database worker thread: %s", strerror(err));
        return SAEF_E_INTERNAL;
    }
    pthread_mutex_lock(&d->mu);
    d->thread_running = true;
    pthread_mutex_unlock(&d->mu);
    d->store.get = store_get;
    d->store.put = store_put;
    d->store.arg = d;
    lc.conninfo = d->cfg->db_conninfo;
    lc.cb = on_event;
    lc.ctx = d;
    rc = saef_db_listener_start(&lc, &d->listener);
    if (rc != SAEF_OK) {
        saef_log(inst, SAEF_LOG_ERROR, "start: database listener: %s", saef_strerror(rc));
        return rc;
    }
    saef_log(inst, SAEF_LOG_NOTICE,
             "database: node %s, schema %s, key vault %s, writer queue %u records",
             d->cfg->node_id, d->cfg->db_schema, d->kek != NULL ? "on" : "off",
             d->cfg->db_queue_size);
    return SAEF_OK;
}

void saef_rtdb_stop(saef_rtdb_t *d)
{
    saef_db_writer_stats_t st;
    job_t *j, *left;
    bool running;

    if (d == NULL)
        return;
    saef_db_listener_stop(d->listener);
    d->listener = NULL;
    pthread_mutex_lock(&d->mu);
    running = d->thread_running;
    d->stopping = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (running) {
        pthread_join(d->thread, NULL);
        pthread_mutex_lock(&d->mu);
        d->thread_running = false;
        pthread_mutex_unlock(&d->mu);
    }
    /* Nobody takes jobs any more (push_job refuses them now): lookups still waiting fail
     * (SAEF_E_STATE, never cached). */
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    left = d->head;
    d->head = d->tail = NULL;
    d->n_jobs = 0;
    pthread_mutex_unlock(&d->mu);
    while ((j = left) != NULL) {
        left = j->next;
        if (j->kind == JOB_GET && j->done != NULL)
            j->done(j->user, SAEF_E_STATE, NULL);
        job_free(j);
    }
    if (d->writer != NULL && !d->writer_stopped) {
        d->writer_stopped = true;
        if (saef_db_writer_stop(d->writer, WRITER_STOP_MS) != SAEF_OK) {
            saef_db_writer_stats(d->writer, &st);
            saef_log(d->inst, SAEF_LOG_ERROR,
                     "database writer: %llu record(s) could not be written before stop: %s",
                     (unsigned long long)st.lost, st.last_error);
        }
        saef_db_writer_stats(d->writer, &st);
        saef_log(d->inst, SAEF_LOG_INFO,
                 "database writer: %llu association(s) and %llu audit event(s) written in %llu "
                 "batch(es); %llu retries, %llu handshake(s) refused, %llu audit event(s) "
                 "dropped, %llu record(s) lost",
                 (unsigned long long)st.written_assoc, (unsigned long long)st.written_audit,
                 (unsigned long long)st.batches, (unsigned long long)st.retries,
                 (unsigned long long)st.refused, (unsigned long long)st.dropped_audit,
                 (unsigned long long)st.lost);
    }
}

void saef_rtdb_free(saef_rtdb_t *d)
{
    if (d == NULL)
        return;
    saef_rtdb_stop(d);
    saef_db_writer_free(d->writer);
    saef_db_close(d->db);
    saef_db_close(d->admin_db);
    pthread_mutex_destroy(&d->admin_mu);
    saef_vault_kek_free(d->kek);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
