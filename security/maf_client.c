/*
 * The generic MAF client: configuration copies, bounds, single flight, circuit breakers, the
 * worker thread, completion delivery and the registration schedule.  It knows nothing of HTTP:
 * the wire is the binding's (saef_maf_binding_ops_t), so another binding is another file.
 *
 * Locking: one mutex per client guards everything below except the binding, which only the
 * worker thread touches (wakeup() excepted).  Callbacks run on the worker thread without the
 * mutex.  Submissions fail fast: nothing here ever waits for the network under the mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "saef_maf_internal.h"

#define TICK_MS 1000 /* longest sleep of the worker: registration timers need no finer grain */

typedef struct done_node {
    struct done_node *next;
    saef_maf_result_t res; /* owned, secret */
} done_node_t;

struct saef_maf_waiter {
    saef_maf_waiter_t *next;
    uint64_t ticket;
    saef_maf_done_fn done; /* NULL: result goes to the completion queue */
    void *user;            /* borrowed */
    bool coalesced;        /* counted in client->coalesced */
    /* owned, done == NULL only: allocated at submission, so that completing never allocates
     * and a result can never be lost for want of memory */
    done_node_t *node;
};

static void free_waiter(saef_maf_waiter_t *w)
{
    if (w != NULL) {
        free(w->node);
        free(w);
    }
}

typedef struct ep_state {
    saef_maf_breaker_t breaker;
    saef_maf_stats_t stats;
    saef_maf_reg_t reg;
} ep_state_t;

struct saef_maf_client {
    const saef_maf_binding_ops_t *ops;
    void *binding;            /* owned */
    saef_maf_endpoint_t *cfg; /* owned: deep copies of the caller's endpoints */
    ep_state_t *st;           /* owned, one per endpoint */
    size_t n;
    char *origin; /* owned, may be NULL */
    uint32_t max_inflight, max_waiters;
    uint32_t inflight, coalesced; /* current counts */

    pthread_mutex_t mu;
    pthread_cond_t delivered; /* a callback returned */
    pthread_t worker;
    bool worker_started;
    bool stopping;

    saef_maf_op_t **table; /* owned array: in-flight retrievals by (endpoint, rel) */
    size_t table_mask;
    saef_maf_op_t *subq_head, *subq_tail; /* submitted, not yet started */
    saef_maf_op_t *completing;            /* op whose waiters are being delivered */
    done_node_t *cq_head, *cq_tail;       /* completion queue (owned nodes) */
    int efd;                              /* owned eventfd */
    uint64_t next_ticket;
    uint64_t delivering; /* ticket whose callback runs now, 0 = none */
};

uint64_t saef_maf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- single-flight table ------------------------------------------------------------------ */

static size_t slot_of(const saef_maf_client_t *c, size_t ep, const char *rel, size_t len)
{
    /* FNV-1a.  Peers choose RelativeKeyIDs and so can collide on purpose, but the table never
     * holds more than max_inflight entries, which bounds any chain. */
    uint64_t h = 1469598103934665603ull ^ ep;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)rel[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29)) & c->table_mask;
}

static saef_maf_op_t *table_find(saef_maf_client_t *c, size_t ep, const char *rel, size_t len)
{
    for (saef_maf_op_t *op = c->table[slot_of(c, ep, rel, len)]; op != NULL; op = op->hash_next) {
        if (op->ep == ep && op->rel_len == len && memcmp(op->rel, rel, len) == 0)
            return op;
    }
    return NULL;
}

static void table_remove(saef_maf_client_t *c, saef_maf_op_t *op)
{
    saef_maf_op_t **pp = &c->table[slot_of(c, op->ep, op->rel, op->rel_len)];
    for (; *pp != NULL; pp = &(*pp)->hash_next) {
        if (*pp == op) {
            *pp = op->hash_next;
            op->hash_next = NULL;
            return;
        }
    }
}

static void free_op(saef_maf_op_t *op)
{
    if (op != NULL) {
        OPENSSL_cleanse(op, sizeof(*op));
        free(op);
    }
}

/* ---- completion --------------------------------------------------------------------------- */

