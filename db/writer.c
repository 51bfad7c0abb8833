/* The database writer thread: bounded queue, batches, reconnect with back-off. */
#include "saef_db_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "saef_db_internal.h"

/* Year 10000: beyond it to_timestamp() and timestamptz arithmetic fail, which would fail the
 * whole batch; such records are refused at enqueue instead. */
#define MAX_EPOCH_S INT64_C(253402300799)

typedef struct witem {
    struct witem *next;
    union {
        saef_db_assoc_t assoc; /* strings point into data[] */
        saef_db_audit_t audit;
    } u;
    char data[];
} witem_t;

typedef struct wqueue {
    witem_t *head, *tail;
    size_t n;
    uint64_t enqueued, written; /* cumulative, for flush */
} wqueue_t;

struct saef_db_writer {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the queue became non-empty, or stop */
    pthread_cond_t wake; /* stop (interrupts back-off and linger) */
    pthread_cond_t done; /* a batch was committed (flush waits on it) */
    pthread_t thread;
    bool thread_started, accepting, stopping;
    struct timespec deadline; /* CLOCK_MONOTONIC, valid while stopping */
    wqueue_t assoc, audit;
    size_t cap, audit_cap, batch_max;
    uint32_t linger_ms;
    saef_db_writer_stats_t st; /* queued_* derived from the queues on read */
    /* writer thread only */
    char *conninfo;
    char schema[SAEF_DB_SCHEMA_MAX];
    saef_db_t *db;
    db_backoff_t backoff;
};

static void now_plus(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool passed(const struct timespec *ts)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

static const struct timespec *earlier(const struct timespec *a, const struct timespec *b)
{
    return (a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec)) ? a : b;
}

/* ---------------------------------------------------------------- records */

/* Copy at most max bytes of s to *dst and return where it went (NULL stays NULL). */
static const char *put_str(char **dst, const char *s, size_t max)
{
    char *p = *dst;
    size_t n;

    if (s == NULL)
        return NULL;
    n = strnlen(s, max);
    memcpy(p, s, n);
    p[n] = '\0';
    *dst = p + n + 1;
    return p;
}

static size_t str_size(const char *s, size_t max)
{
    return s != NULL ? strnlen(s, max) + 1 : 0;
}

static witem_t *copy_assoc(const saef_db_assoc_t *a)
{
    size_t size = str_size(a->peer_id, SAEF_ID_MAX) + str_size(a->credential_id, SAEF_ID_MAX) +
                  str_size(a->key_id, SAEF_ID_MAX) + str_size(a->maf_fqdn, SAEF_FQDN_MAX) +
                  str_size(a->node_id, SAEF_DB_NAME_MAX) +
                  str_size(a->remote_addr, SAEF_DB_ADDR_MAX);
    witem_t *it = malloc(sizeof(*it) + size);
    char *p;

    if (it == NULL)
        return NULL;
    it->next = NULL;
    it->u.assoc = *a;
    p = it->data;
    it->u.assoc.peer_id = put_str(&p, a->peer_id, SAEF_ID_MAX);
    it->u.assoc.credential_id = put_str(&p, a->credential_id, SAEF_ID_MAX);
    it->u.assoc.key_id = put_str(&p, a->key_id, SAEF_ID_MAX);
    it->u.assoc.maf_fqdn = put_str(&p, a->maf_fqdn, SAEF_FQDN_MAX);
    it->u.assoc.node_id = put_str(&p, a->node_id, SAEF_DB_NAME_MAX);
    it->u.assoc.remote_addr = put_str(&p, a->remote_addr, SAEF_DB_ADDR_MAX);
    return it;
}

/* Audit strings are cut here to what the store keeps, which bounds the memory of a queued
 * event whatever a peer sent. */
static witem_t *copy_audit(const saef_db_audit_t *e)
{
    size_t size = str_size(e->node_id, SAEF_DB_NAME_MAX) + str_size(e->key_id, SAEF_ID_MAX - 1) +
                  str_size(e->peer_addr, SAEF_DB_ADDR_MAX - 1) +
                  str_size(e->reason_text, SAEF_DB_REASON_MAX - 1);
    witem_t *it = malloc(sizeof(*it) + size);
    char *p;

    if (it == NULL)
        return NULL;
    it->next = NULL;
    it->u.audit = *e;
    p = it->data;
    it->u.audit.node_id = put_str(&p, e->node_id, SAEF_DB_NAME_MAX);
    it->u.audit.key_id = put_str(&p, e->key_id, SAEF_ID_MAX - 1);
    it->u.audit.peer_addr = put_str(&p, e->peer_addr, SAEF_DB_ADDR_MAX - 1);
    it->u.audit.reason_text = put_str(&p, e->reason_text, SAEF_DB_REASON_MAX - 1);
    return it;
}

