/*
 * Entity B's decision engine over a scripted MAF binding: allow-list before any request,
 * malformed identities of a configured MAF refused without a request, single flight, negative
 * caching of refusals but not of outages, bindings from each kind of Source MAF Client ID
 * (CSE-ID, AE-ID, KmID resolved or not through the credential map), and the ticket encoding
 * that carries a binding across resumption.
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

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    saef_maf_client_t *maf;
    saef_cache_t *cache;
    saef_credmap_live_t *credmap;
    saef_eb_t *eb;
    unsigned fetch_reports;
} fx_t;

static void on_fetch(void *arg, const char *key_id, const saef_maf_result_t *res)
{
    fx_t *f = arg;

    (void)key_id;
    (void)res;
    f->fetch_reports++;
}

static int setup(void **state)
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
    saef_credmap_t *map;

    assert_non_null(f);
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
    assert_int_equal(saef_eb_new(&ep2, &f->eb), SAEF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

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
    struct timespec now;
    saef_rc_t rc, cause;

    assert_int_equal(lookup(f, "REF1@maf.example.com", &ans), SAEF_E_MAF_REFUSED);
    /* The refusal is remembered: no second request, and the cause is kept. */
    clock_gettime(CLOCK_REALTIME, &now);
    assert_int_equal(saef_eb_begin(f->eb, "REF1@maf.example.com", 20, &now, &ans, &rc, &cause,
                                   &flight, NULL, 0),
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
    struct timespec now, pause = {2, 100000000L};
    saef_rc_t rc, cause;

    assert_int_equal(lookup(f, "AESHORT@maf.example.com", &ans), SAEF_OK);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_REALTIME, &now);
    assert_int_equal(saef_eb_begin(f->eb, "AESHORT@maf.example.com", 23, &now, &ans, &rc, &cause,
                                   &flight, NULL, 0),
                     SAEF_EB_DONE);
    assert_int_equal(rc, SAEF_E_NEGATIVE_CACHED);
    assert_int_equal(cause, SAEF_E_KEY_EXPIRED);
    assert_int_equal(ans.psk_len, 0);
    /* The MAF is not asked again about a key whose lifetime is over. */
    assert_int_equal(requests_of(f->maf), 1);
}

typedef struct worker {
    fx_t *f;
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
    };

    return cmocka_run_group_tests_name("entityb", tests, NULL, NULL);
}
