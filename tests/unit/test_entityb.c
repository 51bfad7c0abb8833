/*
 * Entity B's decision engine over a scripted MAF binding: allow-list before any request,
 * malformed identities of a configured MAF refused without a request, single flight, negative
 * caching of refusals but not of outages, bindings from each kind of Source MAF Client ID
 * (CSE-ID, AE-ID, KmID resolved or not through the credential map), the ticket encoding
 * that carries a binding across resumption, and the shared key store consulted before the MAF
 * (answering inside get() or later from its own thread).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "saef_entityb.h"
#include "saef_maf_internal.h"
#include "saef_tls.h"

#define FQDN "maf.example.com"

/* ---- a binding that answers at once, by the RelativeKeyID's first letters ---------------- */

typedef struct script {
    const saef_maf_binding_env_t *env;
    saef_maf_binding_env_t env_copy;
    unsigned requests;
    pthread_mutex_t mu;
} script_t;

static saef_rc_t s_create(const saef_maf_binding_env_t *env, void **out, char *d, size_t dl)
{
    script_t *s = calloc(1, sizeof(*s));

    (void)d;
    (void)dl;
    if (s == NULL)
        return SAEF_E_NOMEM;
    s->env_copy = *env;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return SAEF_OK;
}

static void s_destroy(void *b)
{
    script_t *s = b;

    pthread_mutex_destroy(&s->mu);
    free(s);
}

static unsigned requests_of(saef_maf_client_t *c)
{
    saef_maf_stats_t st;

    assert_int_equal(saef_maf_client_stats(c, 0, &st), SAEF_OK);
    return (unsigned)st.requests;
}

/* AE... -> key bound to an AE-ID; CSE... -> CSE-ID; KM... -> KmID; REF... -> 4004 refusal;
 * DOWN... -> MAF unreachable. */
static void s_start(void *b, saef_maf_op_t *op)
{
    script_t *s = b;
    size_t i;

    if (op->kind != SAEF_MAF_OP_RETRIEVE) {
        op->rc = SAEF_E_NOT_SUPPORTED;
        s->env_copy.complete(s->env_copy.ctx, op);
        return;
    }
    op->rc = SAEF_OK;
    for (i = 0; i < 32; i++)
        op->key.key[i] = (uint8_t)(0xa0 + i);
    op->key.key_len = 32;
    op->key.suid = 32;
    /* SHORT...: a Kc that lives one second. */
    op->key.expires.tv_sec = time(NULL) + (strncmp(op->rel, "AESHORT", 7) == 0 ? 1 : 3600);
    snprintf(op->key.admin_fqdn, sizeof(op->key.admin_fqdn), "admin.example.com");
    if (strncmp(op->rel, "AE", 2) == 0) {
        op->key.source_kind = SAEF_MAF_SOURCE_AE_ID;
        snprintf(op->key.source_id, sizeof(op->key.source_id), "//sp.example.com/in-cse/Cdev");
    } else if (strncmp(op->rel, "CSE", 3) == 0) {
        op->key.source_kind = SAEF_MAF_SOURCE_CSE_ID;
        snprintf(op->key.source_id, sizeof(op->key.source_id), "//sp.example.com/mn-cse");
    } else if (strncmp(op->rel, "KM", 2) == 0) {
        op->key.source_kind = SAEF_MAF_SOURCE_KMID;
        snprintf(op->key.source_id, sizeof(op->key.source_id), "%s@maf.example.com", op->rel);
    } else if (strncmp(op->rel, "REF", 3) == 0) {
        op->rc = SAEF_E_MAF_REFUSED;
        op->rsc = 4004;
        snprintf(op->detail, sizeof(op->detail), "4004 unknown RelativeKeyID");
    } else {
        op->rc = SAEF_E_MAF_UNREACHABLE;
        snprintf(op->detail, sizeof(op->detail), "connection refused");
    }
    s->env_copy.complete(s->env_copy.ctx, op);
}

static void s_run(void *b, int timeout_ms)
{
    struct timespec ts = {0, (long)(timeout_ms > 5 ? 5 : timeout_ms) * 1000000L};

    (void)b;
    nanosleep(&ts, NULL);
}

static void s_wakeup(void *b)
{
    (void)b;
}

static void s_cancel_all(void *b, saef_rc_t rc, const char *why)
{
    (void)b;
    (void)rc;
    (void)why;
}