static void push(wqueue_t *q, witem_t *it)
{
    if (q->tail != NULL)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    q->enqueued++;
}

/* Remove the first n records (only the writer thread removes, so they are the ones it
 * wrote). */
static void pop(wqueue_t *q, size_t n)
{
    while (n-- > 0 && q->head != NULL) {
        witem_t *it = q->head;

        q->head = it->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
        q->written++;
        free(it);
    }
}

static void free_all(wqueue_t *q)
{
    while (q->head != NULL) {
        witem_t *it = q->head;

        q->head = it->next;
        free(it);
    }
    q->tail = NULL;
    q->n = 0;
}

static saef_rc_t enqueue(saef_db_writer_t *w, witem_t *it, bool is_audit)
{
    saef_rc_t rc = SAEF_OK;
    bool was_empty;

    pthread_mutex_lock(&w->mu);
    was_empty = w->assoc.n + w->audit.n == 0;
    if (!w->accepting) {
        rc = SAEF_E_STATE;
    } else if (w->assoc.n + w->audit.n >= w->cap || (is_audit && w->audit.n >= w->audit_cap)) {
        rc = SAEF_E_BUSY;
        if (is_audit)
            w->st.dropped_audit++;
        else
            w->st.refused++;
    } else {
        push(is_audit ? &w->audit : &w->assoc, it);
        /* The writer sleeps only on an empty queue, or lingers until a batch is full. */
        if (was_empty || (is_audit ? w->audit.n : w->assoc.n) == w->batch_max)
            pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != SAEF_OK)
        free(it);
    return rc;
}