static void fill_result(const saef_maf_op_t *op, const saef_maf_waiter_t *w, saef_maf_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->ticket = w->ticket;
    res->user = w->user;
    res->endpoint = op->ep;
    memcpy(res->relative_key_id, op->rel, op->rel_len);
    res->rc = op->rc;
    res->rsc = op->rsc;
    res->http_status = op->http_status;
    res->unavailable =
        saef_maf_outcome_of(op->rc, op->rsc, op->http_status) == SAEF_MAF_OUTCOME_UNAVAILABLE;
    memcpy(res->detail, op->detail, sizeof(res->detail));
    if (op->rc == SAEF_OK)
        res->key = op->key;
}

static void notify_fd(saef_maf_client_t *c)
{
    uint64_t one = 1;
    /* The counter only saturates after 2^64-2 writes; EAGAIN cannot happen in practice and the
     * queue, not the counter, carries the results. */
    ssize_t w = write(c->efd, &one, sizeof(one));
    (void)w;
}

static void count_outcome(saef_maf_stats_t *s, const saef_maf_op_t *op)
{
    s->requests++;
    switch (op->rc) {
    case SAEF_OK:
        s->keys++;
        break;
    case SAEF_E_MAF_REFUSED:
        s->refused++;
        break;
    case SAEF_E_MAF_AUTH:
        s->auth_failures++;
        break;
    default:
        if (saef_maf_outcome_of(op->rc, op->rsc, op->http_status) == SAEF_MAF_OUTCOME_UNAVAILABLE)
            s->unavailable++;
        else if (op->rc != SAEF_E_STATE)
            s->invalid++;
        break;
    }
}

static void complete_registration(saef_maf_client_t *c, saef_maf_op_t *op)
{
    pthread_mutex_lock(&c->mu);
    ep_state_t *st = &c->st[op->ep];
    st->stats.connects += (uint64_t)(op->connects > 0 ? op->connects : 0);
    /* The MAF should know us by our CSE-ID in both modes (in PSK mode through its record for
     * our KmID, 3.3); anything else means retrievals will be refused with 4103 (6.2). */
    saef_maf_reg_done(&st->reg, time(NULL), op->rc, op->rsc, op->rc == SAEF_OK ? &op->reg : NULL,
                      c->origin, op->detail);
    pthread_mutex_unlock(&c->mu);
    free_op(op);
}

/* Called by the binding on the worker thread. */
static void complete_op(void *ctx, saef_maf_op_t *op)
{
    saef_maf_client_t *c = ctx;

    if (op->kind != SAEF_MAF_OP_RETRIEVE) {
        complete_registration(c, op);
        return;
    }
    uint64_t now = saef_maf_now_ms();
    pthread_mutex_lock(&c->mu);
    ep_state_t *st = &c->st[op->ep];
    table_remove(c, op);
    c->inflight--;
    st->stats.inflight--;
    count_outcome(&st->stats, op);
    st->stats.connects += (uint64_t)(op->connects > 0 ? op->connects : 0);
    st->stats.last_latency_us = (now - op->submitted_ms) * 1000u;
    saef_maf_breaker_record(&st->breaker, now,
                            saef_maf_outcome_of(op->rc, op->rsc, op->http_status), op->probe);
    st->stats.breaker = st->breaker.state;
    st->stats.breaker_trips = st->breaker.trips;

    /* Deliver one waiter at a time, so that saef_maf_cancel() can always tell where a ticket
     * is: still attached, running (delivering), or gone. */
    c->completing = op;
    saef_maf_waiter_t *w;
    while ((w = op->waiters) != NULL) {
        op->waiters = w->next;
        if (w->coalesced)
            c->coalesced--;
        if (w->done == NULL) {
            done_node_t *node = w->node;
            w->node = NULL;
            fill_result(op, w, &node->res);
            node->next = NULL;
            if (c->cq_tail != NULL)
                c->cq_tail->next = node;
            else
                c->cq_head = node;
            c->cq_tail = node;
            notify_fd(c);
            free_waiter(w);
            continue;
        }
        c->delivering = w->ticket;
        pthread_mutex_unlock(&c->mu);
        /* On the worker's stack: no allocation can fail between a result and its delivery. */
        saef_maf_result_t res;
        fill_result(op, w, &res);
        w->done(w->user, &res);
        saef_maf_result_clear(&res);
        pthread_mutex_lock(&c->mu);
        c->delivering = 0;
        pthread_cond_broadcast(&c->delivered);
        free_waiter(w);
    }
    c->completing = NULL;
    pthread_mutex_unlock(&c->mu);
    free_op(op);
}