static const saef_maf_binding_ops_t script_ops = {
    .name = "script",
    .create = s_create,
    .destroy = s_destroy,
    .start = s_start,
    .run = s_run,
    .wakeup = s_wakeup,
    .cancel_all = s_cancel_all,
};

/* ---- a key store that answers as told, inside get() or from a thread of its own ---------- */

#define STORE_THREADS_MAX 8

typedef struct store store_t;

typedef struct store_call {
    store_t *s;
    pthread_t th;
    saef_eb_store_done_t done;
    void *user;
} store_call_t;

struct store {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* what it does: set by a test before its lookups */
    saef_rc_t get_rc;         /* get()'s return; an error means done() is never called */
    saef_rc_t answer;         /* done()'s rc: SAEF_OK (with value), SAEF_E_NOT_FOUND, a refusal */
    saef_cache_value_t value; /* the key of a SAEF_OK answer */
    bool async;               /* answer from a thread of its own ... */
    bool held;                /* ... and only after store_release() */
    bool released;
    /* what the engine asked */
    unsigned gets, puts;
    char get_key_id[SAEF_ID_MAX];
    char put_key_id[SAEF_ID_MAX];
    saef_cache_value_t put_value;
    store_call_t calls[STORE_THREADS_MAX];
    unsigned ncalls;
};

/* done() with the configured answer; the value is borrowed for the call only, so it is wiped
 * right after (an engine that kept the pointer would hand out zeros). */
static void store_answer(store_t *s, saef_eb_store_done_t done, void *user)
{
    saef_cache_value_t v = s->value;

    done(user, s->answer, s->answer == SAEF_OK ? &v : NULL);
    saef_cache_value_clear(&v);
}

static void *store_thread(void *arg)
{
    store_call_t *c = arg;
    store_t *s = c->s;

    pthread_mutex_lock(&s->mu);
    while (s->held && !s->released)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    store_answer(s, c->done, c->user);
    return NULL;
}