saef_rc_t saef_db_writer_room(saef_db_writer_t *w)
{
    saef_rc_t rc = SAEF_OK;

    if (w == NULL)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&w->mu);
    if (!w->accepting) {
        rc = SAEF_E_STATE;
    } else if (w->assoc.n + w->audit.n >= w->cap) {
        rc = SAEF_E_BUSY;
        w->st.refused++;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

saef_rc_t saef_db_writer_enqueue_assoc(saef_db_writer_t *w, const saef_db_assoc_t *a)
{
    witem_t *it;

    if (w == NULL || saef_db_assoc_check(a) != SAEF_OK || a->kc_expiry <= 0 ||
        a->kc_expiry > MAX_EPOCH_S || a->handshake_us / 1000000 > MAX_EPOCH_S)
        return SAEF_E_INVALID_ARG;
    it = copy_assoc(a);
    if (it == NULL)
        return SAEF_E_NOMEM;
    return enqueue(w, it, false);
}

saef_rc_t saef_db_writer_enqueue_audit(saef_db_writer_t *w, const saef_db_audit_t *e)
{
    witem_t *it;

    if (w == NULL || e == NULL || !db_text_ok(e->node_id, SAEF_DB_NAME_MAX - 1, false) ||
        (e->outcome != SAEF_DB_ACCEPTED && e->outcome != SAEF_DB_REFUSED) || e->at_us <= 0 ||
        e->at_us / 1000000 > MAX_EPOCH_S)
        return SAEF_E_INVALID_ARG;
    it = copy_audit(e);
    if (it == NULL)
        return SAEF_E_NOMEM;
    return enqueue(w, it, true);
}

/* ---------------------------------------------------------------- the thread */

static void set_error(saef_db_writer_t *w, const char *what)
{
    pthread_mutex_lock(&w->mu);
    snprintf(w->st.last_error, sizeof(w->st.last_error), "%s: %s", what,
             w->db != NULL ? saef_db_errmsg(w->db) : "out of memory");
    w->st.retries++;
    w->st.connected = saef_db_connected(w->db);
    pthread_mutex_unlock(&w->mu);
}

/* Sleep for the next back-off step; stop interrupts it, and while stopping it never sleeps
 * past the deadline.  Called with the lock held. */
static void backoff_wait(saef_db_writer_t *w)
{
    struct timespec until;

    now_plus(&until, db_backoff_next(&w->backoff));
    while (!passed(&until)) {
        const struct timespec *t = w->stopping ? earlier(&until, &w->deadline) : &until;

        if (w->stopping && passed(&w->deadline))
            return;
        if (pthread_cond_timedwait(&w->wake, &w->mu, t) == ETIMEDOUT && t == &until)
            return;
    }
}

static bool ensure_connected(saef_db_writer_t *w)
{
    saef_rc_t rc;

    if (saef_db_connected(w->db))
        return true;
    if (w->db == NULL)
        rc = saef_db_open(w->conninfo, w->schema, &w->db);
    else
        rc = saef_db_reconnect(w->db);
    if (rc != SAEF_OK) {
        set_error(w, "connect");
        return false;
    }
    pthread_mutex_lock(&w->mu);
    w->st.connected = true;
    pthread_mutex_unlock(&w->mu);
    return true;
}

/* Write up to batch_max records of each kind from the queue heads in one transaction. */
static saef_rc_t write_batch(saef_db_writer_t *w, size_t *na, size_t *nu)
{
    saef_db_assoc_t *as = NULL;
    saef_db_audit_t *us = NULL;
    witem_t *it;
    size_t i;
    saef_rc_t rc;

    pthread_mutex_lock(&w->mu);
    *na = w->assoc.n < w->batch_max ? w->assoc.n : w->batch_max;
    *nu = w->audit.n < w->batch_max ? w->audit.n : w->batch_max;
    /* The records stay queued (only this thread removes them), so the pointers below remain
     * valid without the lock; enqueue only appends behind them. */
    it = w->assoc.head;
    pthread_mutex_unlock(&w->mu);
    as = *na > 0 ? malloc(*na * sizeof(*as)) : NULL;
    us = *nu > 0 ? malloc(*nu * sizeof(*us)) : NULL;
    if ((*na > 0 && as == NULL) || (*nu > 0 && us == NULL)) {
        free(as);
        free(us);
        return SAEF_E_NOMEM;
    }
    /* it->next of the last record taken is not read: enqueue may be writing it. */
    for (i = 0; i < *na; i++) {
        as[i] = it->u.assoc;
        if (i + 1 < *na)
            it = it->next;
    }
    pthread_mutex_lock(&w->mu);
    it = w->audit.head;
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < *nu; i++) {
        us[i] = it->u.audit;
        if (i + 1 < *nu)
            it = it->next;
    }
    rc = saef_db_begin(w->db);
    if (rc == SAEF_OK && *na > 0)
        rc = saef_db_assoc_upsert(w->db, as, *na);
    if (rc == SAEF_OK && *nu > 0)
        rc = saef_db_audit_insert(w->db, us, *nu);
    if (rc == SAEF_OK)
        rc = saef_db_commit(w->db);
    else
        saef_db_rollback(w->db);
    free(as);
    free(us);
    return rc;
}

static void *writer_main(void *arg)
{
    saef_db_writer_t *w = arg;
    struct timespec until;
    size_t na, nu;
    saef_rc_t rc;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->assoc.n + w->audit.n == 0 && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->assoc.n + w->audit.n == 0 || (w->stopping && passed(&w->deadline)))
            break;
        /* Linger so that a trickle of handshakes becomes one batch, not one transaction per
         * handshake; a full batch or stop ends it early. */
        if (w->linger_ms > 0 && !w->stopping && w->assoc.n < w->batch_max &&
            w->audit.n < w->batch_max) {
            now_plus(&until, w->linger_ms);
            while (!w->stopping && w->assoc.n < w->batch_max && w->audit.n < w->batch_max &&
                   pthread_cond_timedwait(&w->work, &w->mu, &until) != ETIMEDOUT)
                ;
        }
        pthread_mutex_unlock(&w->mu);
        if (!ensure_connected(w)) {
            pthread_mutex_lock(&w->mu);
            backoff_wait(w);
            continue;
        }
        rc = write_batch(w, &na, &nu);
        pthread_mutex_lock(&w->mu);
        if (rc == SAEF_OK) {
            pop(&w->assoc, na);
            pop(&w->audit, nu);
            w->st.written_assoc += na;
            w->st.written_audit += nu;
            w->st.batches++;
            db_backoff_reset(&w->backoff);
            pthread_cond_broadcast(&w->done);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        set_error(w, "write batch");
        /* A retryable failure may have left a half-dead connection: start afresh. */
        if (saef_db_errclass(w->db) == SAEF_DB_ERR_RETRY)
            db_disconnect(w->db);
        pthread_mutex_lock(&w->mu);
        backoff_wait(w);
    }
    w->st.lost += w->assoc.n + w->audit.n;
    free_all(&w->assoc);
    free_all(&w->audit);
    w->st.connected = false;
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
    saef_db_close(w->db);
    w->db = NULL;
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static void destroy(saef_db_writer_t *w)
{
    free_all(&w->assoc);
    free_all(&w->audit);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    free(w->conninfo);
    free(w);
}