/* ---- worker ------------------------------------------------------------------------------- */

static saef_maf_op_t *new_reg_op(saef_maf_client_t *c, size_t ep, saef_maf_reg_action_t act,
                                 time_t proposed)
{
    saef_maf_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->kind = act == SAEF_MAF_REG_ACT_UPDATE ? SAEF_MAF_OP_REREGISTER : SAEF_MAF_OP_REGISTER;
    op->ep = ep;
    op->proposed_expiry = proposed;
    snprintf(op->reg_id, sizeof(op->reg_id), "%s", c->st[ep].reg.view.reg_id);
    op->submitted_ms = saef_maf_now_ms();
    op->deadline_ms = op->submitted_ms + c->cfg[ep].request_timeout_ms;
    return op;
}

/* Under the mutex: registrations due now, and how long the worker may sleep. */
static saef_maf_op_t *registrations_due(saef_maf_client_t *c, int *sleep_ms)
{
    saef_maf_op_t *list = NULL;
    time_t now = time(NULL);
    int64_t wait_s = TICK_MS / 1000;

    for (size_t i = 0; i < c->n; i++) {
        time_t proposed;
        saef_maf_reg_action_t act = saef_maf_reg_due(&c->st[i].reg, now, &proposed);
        if (act != SAEF_MAF_REG_ACT_NONE) {
            saef_maf_op_t *op = new_reg_op(c, i, act, proposed);
            if (op == NULL) {
                saef_maf_reg_done(&c->st[i].reg, now, SAEF_E_NOMEM, 0, NULL, NULL,
                                  "no memory for the registration request");
                continue;
            }
            op->queue_next = list;
            list = op;
        }
        int64_t w = saef_maf_reg_wait_s(&c->st[i].reg, now);
        if (w < wait_s)
            wait_s = w;
    }
    *sleep_ms = (int)(wait_s * 1000 < TICK_MS ? wait_s * 1000 : TICK_MS);
    return list;
}

