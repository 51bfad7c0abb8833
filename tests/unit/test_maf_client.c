/*
 * The generic MAF client with a scripted binding: asynchronous and blocking retrieval, the
 * completion queue and its descriptor, single flight, bounds, the breaker as the client applies
 * it, cancellation, shutdown and registration.  Then the HTTP binding's start-time checks and
 * one real connection attempt to a closed loopback port.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "saef_maf_internal.h"

#define FQDN "maf.example.com"
#define ORIGIN "//sp.example.com/in-cse"
#define KM "0123456789abcdef0123456789abcdef"

/* ---- a scripted binding ------------------------------------------------------------------- */

typedef struct action {
    char rel[SAEF_ID_REL_MAX + 1];
    saef_rc_t rc;
    int rsc;
} action_t;

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    saef_maf_binding_env_t env;
    saef_maf_op_t *held[64];
    size_t n_held;
    action_t actions[64];
    size_t n_actions;
    bool woken;
    unsigned started, started_reg;
} fake_t;

static fake_t *fake; /* the binding of the client under test */

static saef_rc_t fake_create(const saef_maf_binding_env_t *env, void **out, char *detail,
                             size_t detail_len)
{
    (void)detail;
    (void)detail_len;
    fake_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->env = *env;
    fake = f;
    *out = f;
    return SAEF_OK;
}

static void fake_destroy(void *b)
{
    fake_t *f = b;
    assert_int_equal(f->n_held, 0);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    fake = NULL;
}