static bool init_cond(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    bool ok;

    if (pthread_condattr_init(&attr) != 0)
        return false;
    ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(c, &attr) == 0;
    pthread_condattr_destroy(&attr);
    return ok;
}

saef_rc_t saef_db_writer_start(const saef_db_writer_cfg_t *cfg, saef_db_writer_t **out)
{
    saef_db_writer_t *w;

    if (cfg == NULL || out == NULL || cfg->queue_size < 2 ||
        saef_db_schema_check(cfg->schema != NULL ? cfg->schema : "saef") != SAEF_OK)
        return SAEF_E_INVALID_ARG;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return SAEF_E_NOMEM;
    w->conninfo = strdup(cfg->conninfo != NULL ? cfg->conninfo : "");
    snprintf(w->schema, sizeof(w->schema), "%s", cfg->schema != NULL ? cfg->schema : "saef");
    w->cap = cfg->queue_size;
    w->audit_cap = cfg->queue_size / 2;
    w->batch_max = cfg->batch_max > 0 ? cfg->batch_max : 512;
    w->linger_ms = cfg->linger_ms;
    db_backoff_init(&w->backoff, cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 100,
                    cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 5000, db_backoff_seed(w));
    if (w->conninfo == NULL || pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w->conninfo);
        free(w);
        return SAEF_E_NOMEM;
    }
    if (!init_cond(&w->work) || !init_cond(&w->wake) || !init_cond(&w->done)) {
        /* pthread_cond_destroy of a condition that was never initialised is undefined, so
         * this path leaks at most the attributes of the ones that were; it only happens when
         * the C library is out of resources. */
        pthread_mutex_destroy(&w->mu);
        free(w->conninfo);
        free(w);
        return SAEF_E_INTERNAL;
    }
    w->accepting = true;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        destroy(w);
        return SAEF_E_INTERNAL;
    }
    w->thread_started = true;
    *out = w;
    return SAEF_OK;
}

void saef_db_writer_stats(saef_db_writer_t *w, saef_db_writer_stats_t *out)
{
    if (w == NULL || out == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->queued_assoc = w->assoc.n;
    out->queued_audit = w->audit.n;
    pthread_mutex_unlock(&w->mu);
}

saef_rc_t saef_db_writer_flush(saef_db_writer_t *w, uint32_t timeout_ms)
{
    struct timespec until;
    uint64_t ta, tu;
    saef_rc_t rc = SAEF_OK;

    if (w == NULL)
        return SAEF_E_INVALID_ARG;
    now_plus(&until, timeout_ms);
    pthread_mutex_lock(&w->mu);
    ta = w->assoc.enqueued;
    tu = w->audit.enqueued;
    while (w->assoc.written < ta || w->audit.written < tu) {
        if (!w->thread_started || pthread_cond_timedwait(&w->done, &w->mu, &until) == ETIMEDOUT) {
            rc = (w->assoc.written < ta || w->audit.written < tu) ? SAEF_E_TIMEOUT : SAEF_OK;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

saef_rc_t saef_db_writer_stop(saef_db_writer_t *w, uint32_t deadline_ms)
{
    saef_rc_t rc;

    if (w == NULL)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&w->mu);
    w->accepting = false;
    if (!w->stopping) {
        w->stopping = true;
        now_plus(&w->deadline, deadline_ms);
    }
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
    if (w->thread_started) {
        pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    pthread_mutex_lock(&w->mu);
    rc = w->st.lost > 0 ? SAEF_E_TIMEOUT : SAEF_OK;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void saef_db_writer_free(saef_db_writer_t *w)
{
    if (w == NULL)
        return;
    saef_db_writer_stop(w, 0);
    destroy(w);
}