static void *worker_main(void *arg)
{
    saef_maf_client_t *c = arg;

    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        saef_maf_op_t *subs = c->subq_head;
        c->subq_head = c->subq_tail = NULL;
        int sleep_ms;
        saef_maf_op_t *regs = registrations_due(c, &sleep_ms);
        pthread_mutex_unlock(&c->mu);

        while (subs != NULL) {
            saef_maf_op_t *op = subs;
            subs = op->queue_next;
            op->queue_next = NULL;
            c->ops->start(c->binding, op);
        }
        while (regs != NULL) {
            saef_maf_op_t *op = regs;
            regs = op->queue_next;
            op->queue_next = NULL;
            c->ops->start(c->binding, op);
        }
        c->ops->run(c->binding, sleep_ms);
        pthread_mutex_lock(&c->mu);
    }
    /* Shutting down: whatever was submitted but never started fails like what is in flight. */
    saef_maf_op_t *subs = c->subq_head;
    c->subq_head = c->subq_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    c->ops->cancel_all(c->binding, SAEF_E_STATE, "MAF client shutting down");
    while (subs != NULL) {
        saef_maf_op_t *op = subs;
        subs = op->queue_next;
        op->rc = SAEF_E_STATE;
        saef_maf_detail(op->rc, op->detail, sizeof(op->detail), "MAF client shutting down");
        complete_op(c, op);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void client_destroy(saef_maf_client_t *c)
{
    if (c->binding != NULL)
        c->ops->destroy(c->binding);
    for (done_node_t *d = c->cq_head; d != NULL;) {
        done_node_t *next = d->next;
        saef_maf_result_clear(&d->res);
        free(d);
        d = next;
    }
    if (c->cfg != NULL) {
        for (size_t i = 0; i < c->n; i++)
            saef_maf_endpoint_free(&c->cfg[i]);
    }
    free(c->cfg);
    free(c->st);
    free(c->table);
    free(c->origin);
    if (c->efd >= 0)
        close(c->efd);
    pthread_cond_destroy(&c->delivered);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

saef_rc_t saef_maf_client_new_with(const saef_maf_binding_ops_t *ops,
                                   const saef_maf_endpoint_t *eps, size_t n,
                                   const saef_maf_client_params_t *params, saef_maf_client_t **out,
                                   char *detail, size_t detail_len)
{
    saef_rc_t rc;

    if (out != NULL)
        *out = NULL;
    if (ops == NULL || eps == NULL || params == NULL || out == NULL || n == 0 ||
        n > SAEF_MAF_MAX_ENDPOINTS)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "need 1..%d MAF endpoints and the client parameters",
                               SAEF_MAF_MAX_ENDPOINTS);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        rc = saef_maf_endpoint_check(&eps[i], params->origin, detail, detail_len);
        if (rc != SAEF_OK)
            return rc;
        for (size_t k = 0; k < i; k++) {
            if (saef_id_fqdn_equal(eps[i].fqdn, strlen(eps[i].fqdn), eps[k].fqdn,
                                   strlen(eps[k].fqdn)))
                return saef_maf_detail(SAEF_E_CFG_DUPLICATE, detail, detail_len,
                                       "MAF %s configured twice", eps[i].fqdn);
        }
        sum += eps[i].max_inflight;
    }
    if (params->max_inflight > SAEF_MAF_INFLIGHT_LIMIT)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "client max_inflight above %u", SAEF_MAF_INFLIGHT_LIMIT);

    saef_maf_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating the client");
    c->efd = -1;
    c->ops = ops;
    c->n = n;
    c->next_ticket = 1;
    c->max_inflight =
        params->max_inflight != 0
            ? params->max_inflight
            : (uint32_t)(sum < SAEF_MAF_INFLIGHT_LIMIT ? sum : SAEF_MAF_INFLIGHT_LIMIT);
    c->max_waiters = params->max_waiters != 0 ? params->max_waiters : 8u * c->max_inflight;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->delivered, NULL);

    size_t slots = 16;
    while (slots < 2u * (size_t)c->max_inflight)
        slots <<= 1;
    c->table = calloc(slots, sizeof(*c->table));
    c->table_mask = slots - 1;
    c->cfg = calloc(n, sizeof(*c->cfg));
    c->st = calloc(n, sizeof(*c->st));
    rc = c->table != NULL && c->cfg != NULL && c->st != NULL ? SAEF_OK : SAEF_E_NOMEM;
    if (rc == SAEF_OK && params->origin != NULL && (c->origin = strdup(params->origin)) == NULL)
        rc = SAEF_E_NOMEM;
    time_t now = time(NULL);
    for (size_t i = 0; i < n && rc == SAEF_OK; i++) {
        rc = saef_maf_endpoint_copy(&eps[i], &c->cfg[i]);
        saef_maf_breaker_init(&c->st[i].breaker, eps[i].breaker_threshold,
                              eps[i].breaker_cooldown_ms);
        saef_maf_reg_init(&c->st[i].reg, eps[i].register_client, eps[i].registration_lifetime_s,
                          now);
    }
    if (rc != SAEF_OK) {
        client_destroy(c);
        return saef_maf_detail(rc, detail, detail_len, "allocating the client");
    }
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        client_destroy(c);
        return saef_maf_detail(SAEF_E_INTERNAL, detail, detail_len, "eventfd: %s", strerror(errno));
    }
    saef_maf_binding_env_t env = {
        .eps = c->cfg, .n_eps = n, .origin = c->origin, .complete = complete_op, .ctx = c};
    rc = ops->create(&env, &c->binding, detail, detail_len);
    if (rc != SAEF_OK) {
        c->binding = NULL;
        client_destroy(c);
        return rc;
    }
    int err = pthread_create(&c->worker, NULL, worker_main, c);
    if (err != 0) {
        client_destroy(c);
        return saef_maf_detail(SAEF_E_INTERNAL, detail, detail_len, "starting the worker: %s",
                               strerror(err));
    }
    c->worker_started = true;
    *out = c;
    return saef_maf_detail(SAEF_OK, detail, detail_len, "ok");
}