static void fake_start(void *b, saef_maf_op_t *op)
{
    fake_t *f = b;
    pthread_mutex_lock(&f->mu);
    if (op->kind != SAEF_MAF_OP_RETRIEVE) {
        f->started_reg++;
        pthread_mutex_unlock(&f->mu);
        /* Registrations succeed at once with the proposed lifetime. */
        op->rc = SAEF_OK;
        snprintf(op->reg.reg_id, sizeof(op->reg.reg_id), "REG%u", f->started_reg);
        op->reg.expires.tv_sec = op->proposed_expiry;
        snprintf(op->reg.maf_client_id, sizeof(op->reg.maf_client_id), "%s", ORIGIN);
        op->connects = 1;
        f->env.complete(f->env.ctx, op);
        return;
    }
    assert_true(f->n_held < 64);
    f->held[f->n_held++] = op;
    f->started++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fill_key(saef_maf_op_t *op)
{
    for (size_t i = 0; i < 32; i++)
        op->key.key[i] = (uint8_t)(op->rel[0] + i);
    op->key.key_len = 32;
    op->key.suid = 32;
    op->key.expires.tv_sec = time(NULL) + 3600;
    op->key.source_kind = SAEF_MAF_SOURCE_AE_ID;
    snprintf(op->key.source_id, sizeof(op->key.source_id), "//sp.example.com/in-cse/C%s", op->rel);
}

static void fake_run(void *b, int timeout_ms)
{
    fake_t *f = b;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)timeout_ms % 1000 * 1000000L;
    until.tv_sec += timeout_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;

    pthread_mutex_lock(&f->mu);
    while (!f->woken && f->n_actions == 0) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) != 0)
            break;
    }
    f->woken = false;
    for (size_t a = 0; a < f->n_actions;) {
        saef_maf_op_t *op = NULL;
        for (size_t i = 0; i < f->n_held; i++) {
            if (strcmp(f->held[i]->rel, f->actions[a].rel) == 0) {
                op = f->held[i];
                f->held[i] = f->held[--f->n_held];
                break;
            }
        }
        if (op == NULL) {
            a++;
            continue;
        }
        action_t act = f->actions[a];
        f->actions[a] = f->actions[--f->n_actions];
        pthread_mutex_unlock(&f->mu);
        op->rc = act.rc;
        op->rsc = act.rsc;
        op->connects = 0;
        snprintf(op->detail, sizeof(op->detail), "scripted %s", saef_strerror(act.rc));
        if (act.rc == SAEF_OK)
            fill_key(op);
        f->env.complete(f->env.ctx, op);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

static void fake_wakeup(void *b)
{
    fake_t *f = b;
    pthread_mutex_lock(&f->mu);
    f->woken = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_cancel_all(void *b, saef_rc_t rc, const char *why)
{
    fake_t *f = b;
    pthread_mutex_lock(&f->mu);
    while (f->n_held > 0) {
        saef_maf_op_t *op = f->held[--f->n_held];
        pthread_mutex_unlock(&f->mu);
        op->rc = rc;
        snprintf(op->detail, sizeof(op->detail), "%s", why);
        f->env.complete(f->env.ctx, op);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

static const saef_maf_binding_ops_t fake_ops = {
    .name = "fake",
    .create = fake_create,
    .destroy = fake_destroy,
    .start = fake_start,
    .run = fake_run,
    .wakeup = fake_wakeup,
    .cancel_all = fake_cancel_all,
};

/* Answer the held retrieval of rel with rc. */
static void respond(const char *rel, saef_rc_t rc, int rsc)
{
    pthread_mutex_lock(&fake->mu);
    action_t *a = &fake->actions[fake->n_actions++];
    snprintf(a->rel, sizeof(a->rel), "%s", rel);
    a->rc = rc;
    a->rsc = rsc;
    pthread_cond_broadcast(&fake->cv);
    pthread_mutex_unlock(&fake->mu);
}

static unsigned started_count(void)
{
    pthread_mutex_lock(&fake->mu);
    unsigned s = fake->started;
    pthread_mutex_unlock(&fake->mu);
    return s;
}

/* Wait (at most 5 s) until n retrievals have reached the binding. */
static void wait_started(unsigned n)
{
    for (int i = 0; i < 5000; i++) {
        if (started_count() >= n)
            return;
        usleep(1000);
    }
    fail_msg("only some of %u retrievals started", n);
}

static saef_maf_endpoint_t psk_endpoint(const char *fqdn, const char *kmid)
{
    return (saef_maf_endpoint_t){.fqdn = fqdn,
                                 .key_retrieval_uri = "https://" FQDN "/maf/keyRetrieval",
                                 .auth = SAEF_MAF_AUTH_PSK,
                                 .kmid = kmid,
                                 .km = (const uint8_t *)KM,
                                 .km_len = 32,
                                 .connect_timeout_ms = 500,
                                 .request_timeout_ms = 2000,
                                 .max_inflight = 4,
                                 .breaker_threshold = 2,
                                 .breaker_cooldown_ms = 200,
                                 .psk_length = 32,
                                 .accepted_suid = 32};
}

static saef_maf_client_t *new_client(saef_maf_endpoint_t *eps, size_t n,
                                     saef_maf_client_params_t *p)
{
    saef_maf_client_t *c = NULL;
    char detail[SAEF_MAF_DETAIL_MAX];
    saef_rc_t rc = saef_maf_client_new_with(&fake_ops, eps, n, p, &c, detail, sizeof(detail));
    if (rc != SAEF_OK)
        fail_msg("client_new: %s: %s", saef_strerror(rc), detail);
    return c;
}

/* ---- callbacks ---------------------------------------------------------------------------- */

typedef struct recorder {
    pthread_mutex_t mu;
    unsigned calls;
    saef_rc_t last_rc;
    uint8_t last_key[32];
    uint64_t tickets[16];
} recorder_t;

static void record(void *user, const saef_maf_result_t *res)
{
    recorder_t *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->calls < 16)
        r->tickets[r->calls] = res->ticket;
    r->calls++;
    r->last_rc = res->rc;
    memcpy(r->last_key, res->key.key, 32);
    pthread_mutex_unlock(&r->mu);
}

static unsigned calls_of(recorder_t *r, unsigned want)
{
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&r->mu);
        unsigned n = r->calls;
        pthread_mutex_unlock(&r->mu);
        if (n >= want)
            return n;
        usleep(1000);
    }
    pthread_mutex_lock(&r->mu);
    unsigned n = r->calls;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_async_collect_and_fd(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {.max_inflight = 0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    int users[3] = {0, 1, 2};
    uint64_t t[3];
    const char *rels[3] = {"A1", "B2", "C3"};

    int fd = saef_maf_client_fd(c);
    assert_true(fd >= 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            saef_maf_retrieve_submit(c, 0, rels[i], 2, NULL, &users[i], &t[i], NULL, 0), SAEF_OK);
    assert_true(t[0] != 0 && t[1] != t[0] && t[2] != t[1]);
    wait_started(3);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    respond("B2", SAEF_OK, 2000);
    respond("A1", SAEF_E_MAF_REFUSED, 4004);
    respond("C3", SAEF_OK, 2000);

    saef_maf_result_t res[4];
    size_t got = 0;
    for (int i = 0; i < 50 && got < 3; i++) {
        assert_int_equal(poll(&pfd, 1, 100) >= 0, 1);
        got += saef_maf_collect(c, res + got, 4 - got);
    }
    assert_int_equal(got, 3);
    for (size_t i = 0; i < 3; i++) {
        int *u = res[i].user;
        assert_int_equal(res[i].ticket, t[*u]);
        assert_string_equal(res[i].relative_key_id, rels[*u]);
        if (*u == 0) {
            assert_int_equal(res[i].rc, SAEF_E_MAF_REFUSED);
            assert_int_equal(res[i].rsc, 4004);
        } else {
            assert_int_equal(res[i].rc, SAEF_OK);
            assert_int_equal(res[i].key.key[0], (uint8_t)rels[*u][0]);
        }
        saef_maf_result_clear(&res[i]);
    }
    /* drained: the descriptor is quiet again */
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(saef_maf_collect(c, res, 4), 0);

    saef_maf_stats_t st;
    assert_int_equal(saef_maf_client_stats(c, 0, &st), SAEF_OK);
    assert_int_equal(st.submitted, 3);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.inflight, 0);
    saef_maf_client_free(c);
}

static void test_single_flight(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};

    for (int i = 0; i < 3; i++)
        assert_int_equal(saef_maf_retrieve_submit(c, 0, "SAME", 4, record, &r, NULL, NULL, 0),
                         SAEF_OK);
    wait_started(1);
    usleep(20000);
    assert_int_equal(started_count(), 1);
    respond("SAME", SAEF_OK, 2000);
    assert_int_equal(calls_of(&r, 3), 3);
    assert_int_equal(r.last_rc, SAEF_OK);
    assert_int_equal(r.last_key[0], 'S');
    saef_maf_stats_t st;
    saef_maf_client_stats(c, 0, &st);
    assert_int_equal(st.submitted, 3);
    assert_int_equal(st.coalesced, 2);
    assert_int_equal(st.requests, 1);
    /* byte-equal only: another case is another request */
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "same", 4, record, &r, NULL, NULL, 0), SAEF_OK);
    wait_started(2);
    respond("same", SAEF_OK, 2000);
    assert_int_equal(calls_of(&r, 4), 4);
    saef_maf_client_free(c);
}