/* May run on any lookup's thread: no cmocka assertions here, the counters tell. */
static saef_rc_t store_get(void *arg, const char *key_id, saef_eb_store_done_t done, void *user)
{
    store_t *s = arg;
    store_call_t *c;
    saef_rc_t rc = SAEF_OK;
    bool now;

    pthread_mutex_lock(&s->mu);
    s->gets++;
    snprintf(s->get_key_id, sizeof(s->get_key_id), "%s", key_id);
    now = !s->async;
    if (s->get_rc != SAEF_OK) {
        rc = s->get_rc;
    } else if (!now) {
        if (s->ncalls == STORE_THREADS_MAX) {
            rc = SAEF_E_BUSY; /* asked far more often than any test expects */
        } else {
            c = &s->calls[s->ncalls];
            c->s = s;
            c->done = done;
            c->user = user;
            if (pthread_create(&c->th, NULL, store_thread, c) == 0)
                s->ncalls++;
            else
                rc = SAEF_E_NOMEM;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == SAEF_OK && now)
        store_answer(s, done, user);
    return rc;
}

static void store_put(void *arg, const char *key_id, const saef_cache_value_t *v)
{
    store_t *s = arg;

    pthread_mutex_lock(&s->mu);
    s->puts++;
    snprintf(s->put_key_id, sizeof(s->put_key_id), "%s", key_id);
    s->put_value = *v;
    pthread_mutex_unlock(&s->mu);
}

static unsigned store_gets(store_t *s)
{
    unsigned n;

    pthread_mutex_lock(&s->mu);
    n = s->gets;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Let held answers go. */
static void store_release(store_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->released = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The store holds a key the MAF would not give (other bytes, a CSE-ID where the MAF names an
 * AE-ID), so that every answer shows where it came from. */
static void store_has_key(store_t *s, time_t lifetime_s)
{
    size_t i;

    s->answer = SAEF_OK;
    memset(&s->value, 0, sizeof(s->value));
    for (i = 0; i < 32; i++)
        s->value.psk[i] = (uint8_t)(0x50 + i);
    s->value.psk_len = 32;
    s->value.expiry.tv_sec = time(NULL) + lifetime_s;
    s->value.suid = 32;
    s->value.source_kind = SAEF_MAF_SOURCE_CSE_ID;
    snprintf(s->value.source_id, sizeof(s->value.source_id), "//sp.example.com/vault-cse");
    snprintf(s->value.admin_fqdn, sizeof(s->value.admin_fqdn), "vault.example.com");
}

static void store_init(store_t *s)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->answer = SAEF_E_NOT_FOUND;
}

/* Answer whatever is still held and wait for every answering thread. */
static void store_fini(store_t *s)
{
    unsigned i;

    store_release(s);
    for (i = 0; i < s->ncalls; i++)
        pthread_join(s->calls[i].th, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    saef_cache_value_clear(&s->value);
    saef_cache_value_clear(&s->put_value);
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    saef_maf_client_t *maf;
    saef_cache_t *cache;
    saef_credmap_live_t *credmap;
    saef_eb_t *eb;
    unsigned fetch_reports;
    store_t store; /* the engine's only with setup_store() */
} fx_t;

static void on_fetch(void *arg, const char *key_id, const saef_maf_result_t *res)
{
    fx_t *f = arg;

    (void)key_id;
    (void)res;
    f->fetch_reports++;
}

static int setup_with(void **state, bool with_store)
{
    static const uint8_t km[32] = {1};
    fx_t *f = calloc(1, sizeof(*f));
    saef_maf_endpoint_t ep = {
        .fqdn = FQDN,
        .key_retrieval_uri = "https://" FQDN "/maf/keyRetrieval",
        .auth = SAEF_MAF_AUTH_PSK,
        .kmid = "entityb@" FQDN,
        .km = km,
        .km_len = sizeof(km),
        .connect_timeout_ms = 1000,
        .request_timeout_ms = 2000,
        .max_inflight = 8,
        .psk_length = 32,
        .accepted_suid = 32,
    };
    saef_maf_client_params_t mp = {.origin = "//sp.example.com/in-cse", .max_inflight = 8};
    saef_cache_params_t cp = {.capacity = 64, .max_flights = 8, .negative_ttl_ms = 60000,
                              .flight_timeout_ms = 3000, .expired_as_refusal = true};
    saef_eb_params_t ep2 = {0};
    saef_eb_store_t store = {.get = store_get, .put = store_put};
    saef_credmap_t *map;

    assert_non_null(f);
    store_init(&f->store);
    store.arg = &f->store;
    assert_int_equal(saef_maf_client_new_with(&script_ops, &ep, 1, &mp, &f->maf, NULL, 0),
                     SAEF_OK);
    assert_int_equal(saef_cache_new(&cp, &f->cache), SAEF_OK);
    assert_int_equal(saef_credmap_live_new(&f->credmap), SAEF_OK);
    assert_int_equal(saef_credmap_new(&map), SAEF_OK);
    assert_int_equal(saef_credmap_add(map, "11-KMKNOWN*@maf.example.com", "//sp.example.com/gw-cse"),
                     SAEF_OK);
    assert_int_equal(saef_credmap_live_replace(f->credmap, map), SAEF_OK);
    ep2.maf = f->maf;
    ep2.cache = f->cache;
    ep2.credmap = f->credmap;
    ep2.flight_timeout_ms = 3000;
    ep2.on_fetch = on_fetch;
    ep2.fetch_arg = f;
    ep2.store = with_store ? &store : NULL;
    assert_int_equal(saef_eb_new(&ep2, &f->eb), SAEF_OK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int setup_store(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    fx_t *f = *state;

    store_fini(&f->store); /* its answers may still reach the MAF client and the cache */
    saef_maf_client_free(f->maf);
    saef_eb_free(f->eb);
    saef_cache_free(f->cache);
    saef_credmap_live_free(f->credmap);
    free(f);
    return 0;
}

static saef_rc_t lookup(fx_t *f, const char *id, saef_eb_answer_t *ans)
{
    char detail[SAEF_EB_DETAIL_MAX];

    return saef_eb_lookup(f->eb, id, strlen(id), 2000, ans, detail, sizeof(detail));
}

/* saef_eb_begin() at now (NULL: the current time). */
static saef_eb_status_t begin(fx_t *f, const char *id, const struct timespec *now,
                              saef_eb_answer_t *ans, saef_rc_t *rc, saef_rc_t *cause,
                              saef_cache_flight_t **flight)
{
    struct timespec ts;

    if (now == NULL) {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = &ts;
    }
    return saef_eb_begin(f->eb, id, strlen(id), now, ans, rc, cause, flight, NULL, 0);
}

/* saef_eb_finish() of a WAIT, blocking for at most 2 s. */
static saef_rc_t finish(fx_t *f, saef_cache_flight_t *flight, saef_eb_answer_t *ans)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    return saef_eb_finish(f->eb, flight, &deadline, ans, NULL, 0);
}

/* Requests the MAF client took (submitted) and answered (requests). */
static void assert_maf_asked(fx_t *f, unsigned n)
{
    saef_maf_stats_t st;

    assert_int_equal(saef_maf_client_stats(f->maf, 0, &st), SAEF_OK);
    assert_int_equal(st.submitted, n);
    assert_int_equal(st.requests, n);
}

/* The key is in the cache: a begin answers at once with the same key, whoever was asked. */
static void assert_cached(fx_t *f, const char *id, const saef_eb_answer_t *want)
{
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    saef_rc_t rc, cause;

    assert_int_equal(begin(f, id, NULL, &ans, &rc, &cause, &flight), SAEF_EB_DONE);
    assert_int_equal(rc, SAEF_OK);
    assert_null(flight);
    assert_int_equal(ans.psk_len, want->psk_len);
    assert_memory_equal(ans.psk, want->psk, want->psk_len);
    assert_int_equal(ans.binding.kind, want->binding.kind);
    assert_string_equal(ans.binding.peer_id, want->binding.peer_id);
    saef_eb_answer_clear(&ans);
}

/* The handshake got the store's key and the binding of its value. */
static void assert_store_key(fx_t *f, const saef_eb_answer_t *ans)
{
    assert_int_equal(ans->psk_len, 32);
    assert_memory_equal(ans->psk, f->store.value.psk, 32);
    assert_int_equal(ans->binding.kind, SAEF_PEER_CSE_ID);
    assert_string_equal(ans->binding.peer_id, "//sp.example.com/vault-cse");
    assert_string_equal(ans->binding.credential_id, "");
    assert_string_equal(ans->binding.key_id, "AEV1@maf.example.com");
    assert_string_equal(ans->binding.maf_fqdn, "maf.example.com");
    assert_string_equal(ans->binding.admin_fqdn, "vault.example.com");
    assert_int_equal(ans->binding.kc_expiry.tv_sec, f->store.value.expiry.tv_sec);
    assert_int_equal(ans->binding.suid, 32);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_not_ours_never_reaches_the_maf(void **state)
{
    static const char *ids[] = {"AE1@maf.other.com", "no-at-sign", "", "@", "AE1@",
                                "AE1@maf.example.com.evil.net", "AE1@[::1]"};
    fx_t *f = *state;
    saef_eb_answer_t ans;
    size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_int_equal(lookup(f, ids[i], &ans), SAEF_E_MAF_UNKNOWN);
    assert_int_equal(requests_of(f->maf), 0);
}

static void test_malformed_identity_of_our_maf_is_refused_without_request(void **state)
{
    static const struct {
        const char *id;
        saef_rc_t rc;
    } cases[] = {
        {"@maf.example.com", SAEF_E_ID_REL_EMPTY},
        {"bad key@maf.example.com", SAEF_E_ID_REL_CHAR},
        {"a@b@maf.example.com", SAEF_E_ID_REL_CHAR},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@maf.example.com",
         SAEF_E_ID_REL_TOO_LONG},
    };
    fx_t *f = *state;
    saef_eb_answer_t ans;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(lookup(f, cases[i].id, &ans), cases[i].rc);
    assert_int_equal(requests_of(f->maf), 0);
}

static void test_ae_binding_and_cache_hit(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    assert_int_equal(lookup(f, "AE1@MAF.Example.COM.", &ans), SAEF_OK);
    assert_int_equal(ans.psk_len, 32);
    assert_int_equal(ans.psk[0], 0xa0);
    assert_int_equal(ans.binding.kind, SAEF_PEER_AE_ID);
    assert_string_equal(ans.binding.peer_id, "//sp.example.com/in-cse/Cdev");
    /* One cache entry however the peer spells the MAF's name. */
    assert_string_equal(ans.binding.key_id, "AE1@maf.example.com");
    assert_string_equal(ans.binding.maf_fqdn, "maf.example.com");
    assert_string_equal(ans.binding.admin_fqdn, "admin.example.com");
    assert_int_equal(ans.binding.suid, 32);
    saef_eb_answer_clear(&ans);
    assert_int_equal(ans.psk[0], 0);
    assert_int_equal(lookup(f, "AE1@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(requests_of(f->maf), 1);
    assert_int_equal(f->fetch_reports, 1);
}

static void test_cse_and_kmid_bindings(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    assert_int_equal(lookup(f, "CSE1@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(ans.binding.kind, SAEF_PEER_CSE_ID);
    assert_string_equal(ans.binding.peer_id, "//sp.example.com/mn-cse");
    assert_string_equal(ans.binding.credential_id, "");

    /* A KmID the credential map knows: bound to the mapped CSE-ID. */
    assert_int_equal(lookup(f, "KMKNOWN7@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(ans.binding.kind, SAEF_PEER_CSE_ID);
    assert_string_equal(ans.binding.peer_id, "//sp.example.com/gw-cse");
    assert_string_equal(ans.binding.credential_id, "11-KMKNOWN7@maf.example.com");

    /* One it does not know: stays an unresolved Credential-ID. */
    assert_int_equal(lookup(f, "KMOTHER@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(ans.binding.kind, SAEF_PEER_CREDENTIAL_ID);
    assert_string_equal(ans.binding.peer_id, "11-KMOTHER@maf.example.com");
}

static void test_refusal_cached_outage_not(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    saef_rc_t rc, cause;

    assert_int_equal(lookup(f, "REF1@maf.example.com", &ans), SAEF_E_MAF_REFUSED);
    /* The refusal is remembered: no second request, and the cause is kept. */
    assert_int_equal(begin(f, "REF1@maf.example.com", NULL, &ans, &rc, &cause, &flight),
                     SAEF_EB_DONE);
    assert_int_equal(rc, SAEF_E_NEGATIVE_CACHED);
    assert_int_equal(cause, SAEF_E_MAF_REFUSED);
    assert_int_equal(requests_of(f->maf), 1);

    /* An outage is asked again each time. */
    assert_int_equal(lookup(f, "DOWN1@maf.example.com", &ans), SAEF_E_MAF_UNREACHABLE);
    assert_int_equal(lookup(f, "DOWN1@maf.example.com", &ans), SAEF_E_MAF_UNREACHABLE);
    assert_int_equal(requests_of(f->maf), 3);
}

static void test_expired_kc_fails_with_its_reason(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    struct timespec pause = {2, 100000000L};
    saef_rc_t rc, cause;

    assert_int_equal(lookup(f, "AESHORT@maf.example.com", &ans), SAEF_OK);
    nanosleep(&pause, NULL);
    assert_int_equal(begin(f, "AESHORT@maf.example.com", NULL, &ans, &rc, &cause, &flight),
                     SAEF_EB_DONE);
    assert_int_equal(rc, SAEF_E_NEGATIVE_CACHED);
    assert_int_equal(cause, SAEF_E_KEY_EXPIRED);
    assert_int_equal(ans.psk_len, 0);
    /* The MAF is not asked again about a key whose lifetime is over. */
    assert_int_equal(requests_of(f->maf), 1);
}

typedef struct worker {
    fx_t *f;
    saef_eb_status_t status;
    saef_rc_t rc;
    uint8_t first;
} worker_t;

static pthread_barrier_t barrier;

static void *work(void *arg)
{
    worker_t *w = arg;
    saef_eb_answer_t ans;

    pthread_barrier_wait(&barrier);
    w->rc = lookup(w->f, "AESHARED@maf.example.com", &ans);
    w->first = ans.psk[0];
    saef_eb_answer_clear(&ans);
    return NULL;
}

static void test_single_flight(void **state)
{
    enum { N = 20 };
    fx_t *f = *state;
    pthread_t th[N];
    worker_t w[N];
    int i;

    assert_int_equal(pthread_barrier_init(&barrier, NULL, N), 0);
    for (i = 0; i < N; i++) {
        w[i].f = f;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, SAEF_OK);
        assert_int_equal(w[i].first, 0xa0);
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(requests_of(f->maf), 1);
}

/* ---- the shared key store ---------------------------------------------------------------- */

static void test_store_hit_inside_get(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    store_has_key(&f->store, 600);
    assert_int_equal(lookup(f, "AEV1@MAF.Example.COM.", &ans), SAEF_OK);
    assert_store_key(f, &ans);
    /* Asked by the canonical Key Identifier, once; told nothing back; the MAF never asked. */
    assert_int_equal(f->store.gets, 1);
    assert_string_equal(f->store.get_key_id, "AEV1@maf.example.com");
    assert_int_equal(f->store.puts, 0);
    assert_maf_asked(f, 0);
    assert_int_equal(f->fetch_reports, 0);
    /* Cached: the next handshake neither asks the store nor the MAF. */
    assert_cached(f, "AEV1@maf.example.com", &ans);
    assert_int_equal(f->store.gets, 1);
    assert_maf_asked(f, 0);
    saef_eb_answer_clear(&ans);
}

static void test_store_hit_from_another_thread(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    saef_rc_t rc, cause;

    store_has_key(&f->store, 600);
    f->store.async = f->store.held = true;
    assert_int_equal(begin(f, "AEV1@maf.example.com", NULL, &ans, &rc, &cause, &flight),
                     SAEF_EB_WAIT);
    assert_non_null(flight);
    assert_int_equal(store_gets(&f->store), 1);
    /* Nothing decided until the store answers. */
    assert_false(saef_cache_flight_poll(flight, NULL, &rc, NULL));
    store_release(&f->store);
    assert_int_equal(finish(f, flight, &ans), SAEF_OK);
    assert_store_key(f, &ans);
    assert_int_equal(f->store.puts, 0);
    assert_maf_asked(f, 0);
    assert_cached(f, "AEV1@maf.example.com", &ans);
    assert_int_equal(store_gets(&f->store), 1);
    saef_eb_answer_clear(&ans);
}

/* A key the store does not know comes from the MAF, once, and is handed to put(). */
static void test_store_miss_asks_maf_and_keeps_its_key(void **state)
{
    static const struct {
        const char *id, *key_id;
        bool async;
        saef_maf_source_kind_t kind;
        const char *source_id;
    } cases[] = {
        {"AE1@Maf.Example.Com", "AE1@maf.example.com", false, SAEF_MAF_SOURCE_AE_ID,
         "//sp.example.com/in-cse/Cdev"},
        {"KM1@maf.example.com", "KM1@maf.example.com", true, SAEF_MAF_SOURCE_KMID,
         "KM1@maf.example.com"},
    };
    fx_t *f = *state;
    saef_eb_answer_t ans;
    const saef_cache_value_t *put = &f->store.put_value;
    time_t before, after;
    unsigned i, k;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->store.async = cases[i].async;
        before = time(NULL);
        assert_int_equal(lookup(f, cases[i].id, &ans), SAEF_OK);
        after = time(NULL);
        assert_int_equal(ans.psk[0], 0xa0); /* the MAF's key */
        assert_int_equal(f->store.gets, i + 1);
        assert_maf_asked(f, i + 1);
        assert_int_equal(f->store.puts, i + 1);
        assert_string_equal(f->store.put_key_id, cases[i].key_id);
        assert_int_equal(put->psk_len, 32);
        for (k = 0; k < 32; k++)
            assert_int_equal(put->psk[k], 0xa0 + k);
        /* the MAF's expirationTime: the script's time(NULL) + 3600 */
        assert_in_range(put->expiry.tv_sec, before + 3600, after + 3600);
        assert_int_equal(put->expiry.tv_sec, ans.binding.kc_expiry.tv_sec);
        assert_int_equal(put->expiry.tv_nsec, ans.binding.kc_expiry.tv_nsec);
        assert_int_equal(put->suid, 32);
        assert_int_equal(put->source_kind, cases[i].kind);
        assert_string_equal(put->source_id, cases[i].source_id);
        assert_string_equal(put->admin_fqdn, "admin.example.com");
        assert_cached(f, cases[i].key_id, &ans);
        assert_int_equal(f->store.gets, i + 1);
        assert_maf_asked(f, i + 1);
        assert_int_equal(f->store.puts, i + 1);
        saef_eb_answer_clear(&ans);
    }
}

static void test_store_revocation_fails_and_is_cached(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    struct timespec later;
    saef_rc_t rc, cause;

    f->store.answer = SAEF_E_KEY_REVOKED;
    f->store.async = true;
    assert_int_equal(lookup(f, "AE1@maf.example.com", &ans), SAEF_E_KEY_REVOKED);
    assert_int_equal(ans.psk_len, 0);
    assert_int_equal(f->store.gets, 1);
    assert_maf_asked(f, 0);
    /* Within the negative TTL: refused at once with the cause, the store not asked again. */
    assert_int_equal(begin(f, "AE1@maf.example.com", NULL, &ans, &rc, &cause, &flight),
                     SAEF_EB_DONE);
    assert_int_equal(rc, SAEF_E_NEGATIVE_CACHED);
    assert_int_equal(cause, SAEF_E_KEY_REVOKED);
    assert_null(flight);
    assert_int_equal(store_gets(&f->store), 1);
    /* After it (60 s), the store is asked again. */
    clock_gettime(CLOCK_REALTIME, &later);
    later.tv_sec += 61;
    assert_int_equal(begin(f, "AE1@maf.example.com", &later, &ans, &rc, &cause, &flight),
                     SAEF_EB_WAIT);
    assert_int_equal(finish(f, flight, &ans), SAEF_E_KEY_REVOKED);
    assert_int_equal(store_gets(&f->store), 2);
    assert_maf_asked(f, 0);
    assert_int_equal(f->store.puts, 0);
}

/* What the store says apart from a key or a revocation, or a value it should not have kept,
 * sends the handshake to the MAF, and nothing of it is cached as a refusal. */
static void test_store_failures_ask_maf(void **state)
{
    static const struct {
        const char *id;
        saef_rc_t answer;
        int kind;          /* source_kind of the stored value (answer SAEF_OK) */
        const char *source; /* its source_id */
    } cases[] = {
        {"AE1@maf.example.com", SAEF_E_DB, 0, NULL},
        {"AE2@maf.example.com", SAEF_E_TIMEOUT, 0, NULL},
        {"AE3@maf.example.com", SAEF_OK, 7, "//sp.example.com/vault-cse"},     /* no such kind */
        {"AE4@maf.example.com", SAEF_OK, SAEF_MAF_SOURCE_CSE_ID, "evil"},      /* not a CSE-ID */
        {"AE5@maf.example.com", SAEF_OK, SAEF_MAF_SOURCE_AE_ID, "//sp.example.com/vault-cse"},
    };
    fx_t *f = *state;
    saef_eb_answer_t ans;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        store_has_key(&f->store, 600);
        f->store.answer = cases[i].answer;
        if (cases[i].source != NULL) {
            f->store.value.source_kind = cases[i].kind;
            snprintf(f->store.value.source_id, sizeof(f->store.value.source_id), "%s",
                     cases[i].source);
        }
        assert_int_equal(lookup(f, cases[i].id, &ans), SAEF_OK);
        assert_int_equal(ans.psk[0], 0xa0); /* the MAF's key */
        assert_int_equal(ans.binding.kind, SAEF_PEER_AE_ID);
        assert_int_equal(f->store.gets, i + 1);
        assert_maf_asked(f, i + 1);
        assert_int_equal(f->store.puts, i + 1);
    }
}

/* A store that cannot take the lookup (an error from get(), done() never called): the MAF. */
static void test_store_get_error_asks_maf(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    store_has_key(&f->store, 600); /* never told: get() fails first */
    f->store.get_rc = SAEF_E_BUSY;
    assert_int_equal(lookup(f, "AE1@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(ans.psk[0], 0xa0);
    assert_int_equal(ans.binding.kind, SAEF_PEER_AE_ID);
    assert_int_equal(f->store.gets, 1);
    assert_maf_asked(f, 1);
    assert_int_equal(f->store.puts, 1);
    saef_eb_answer_clear(&ans);
}

/* Only keys are kept: neither a MAF refusal nor an outage reaches put(). */
static void test_store_not_told_maf_failures(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    assert_int_equal(lookup(f, "REF1@maf.example.com", &ans), SAEF_E_MAF_REFUSED);
    assert_int_equal(lookup(f, "DOWN1@maf.example.com", &ans), SAEF_E_MAF_UNREACHABLE);
    assert_int_equal(f->store.gets, 2);
    assert_maf_asked(f, 2);
    assert_int_equal(f->store.puts, 0);
    /* ... while a key in the same fixture is. */
    assert_int_equal(lookup(f, "AE1@maf.example.com", &ans), SAEF_OK);
    assert_int_equal(f->store.puts, 1);
    saef_eb_answer_clear(&ans);
}

/* A key that the store returns already expired is not handed out, and the MAF is not asked. */
static void test_store_expired_key_refused(void **state)
{
    fx_t *f = *state;
    saef_eb_answer_t ans;

    store_has_key(&f->store, -10);
    assert_int_equal(lookup(f, "AEV1@maf.example.com", &ans), SAEF_E_KEY_EXPIRED);
    assert_int_equal(ans.psk_len, 0);
    assert_maf_asked(f, 0);
    assert_int_equal(f->store.puts, 0);
}

/* Lookups that all began before the (slow) store answered: one get() for all of them. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned begun;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void *work_begin_then_finish(void *arg)
{
    worker_t *w = arg;
    saef_eb_answer_t ans;
    saef_cache_flight_t *flight;
    saef_rc_t cause;

    w->status = begin(w->f, "AEV1@maf.example.com", NULL, &ans, &w->rc, &cause, &flight);
    pthread_mutex_lock(&gate.mu);
    gate.begun++;
    pthread_cond_signal(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    if (w->status == SAEF_EB_WAIT)
        w->rc = finish(w->f, flight, &ans);
    w->first = ans.psk[0];
    saef_eb_answer_clear(&ans);
    return NULL;
}

static void test_store_single_flight(void **state)
{
    enum { N = 20 };
    fx_t *f = *state;
    pthread_t th[N];
    worker_t w[N];
    unsigned gets_while_held;
    int i;

    store_has_key(&f->store, 600);
    f->store.async = f->store.held = true;
    gate.begun = 0;
    for (i = 0; i < N; i++) {
        w[i].f = f;
        assert_int_equal(pthread_create(&th[i], NULL, work_begin_then_finish, &w[i]), 0);
    }
    pthread_mutex_lock(&gate.mu);
    while (gate.begun < N)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
    gets_while_held = store_gets(&f->store);
    store_release(&f->store);
    for (i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(gets_while_held, 1);
    for (i = 0; i < N; i++) {
        assert_int_equal(w[i].status, SAEF_EB_WAIT);
        assert_int_equal(w[i].rc, SAEF_OK);
        assert_int_equal(w[i].first, 0x50);
    }
    assert_int_equal(store_gets(&f->store), 1);
    assert_maf_asked(f, 0);
}

static void test_binding_ticket_encoding(void **state)
{
    saef_eb_binding_t b = {.kind = SAEF_PEER_CREDENTIAL_ID, .suid = 32}, back;
    char buf[1400];
    size_t n;
    bool resumable = false;

    (void)state;
    snprintf(b.peer_id, sizeof(b.peer_id), "11-km1@maf.example.com");
    snprintf(b.credential_id, sizeof(b.credential_id), "11-km1@maf.example.com");
    snprintf(b.key_id, sizeof(b.key_id), "ABC@maf.example.com");
    snprintf(b.maf_fqdn, sizeof(b.maf_fqdn), "maf.example.com");
    snprintf(b.admin_fqdn, sizeof(b.admin_fqdn), "admin.example.com");
    b.kc_expiry.tv_sec = 1795941602;
    n = saef_tls_binding_encode(&b, true, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(saef_tls_binding_decode(buf, n, &back, &resumable), SAEF_OK);
    assert_true(resumable);
    assert_int_equal(back.kind, SAEF_PEER_CREDENTIAL_ID);
    assert_int_equal(back.kc_expiry.tv_sec, 1795941602);
    assert_int_equal(back.suid, 32);
    assert_string_equal(back.peer_id, "11-km1@maf.example.com");
    assert_string_equal(back.key_id, "ABC@maf.example.com");
    assert_string_equal(back.admin_fqdn, "admin.example.com");
    /* Data that is not ours, or cut short, is refused. */
    assert_int_equal(saef_tls_binding_decode("hello", 5, &back, &resumable), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_tls_binding_decode(buf, 12, &back, &resumable), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_tls_binding_encode(&b, true, buf, 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_ours_never_reaches_the_maf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_identity_of_our_maf_is_refused_without_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ae_binding_and_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cse_and_kmid_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_cached_outage_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_kc_fails_with_its_reason, setup, teardown),
        cmocka_unit_test(test_binding_ticket_encoding),
        cmocka_unit_test_setup_teardown(test_store_hit_inside_get, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_failures_ask_maf, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_hit_from_another_thread, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_miss_asks_maf_and_keeps_its_key, setup_store,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_revocation_fails_and_is_cached, setup_store,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_get_error_asks_maf, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_not_told_maf_failures, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_expired_key_refused, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_store_single_flight, setup_store, teardown),
    };

    return cmocka_run_group_tests_name("entityb", tests, NULL, NULL);
}