saef_rc_t saef_maf_client_new(const saef_maf_endpoint_t *eps, size_t n,
                              const saef_maf_client_params_t *params, saef_maf_client_t **out,
                              char *detail, size_t detail_len)
{
    return saef_maf_client_new_with(&saef_maf_http_binding, eps, n, params, out, detail,
                                    detail_len);
}

void saef_maf_client_free(saef_maf_client_t *c)
{
    if (c == NULL)
        return;
    if (c->worker_started) {
        pthread_mutex_lock(&c->mu);
        c->stopping = true;
        pthread_mutex_unlock(&c->mu);
        c->ops->wakeup(c->binding);
        pthread_join(c->worker, NULL);
    }
    client_destroy(c);
}

size_t saef_maf_client_count(const saef_maf_client_t *c)
{
    return c != NULL ? c->n : 0;
}

saef_rc_t saef_maf_client_find(const saef_maf_client_t *c, const char *fqdn, size_t len,
                               size_t *index)
{
    if (c == NULL || (fqdn == NULL && len > 0) || index == NULL)
        return SAEF_E_INVALID_ARG;
    for (size_t i = 0; i < c->n; i++) {
        if (saef_id_fqdn_equal(c->cfg[i].fqdn, strlen(c->cfg[i].fqdn), fqdn, len)) {
            *index = i;
            return SAEF_OK;
        }
    }
    return SAEF_E_MAF_UNKNOWN;
}

/* ---- submission --------------------------------------------------------------------------- */