static void test_bounds(void **state)
{
    (void)state;
    saef_maf_endpoint_t eps[2] = {psk_endpoint(FQDN, "cse@" FQDN),
                                  psk_endpoint("maf2.example.com", "cse@maf2.example.com")};
    eps[0].max_inflight = 2;
    eps[1].key_retrieval_uri = "https://maf2.example.com/keyRetrieval";
    saef_maf_client_params_t p = {.max_inflight = 3, .max_waiters = 1};
    saef_maf_client_t *c = new_client(eps, 2, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char detail[SAEF_MAF_DETAIL_MAX];

    assert_int_equal(saef_maf_retrieve_submit(c, 0, "a", 1, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "b", 1, record, &r, NULL, NULL, 0), SAEF_OK);
    /* the MAF's own bound */
    assert_int_equal(
        saef_maf_retrieve_submit(c, 0, "c", 1, record, &r, NULL, detail, sizeof(detail)),
        SAEF_E_BUSY);
    assert_non_null(strstr(detail, "2 retrievals in flight to " FQDN " (max 2)"));
    /* joining a running retrieval costs no request, only a waiter slot (max_waiters 1) */
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "a", 1, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(
        saef_maf_retrieve_submit(c, 0, "b", 1, record, &r, NULL, detail, sizeof(detail)),
        SAEF_E_BUSY);
    assert_non_null(strstr(detail, "wait for running retrievals"));
    /* the client-wide bound: 2 + 1 */
    assert_int_equal(saef_maf_retrieve_submit(c, 1, "x", 1, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(
        saef_maf_retrieve_submit(c, 1, "y", 1, record, &r, NULL, detail, sizeof(detail)),
        SAEF_E_BUSY);
    assert_non_null(strstr(detail, "3 in all (max 3)"));
    saef_maf_stats_t st;
    saef_maf_client_stats(c, 0, &st);
    assert_int_equal(st.rejected_busy, 2);
    assert_int_equal(st.inflight, 2);
    /* a completion frees the slot */
    wait_started(3);
    respond("a", SAEF_OK, 2000);
    assert_int_equal(calls_of(&r, 2), 2);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "c", 1, record, &r, NULL, NULL, 0), SAEF_OK);
    saef_maf_client_free(c);
    /* shutdown answered the rest */
    assert_int_equal(r.calls, 5);
    assert_int_equal(r.last_rc, SAEF_E_STATE);
}

static void test_breaker_in_the_client(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char detail[SAEF_MAF_DETAIL_MAX];
    saef_maf_stats_t st;

    /* two "unavailable" failures open it (threshold 2) */
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "f1", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "f2", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    wait_started(2);
    respond("f1", SAEF_E_MAF_UNREACHABLE, 0);
    respond("f2", SAEF_E_MAF_RSC, 5000);
    assert_int_equal(calls_of(&r, 2), 2);
    assert_int_equal(
        saef_maf_retrieve_submit(c, 0, "f3", 2, record, &r, NULL, detail, sizeof(detail)),
        SAEF_E_MAF_CIRCUIT_OPEN);
    assert_non_null(strstr(detail, "circuit breaker of " FQDN " is open"));
    saef_maf_client_stats(c, 0, &st);
    assert_int_equal(st.breaker, SAEF_MAF_BREAKER_OPEN);
    assert_int_equal(st.breaker_trips, 1);
    assert_int_equal(st.unavailable, 2);
    assert_int_equal(st.rejected_breaker, 1);

    /* after the cool-down (200 ms) one probe goes, the rest still fail fast */
    usleep(250000);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "p1", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(
        saef_maf_retrieve_submit(c, 0, "p2", 2, record, &r, NULL, detail, sizeof(detail)),
        SAEF_E_MAF_CIRCUIT_OPEN);
    assert_non_null(strstr(detail, "half-open"));
    /* but a handshake wanting the probe's key joins it */
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "p1", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    wait_started(3);
    /* a refusal proves the MAF is back: closed */
    respond("p1", SAEF_E_MAF_REFUSED, 4004);
    assert_int_equal(calls_of(&r, 4), 4);
    saef_maf_client_stats(c, 0, &st);
    assert_int_equal(st.breaker, SAEF_MAF_BREAKER_CLOSED);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "p2", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    saef_maf_client_free(c);
}

typedef struct responder {
    const char *rel;
    saef_rc_t rc;
} responder_t;

static void *respond_later(void *arg)
{
    responder_t *rs = arg;
    wait_started(1);
    respond(rs->rel, rs->rc, rs->rc == SAEF_OK ? 2000 : 4103);
    return NULL;
}

static void test_blocking_retrieve(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    ep.psk_length = 16;
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    saef_maf_key_t key;
    char detail[SAEF_MAF_DETAIL_MAX];
    pthread_t th;

    responder_t ok = {"K1", SAEF_OK};
    pthread_create(&th, NULL, respond_later, &ok);
    assert_int_equal(saef_maf_retrieve(c, 0, "K1", 2, &key, detail, sizeof(detail)), SAEF_OK);
    pthread_join(th, NULL);
    assert_int_equal(key.key[0], 'K');
    assert_int_equal(key.suid, 32);
    saef_maf_key_clear(&key);

    pthread_mutex_lock(&fake->mu);
    fake->started = 0;
    pthread_mutex_unlock(&fake->mu);
    responder_t no = {"K2", SAEF_E_MAF_REFUSED};
    pthread_create(&th, NULL, respond_later, &no);
    assert_int_equal(saef_maf_retrieve(c, 0, "K2", 2, &key, detail, sizeof(detail)),
                     SAEF_E_MAF_REFUSED);
    pthread_join(th, NULL);
    assert_string_equal(detail, "scripted MAF refused: unknown RelativeKeyID or not authorised");
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(((uint8_t *)&key)[i], 0);
    saef_maf_client_free(c);
}

static saef_maf_client_t *cb_client;
static saef_rc_t cb_rc;

static void nested_blocking(void *user, const saef_maf_result_t *res)
{
    (void)res;
    saef_maf_key_t key;
    cb_rc = saef_maf_retrieve(cb_client, 0, "N2", 2, &key, NULL, 0);
    record(user, res);
}

static void test_blocking_inside_callback_refused(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {0};
    cb_client = new_client(&ep, 1, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(
        saef_maf_retrieve_submit(cb_client, 0, "N1", 2, nested_blocking, &r, NULL, NULL, 0),
        SAEF_OK);
    wait_started(1);
    respond("N1", SAEF_OK, 2000);
    assert_int_equal(calls_of(&r, 1), 1);
    assert_int_equal(cb_rc, SAEF_E_STATE);
    saef_maf_client_free(cb_client);
}

static void test_cancel(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint64_t t1, t2, t3;

    assert_int_equal(saef_maf_retrieve_submit(c, 0, "C1", 2, record, &r, &t1, NULL, 0), SAEF_OK);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "C1", 2, record, &r, &t2, NULL, 0), SAEF_OK);
    assert_int_equal(saef_maf_cancel(c, t1), SAEF_OK);
    assert_int_equal(saef_maf_cancel(c, t1), SAEF_E_NOT_FOUND);
    wait_started(1);
    respond("C1", SAEF_OK, 2000);
    assert_int_equal(calls_of(&r, 1), 1);
    usleep(20000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.tickets[0], t2);
    assert_int_equal(saef_maf_cancel(c, t2), SAEF_E_NOT_FOUND);

    /* a queued result can be withdrawn too, and the descriptor goes quiet */
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "C2", 2, NULL, NULL, &t3, NULL, 0), SAEF_OK);
    wait_started(2);
    respond("C2", SAEF_OK, 2000);
    struct pollfd pfd = {.fd = saef_maf_client_fd(c), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(saef_maf_cancel(c, t3), SAEF_OK);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    saef_maf_result_t res;
    assert_int_equal(saef_maf_collect(c, &res, 1), 0);
    assert_int_equal(saef_maf_cancel(c, 0), SAEF_E_INVALID_ARG);
    saef_maf_client_free(c);
}