saef_rc_t saef_maf_retrieve_submit(saef_maf_client_t *c, size_t endpoint, const char *rel,
                                   size_t rel_len, saef_maf_done_fn done, void *user,
                                   uint64_t *ticket, char *detail, size_t detail_len)
{
    char keyid[SAEF_ID_IDENTITY_MAX + 1];
    saef_rc_t rc;

    if (ticket != NULL)
        *ticket = 0;
    if (c == NULL || endpoint >= c->n || (rel == NULL && rel_len > 0))
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "bad argument");
    const saef_maf_endpoint_t *e = &c->cfg[endpoint];
    /* The Key Identifier must be valid as a whole, so that a RelativeKeyID too long for this
     * MAF-FQDN is refused here and not by the MAF. */
    rc = saef_id_scoped_format(rel, rel_len, e->fqdn, strlen(e->fqdn), keyid, sizeof(keyid));
    if (rc != SAEF_OK)
        return saef_maf_detail(rc, detail, detail_len, "RelativeKeyID for %s: %s", e->fqdn,
                               saef_strerror(rc));

    saef_maf_waiter_t *w = calloc(1, sizeof(*w));
    if (w != NULL && done == NULL && (w->node = calloc(1, sizeof(*w->node))) == NULL) {
        free(w);
        w = NULL;
    }
    if (w == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating a waiter");
    w->done = done;
    w->user = user;

    pthread_mutex_lock(&c->mu);
    ep_state_t *st = &c->st[endpoint];
    saef_maf_op_t *op = NULL;
    if (c->stopping) {
        rc = saef_maf_detail(SAEF_E_STATE, detail, detail_len, "MAF client shutting down");
        goto fail;
    }
    op = table_find(c, endpoint, rel, rel_len);
    if (op != NULL) {
        if (c->coalesced >= c->max_waiters) {
            st->stats.rejected_busy++;
            rc =
                saef_maf_detail(SAEF_E_BUSY, detail, detail_len,
                                "%u submissions already wait for running retrievals", c->coalesced);
            goto fail;
        }
        w->coalesced = true;
        c->coalesced++;
        st->stats.coalesced++;
    } else {
        if (st->stats.inflight >= e->max_inflight || c->inflight >= c->max_inflight) {
            st->stats.rejected_busy++;
            rc = saef_maf_detail(SAEF_E_BUSY, detail, detail_len,
                                 "%u retrievals in flight to %s (max %u), %u in all (max %u)",
                                 st->stats.inflight, e->fqdn, e->max_inflight, c->inflight,
                                 c->max_inflight);
            goto fail;
        }
        uint64_t now = saef_maf_now_ms();
        bool probe;
        if (saef_maf_breaker_admit(&st->breaker, now, &probe) != SAEF_OK) {
            st->stats.rejected_breaker++;
            st->stats.breaker = st->breaker.state;
            rc = saef_maf_detail(SAEF_E_MAF_CIRCUIT_OPEN, detail, detail_len,
                                 "circuit breaker of %s is %s", e->fqdn,
                                 saef_maf_breaker_state_name(st->breaker.state));
            goto fail;
        }
        st->stats.breaker = st->breaker.state;
        op = calloc(1, sizeof(*op));
        if (op == NULL) {
            /* Give the probe slot back, or the breaker would wait for a probe that never
             * went out. */
            saef_maf_breaker_record(&st->breaker, now, SAEF_MAF_OUTCOME_ABORTED, probe);
            rc = saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating a request");
            goto fail;
        }
        op->kind = SAEF_MAF_OP_RETRIEVE;
        op->ep = endpoint;
        memcpy(op->rel, rel, rel_len);
        op->rel_len = rel_len;
        op->submitted_ms = now;
        op->deadline_ms = now + e->request_timeout_ms;
        op->probe = probe;
        size_t slot = slot_of(c, endpoint, rel, rel_len);
        op->hash_next = c->table[slot];
        c->table[slot] = op;
        if (c->subq_tail != NULL)
            c->subq_tail->queue_next = op;
        else
            c->subq_head = op;
        c->subq_tail = op;
        c->inflight++;
        st->stats.inflight++;
    }
    w->ticket = c->next_ticket++;
    w->next = op->waiters;
    op->waiters = w;
    st->stats.submitted++;
    if (ticket != NULL)
        *ticket = w->ticket;
    bool wake = !w->coalesced;
    pthread_mutex_unlock(&c->mu);
    if (wake)
        c->ops->wakeup(c->binding);
    return saef_maf_detail(SAEF_OK, detail, detail_len, "submitted");

fail:
    pthread_mutex_unlock(&c->mu);
    free_waiter(w);
    return rc;
}

typedef struct blocking_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    saef_maf_result_t res;
} blocking_wait_t;

static void blocking_done(void *user, const saef_maf_result_t *res)
{
    blocking_wait_t *bw = user;
    pthread_mutex_lock(&bw->mu);
    bw->res = *res;
    bw->done = true;
    pthread_cond_signal(&bw->cv);
    pthread_mutex_unlock(&bw->mu);
}

saef_rc_t saef_maf_retrieve(saef_maf_client_t *c, size_t endpoint, const char *rel, size_t rel_len,
                            saef_maf_key_t *out, char *detail, size_t detail_len)
{
    if (out != NULL)
        saef_maf_key_clear(out);
    if (c == NULL || out == NULL)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "bad argument");
    if (c->worker_started && pthread_equal(pthread_self(), c->worker))
        return saef_maf_detail(SAEF_E_STATE, detail, detail_len,
                               "blocking retrieval from the MAF client's own thread");
    blocking_wait_t *bw = calloc(1, sizeof(*bw));
    if (bw == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating a wait");
    pthread_mutex_init(&bw->mu, NULL);
    pthread_cond_init(&bw->cv, NULL);
    saef_rc_t rc = saef_maf_retrieve_submit(c, endpoint, rel, rel_len, blocking_done, bw, NULL,
                                            detail, detail_len);
    if (rc == SAEF_OK) {
        /* No timeout here: the request's own deadline (request_timeout_ms) and shutdown both
         * end in a callback, so the wait always ends. */
        pthread_mutex_lock(&bw->mu);
        while (!bw->done)
            pthread_cond_wait(&bw->cv, &bw->mu);
        pthread_mutex_unlock(&bw->mu);
        rc = bw->res.rc;
        if (rc == SAEF_OK)
            *out = bw->res.key;
        saef_maf_detail(rc, detail, detail_len, "%s", bw->res.detail);
    }
    saef_maf_result_clear(&bw->res);
    pthread_cond_destroy(&bw->cv);
    pthread_mutex_destroy(&bw->mu);
    free(bw);
    return rc;
}

/* Under the mutex: detach ticket from a waiter list. */
static bool detach(saef_maf_client_t *c, saef_maf_waiter_t **list, uint64_t ticket)
{
    for (saef_maf_waiter_t **pp = list; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->ticket == ticket) {
            saef_maf_waiter_t *w = *pp;
            *pp = w->next;
            if (w->coalesced)
                c->coalesced--;
            free_waiter(w);
            return true;
        }
    }
    return false;
}

saef_rc_t saef_maf_cancel(saef_maf_client_t *c, uint64_t ticket)
{
    saef_rc_t rc = SAEF_E_NOT_FOUND;

    if (c == NULL || ticket == 0)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i <= c->table_mask && rc != SAEF_OK; i++) {
        for (saef_maf_op_t *op = c->table[i]; op != NULL && rc != SAEF_OK; op = op->hash_next) {
            if (detach(c, &op->waiters, ticket))
                rc = SAEF_OK;
        }
    }
    if (rc != SAEF_OK && c->completing != NULL && detach(c, &c->completing->waiters, ticket))
        rc = SAEF_OK;
    for (done_node_t **pp = &c->cq_head; rc != SAEF_OK && *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->res.ticket == ticket) {
            done_node_t *d = *pp;
            *pp = d->next;
            if (c->cq_tail == d) {
                c->cq_tail = NULL;
                for (done_node_t *t = c->cq_head; t != NULL; t = t->next)
                    c->cq_tail = t;
            }
            saef_maf_result_clear(&d->res);
            free(d);
            rc = SAEF_OK;
            break;
        }
    }
    if (c->cq_head == NULL) {
        uint64_t v;
        ssize_t r = read(c->efd, &v, sizeof(v));
        (void)r;
    }
    /* Running right now: wait until the callback returned, so that the caller may free what
     * user points to (not on the worker thread itself: that would wait for ourselves). */
    if (rc != SAEF_OK && !pthread_equal(pthread_self(), c->worker)) {
        while (c->delivering == ticket)
            pthread_cond_wait(&c->delivered, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int saef_maf_client_fd(const saef_maf_client_t *c)
{
    return c != NULL ? c->efd : -1;
}

size_t saef_maf_collect(saef_maf_client_t *c, saef_maf_result_t *out, size_t max)
{
    size_t n = 0;

    if (c == NULL || out == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    while (n < max && c->cq_head != NULL) {
        done_node_t *d = c->cq_head;
        c->cq_head = d->next;
        if (c->cq_head == NULL)
            c->cq_tail = NULL;
        out[n++] = d->res;
        saef_maf_result_clear(&d->res);
        free(d);
    }
    if (c->cq_head == NULL) {
        /* Reset the eventfd counter (non-blocking): readable again only after the next push. */
        uint64_t v;
        ssize_t r = read(c->efd, &v, sizeof(v));
        (void)r;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

saef_rc_t saef_maf_client_stats(saef_maf_client_t *c, size_t endpoint, saef_maf_stats_t *out)
{
    if (c == NULL || endpoint >= c->n || out == NULL)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    ep_state_t *st = &c->st[endpoint];
    st->stats.breaker = st->breaker.state;
    st->stats.breaker_trips = st->breaker.trips;
    *out = st->stats;
    pthread_mutex_unlock(&c->mu);
    return SAEF_OK;
}

saef_rc_t saef_maf_client_registration(saef_maf_client_t *c, size_t endpoint,
                                       saef_maf_reg_state_t *out)
{
    if (c == NULL || endpoint >= c->n || out == NULL)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    *out = c->st[endpoint].reg.view;
    pthread_mutex_unlock(&c->mu);
    return SAEF_OK;
}