typedef struct blocker {
    saef_maf_client_t *c;
    saef_rc_t rc;
} blocker_t;

static void *block_forever(void *arg)
{
    blocker_t *b = arg;
    saef_maf_key_t key;
    b->rc = saef_maf_retrieve(b->c, 0, "S2", 2, &key, NULL, 0);
    return NULL;
}

static void test_shutdown_answers_everyone(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    ep.request_timeout_ms = 60000;
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    recorder_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    blocker_t b = {.c = c, .rc = SAEF_OK};
    pthread_t th;

    assert_int_equal(saef_maf_retrieve_submit(c, 0, "S1", 2, record, &r, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "S3", 2, NULL, NULL, NULL, NULL, 0), SAEF_OK);
    pthread_create(&th, NULL, block_forever, &b);
    wait_started(3);
    saef_maf_client_free(c);
    pthread_join(th, NULL);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.last_rc, SAEF_E_STATE);
    assert_int_equal(b.rc, SAEF_E_STATE);
}

static void test_submission_checks(void **state)
{
    (void)state;
    saef_maf_endpoint_t ep = psk_endpoint(FQDN, "cse@" FQDN);
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = new_client(&ep, 1, &p);
    char detail[SAEF_MAF_DETAIL_MAX];
    char rel65[66];
    size_t idx = 9;

    assert_int_equal(
        saef_maf_retrieve_submit(c, 0, "a/b", 3, NULL, NULL, NULL, detail, sizeof(detail)),
        SAEF_E_ID_REL_CHAR);
    assert_non_null(strstr(detail, "RelativeKeyID for " FQDN));
    assert_int_equal(saef_maf_retrieve_submit(c, 0, "", 0, NULL, NULL, NULL, NULL, 0),
                     SAEF_E_ID_REL_EMPTY);
    memset(rel65, 'A', 65);
    assert_int_equal(saef_maf_retrieve_submit(c, 0, rel65, 65, NULL, NULL, NULL, NULL, 0),
                     SAEF_E_ID_REL_TOO_LONG);
    assert_int_equal(saef_maf_retrieve_submit(c, 1, "a", 1, NULL, NULL, NULL, NULL, 0),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_maf_client_find(c, "MAF.Example.COM.", 16, &idx), SAEF_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(saef_maf_client_find(c, "evil.example.com", 16, &idx), SAEF_E_MAF_UNKNOWN);
    assert_int_equal(saef_maf_client_count(c), 1);
    saef_maf_client_free(c);
    saef_maf_client_free(NULL);
}

static void test_endpoint_validation(void **state)
{
    (void)state;
    saef_maf_client_params_t p = {0};
    saef_maf_client_params_t with_origin = {.origin = ORIGIN};
    saef_maf_client_t *c = NULL;
    char detail[SAEF_MAF_DETAIL_MAX];
    static const struct {
        const char *what;
        saef_rc_t want;
        const char *detail;
    } cases[] = {
        {"duplicate", SAEF_E_CFG_DUPLICATE, "configured twice"},
        {"kmid of another MAF", SAEF_E_CFG_CONFLICT, "belongs to another MAF"},
        {"cert without origin", SAEF_E_CFG_CONFLICT, "Absolute CSE-ID or AE-ID"},
        {"cert SP-relative origin", SAEF_E_CFG_CONFLICT, "Absolute CSE-ID"},
        {"cert without files", SAEF_E_CFG_CONFLICT, "needs ca_file"},
        {"connect > request", SAEF_E_INVALID_ARG, "connect <= request"},
        {"psk length 24", SAEF_E_INVALID_ARG, "psk_length"},
        {"Km 8 bytes", SAEF_E_INVALID_ARG, "Km must be 16 to 64 bytes, got 8"},
        {"suid 31", SAEF_E_INVALID_ARG, "accepted_suid 31"},
        {"fqdn is an address", SAEF_E_INVALID_ARG, "fqdn is not an FQDN"},
        {"register without admin", SAEF_E_CFG_CONFLICT, "registering needs"},
        {"max_inflight 0", SAEF_E_INVALID_ARG, "max_inflight"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        saef_maf_endpoint_t eps[2] = {psk_endpoint(FQDN, "cse@" FQDN),
                                      psk_endpoint("MAF.example.com.", "cse@maf.example.com")};
        size_t n = 1;
        saef_maf_client_params_t *pp = &p;
        switch (i) {
        case 0:
            n = 2;
            break;
        case 1:
            eps[0].kmid = "cse@other.example.com";
            break;
        case 2:
            eps[0].auth = SAEF_MAF_AUTH_CERT;
            eps[0].ca_file = eps[0].client_cert = eps[0].client_key = "/nonexistent";
            break;
        case 3:
            eps[0].auth = SAEF_MAF_AUTH_CERT;
            eps[0].ca_file = eps[0].client_cert = eps[0].client_key = "/nonexistent";
            with_origin.origin = "/in-cse";
            pp = &with_origin;
            break;
        case 4:
            eps[0].auth = SAEF_MAF_AUTH_CERT;
            pp = &with_origin;
            with_origin.origin = ORIGIN;
            break;
        case 5:
            eps[0].connect_timeout_ms = 3000;
            break;
        case 6:
            eps[0].psk_length = 24;
            break;
        case 7:
            eps[0].km_len = 8;
            break;
        case 8:
            eps[0].accepted_suid = 31;
            break;
        case 9:
            eps[0].fqdn = "10.0.0.1";
            break;
        case 10:
            eps[0].register_client = true;
            eps[0].client_registration_uri = "https://" FQDN "/clientRegistrations";
            break;
        case 11:
            eps[0].max_inflight = 0;
            break;
        }
        detail[0] = '\0';
        saef_rc_t rc = saef_maf_client_new_with(&fake_ops, eps, n, pp, &c, detail, sizeof(detail));
        if (rc != cases[i].want || strstr(detail, cases[i].detail) == NULL) {
            print_error("case '%s': got %d \"%s\"\n", cases[i].what, rc, detail);
            fail();
        }
        assert_null(c);
    }
    assert_int_equal(saef_maf_client_new_with(&fake_ops, NULL, 1, &p, &c, NULL, 0),
                     SAEF_E_INVALID_ARG);
}

static void test_registration_runs_in_background(void **state)
{
    (void)state;
    saef_maf_endpoint_t eps[2] = {psk_endpoint(FQDN, "cse@" FQDN),
                                  psk_endpoint("maf2.example.com", "cse@maf2.example.com")};
    eps[0].register_client = true;
    eps[0].client_registration_uri = "https://" FQDN "/maf/clientRegistrations";
    eps[0].admin_fqdn = "sp.example.com";
    eps[0].registration_lifetime_s = 3600;
    saef_maf_client_params_t p = {.origin = ORIGIN};
    time_t before = time(NULL);
    saef_maf_client_t *c = new_client(eps, 2, &p);
    saef_maf_reg_state_t rs;

    for (int i = 0; i < 2000; i++) {
        assert_int_equal(saef_maf_client_registration(c, 0, &rs), SAEF_OK);
        if (rs.status == SAEF_MAF_REG_ACTIVE)
            break;
        usleep(1000);
    }
    assert_int_equal(rs.status, SAEF_MAF_REG_ACTIVE);
    assert_string_equal(rs.reg_id, "REG1");
    assert_true(rs.expires.tv_sec >= before + 3600 && rs.expires.tv_sec <= time(NULL) + 3600);
    /* PSK mode: the MAF knows us by the CSE-ID it has on record for our KmID */
    assert_false(rs.client_id_mismatch);
    assert_string_equal(rs.maf_client_id, ORIGIN);
    assert_true(rs.next_attempt.tv_sec >= before + 2400);
    assert_int_equal(saef_maf_client_registration(c, 1, &rs), SAEF_OK);
    assert_int_equal(rs.status, SAEF_MAF_REG_OFF);
    assert_int_equal(saef_maf_client_registration(c, 2, &rs), SAEF_E_INVALID_ARG);
    saef_maf_stats_t st;
    saef_maf_client_stats(c, 0, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.requests, 0); /* registrations are not retrievals */
    saef_maf_client_free(c);
}

/* ---- the HTTP binding's start-time checks ------------------------------------------------- */

static void test_http_uri_checks(void **state)
{
    (void)state;
    saef_maf_endpoint_t e = psk_endpoint(FQDN, "cse@" FQDN);
    static const struct {
        const char *uri;
        saef_rc_t want;
        const char *detail;
    } cases[] = {
        {"https://maf.example.com/keyRetrieval", SAEF_OK, "ok"},
        {"https://maf.example.com:8443/maf/v1/keyRetrieval", SAEF_OK, "ok"},
        {"https://MAF.example.com./keyRetrieval", SAEF_OK, "ok"},
        {"http://maf.example.com/keyRetrieval", SAEF_E_INVALID_ARG, "is not an https URI"},
        {"https://evil.example.com/keyRetrieval", SAEF_E_CFG_CONFLICT, "another host"},
        {"https://user@maf.example.com/keyRetrieval", SAEF_E_INVALID_ARG, "userinfo"},
        {"https://maf.example.com/keyRetrieval?x=1", SAEF_E_INVALID_ARG, "query"},
        {"https://maf.example.com/keyRetrieval#f", SAEF_E_INVALID_ARG, "fragment"},
        {"https://maf.example.com/key%52etrieval", SAEF_E_INVALID_ARG, "'%'"},
        {"https://maf.example.com/maf/keys", SAEF_E_INVALID_ARG, "does not end in /keyRetrieval"},
        {"https://maf.example.com/keyRetrieval/", SAEF_E_INVALID_ARG, "does not end in"},
        {"https://maf.example.com/a/../keyRetrieval", SAEF_E_INVALID_ARG, "base path segment"},
        {"https://maf.example.com//keyRetrieval", SAEF_E_INVALID_ARG, "base path segment"},
        {"https://maf.example.com/a b/keyRetrieval", SAEF_E_INVALID_ARG, "space"},
        {"maf.example.com/keyRetrieval", SAEF_E_INVALID_ARG, "URI"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *host = NULL;
        char detail[SAEF_MAF_DETAIL_MAX] = "ok";
        saef_rc_t rc =
            saef_maf_http_check_uri(&e, "key_retrieval_uri", cases[i].uri,
                                    SAEF_MAF_SUFFIX_RETRIEVAL, &host, detail, sizeof(detail));
        if (rc != cases[i].want || strstr(detail, cases[i].detail) == NULL) {
            print_error("uri %s: got %d \"%s\"\n", cases[i].uri, rc, detail);
            fail();
        }
        assert_true(rc == SAEF_OK ? host != NULL : host == NULL);
        free(host);
    }
}

static void test_http_connect_to(void **state)
{
    (void)state;
    assert_true(saef_maf_http_connect_to_ok("127.0.0.1:8443"));
    assert_true(saef_maf_http_connect_to_ok("[::1]:443"));
    assert_true(saef_maf_http_connect_to_ok("maf-1.internal:1"));
    assert_true(saef_maf_http_connect_to_ok("x:65535"));
    assert_false(saef_maf_http_connect_to_ok("127.0.0.1"));
    assert_false(saef_maf_http_connect_to_ok(":443"));
    assert_false(saef_maf_http_connect_to_ok("host:"));
    assert_false(saef_maf_http_connect_to_ok("host:0"));
    assert_false(saef_maf_http_connect_to_ok("host:65536"));
    assert_false(saef_maf_http_connect_to_ok("host:44x"));
    assert_false(saef_maf_http_connect_to_ok("::1:443"));
    assert_false(saef_maf_http_connect_to_ok("a b:443"));
    assert_false(saef_maf_http_connect_to_ok("host:443:1"));
}

static void test_http_credentials(void **state)
{
    (void)state;
    char dir[] = "/tmp/saef-maf-test-XXXXXX";
    char key[64], cmd[128];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    saef_maf_endpoint_t e = psk_endpoint(FQDN, "cse@" FQDN);
    char detail[SAEF_MAF_DETAIL_MAX];
    assert_int_equal(saef_maf_http_check_credentials(&e, detail, sizeof(detail)), SAEF_OK);
    e.auth = SAEF_MAF_AUTH_CERT;
    e.client_key = key;
    e.client_cert = "/nonexistent/cert.pem";
    e.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(saef_maf_http_check_credentials(&e, detail, sizeof(detail)),
                     SAEF_E_CFG_SECRET_FILE);
    assert_non_null(strstr(detail, "client_key"));
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(saef_maf_http_check_credentials(&e, detail, sizeof(detail)), SAEF_E_IO);
    assert_non_null(strstr(detail, "ca_file /nonexistent/ca.pem"));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The real binding, end to end against a port where nothing listens. */
static void test_http_unreachable(void **state)
{
    (void)state;
    saef_maf_endpoint_t e = psk_endpoint(FQDN, "cse@" FQDN);
    e.connect_to = "127.0.0.1:1";
    e.breaker_threshold = 1;
    e.breaker_cooldown_ms = 60000;
    saef_maf_client_params_t p = {0};
    saef_maf_client_t *c = NULL;
    char detail[SAEF_MAF_DETAIL_MAX];
    saef_maf_key_t key;

    assert_int_equal(saef_maf_client_new(&e, 1, &p, &c, detail, sizeof(detail)), SAEF_OK);
    assert_int_equal(saef_maf_retrieve(c, 0, "A41C0E77B2D94F1385E6C2A9D07B3E5C", 32, &key, detail,
                                       sizeof(detail)),
                     SAEF_E_MAF_UNREACHABLE);
    assert_non_null(strstr(detail, FQDN " unreachable"));
    /* one unavailable failure with threshold 1: the next one fails fast */
    assert_int_equal(saef_maf_retrieve(c, 0, "B", 1, &key, detail, sizeof(detail)),
                     SAEF_E_MAF_CIRCUIT_OPEN);
    saef_maf_client_free(c);

    /* and the real binding refuses a bad URI when the client is made */
    e.key_retrieval_uri = "https://maf.example.com/maf/keys";
    assert_int_equal(saef_maf_client_new(&e, 1, &p, &c, detail, sizeof(detail)),
                     SAEF_E_INVALID_ARG);
    assert_non_null(strstr(detail, "does not end in /keyRetrieval"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_collect_and_fd),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_breaker_in_the_client),
        cmocka_unit_test(test_blocking_retrieve),
        cmocka_unit_test(test_blocking_inside_callback_refused),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_shutdown_answers_everyone),
        cmocka_unit_test(test_submission_checks),
        cmocka_unit_test(test_endpoint_validation),
        cmocka_unit_test(test_registration_runs_in_background),
        cmocka_unit_test(test_http_uri_checks),
        cmocka_unit_test(test_http_connect_to),
        cmocka_unit_test(test_http_credentials),
        cmocka_unit_test(test_http_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
