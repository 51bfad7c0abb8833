/* Key cache, single-threaded: parameters, hits, expiry, LRU, negative entries, eviction, flights
 * on a fake clock.  Expected values come from each test's own inputs.  The administrative side
 * is in test_cache_admin.c, threads in test_cache_threads.c; main() runs them all. */
#include "test_cache.h"

#include "cache_internal.h" /* saef_cache_siphash, for its reference vectors */

/* ---- parameters ---- */

static void test_new_rejects_bad_params(void **state)
{
    static const saef_cache_allocator_t half = {.alloc = NULL, .free = NULL};
    saef_cache_params_t good = {.capacity = 8, .max_flights = 2, .flight_timeout_ms = 1000};
    saef_cache_params_t p;
    saef_cache_t *c = (saef_cache_t *)&p;

    assert_int_equal(saef_cache_new(NULL, &c), SAEF_E_INVALID_ARG);
    assert_null(c);
    assert_int_equal(saef_cache_new(&good, NULL), SAEF_E_INVALID_ARG);

    struct {
        const char *what;
        size_t capacity, max_flights;
        uint64_t flight_timeout_ms;
        unsigned shards;
        const saef_cache_allocator_t *allocator;
    } bad[] = {
        {"capacity 0", 0, 2, 1000, 0, NULL},
        {"capacity too large", (size_t)SAEF_CACHE_CAPACITY_MAX + 1, 2, 1000, 0, NULL},
        {"max_flights 0", 8, 0, 1000, 0, NULL},
        {"max_flights too large", 8, (size_t)SAEF_CACHE_FLIGHTS_MAX + 1, 1000, 0, NULL},
        {"flight timeout 0", 8, 2, 0, 0, NULL},
        {"shards not a power of two", 8, 2, 1000, 3, NULL},
        {"more shards than capacity", 8, 2, 1000, 16, NULL},
        {"shards too many", SAEF_CACHE_CAPACITY_MAX, 2, 1000, 512, NULL},
        {"allocator without functions", 8, 2, 1000, 0, &half},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = good;
        p.capacity = bad[i].capacity;
        p.max_flights = bad[i].max_flights;
        p.flight_timeout_ms = bad[i].flight_timeout_ms;
        p.shards = bad[i].shards;
        p.allocator = bad[i].allocator;
        c = (saef_cache_t *)&p;
        if (saef_cache_new(&p, &c) != SAEF_E_INVALID_ARG || c != NULL)
            fail_msg("accepted: %s", bad[i].what);
    }
    /* the edges of the ranges are fine */
    p = good;
    p.capacity = 1;
    p.max_flights = 1;
    p.shards = 1;
    assert_int_equal(saef_cache_new(&p, &c), SAEF_OK);
    saef_cache_free(c);
    saef_cache_free(NULL);
}

static void test_bad_args(void **state)
{
    saef_cache_t *c = new_cache(4, 2, 0, 1000);
    saef_cache_t *other = new_cache(4, 2, 0, 1000);
    struct timespec now = ts(T0, 0), bad_ns = ts(T0, 1000000000L);
    saef_cache_flight_t *f = (saef_cache_flight_t *)&now, *g = NULL;
    char longid[SAEF_CACHE_KEY_MAX + 1];
    saef_cache_stats_t st;
    saef_rc_t rc = SAEF_OK;

    memset(longid, 'a', sizeof(longid));
    assert_int_equal(saef_cache_lookup(NULL, "k@m.example", 11, &now, NULL, &rc, &f),
                     SAEF_CACHE_ERROR);
    assert_int_equal(rc, SAEF_E_INVALID_ARG);
    assert_null(f);
    assert_int_equal(saef_cache_lookup(c, NULL, 11, &now, NULL, &rc, &f), SAEF_CACHE_ERROR);
    assert_int_equal(saef_cache_lookup(c, "", 0, &now, NULL, &rc, &f), SAEF_CACHE_ERROR);
    assert_int_equal(saef_cache_lookup(c, longid, sizeof(longid), &now, NULL, &rc, &f),
                     SAEF_CACHE_ERROR);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, NULL, NULL, &rc, &f),
                     SAEF_CACHE_ERROR);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &bad_ns, NULL, &rc, &f),
                     SAEF_CACHE_ERROR);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, &rc, NULL),
                     SAEF_CACHE_ERROR);
    assert_int_equal(rc, SAEF_E_INVALID_ARG);
    /* the longest legal identifier is accepted */
    assert_int_equal(saef_cache_lookup(c, longid, SAEF_CACHE_KEY_MAX, &now, NULL, &rc, &g),
                     SAEF_CACHE_MISS_FETCH);

    /* a flight of another cache, a NULL flight, a second completion */
    assert_int_equal(saef_cache_complete(other, g, SAEF_E_MAF_REFUSED, NULL, true, &now),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_complete(c, NULL, SAEF_E_MAF_REFUSED, NULL, true, &now),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_complete(c, g, SAEF_E_MAF_UNREACHABLE, NULL, false, &now), SAEF_OK);
    assert_int_equal(saef_cache_complete(c, g, SAEF_E_MAF_UNREACHABLE, NULL, false, &now),
                     SAEF_E_STATE);
    saef_cache_flight_release(g);

    assert_int_equal(saef_cache_evict(NULL, "k", 1), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_evict(c, "", 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_stats(NULL, &st), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_stats(c, NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_sweep(c, NULL, NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_flight_wait(NULL, NULL, NULL), SAEF_E_INVALID_ARG);
    assert_true(saef_cache_flight_poll(NULL, &now, &rc, NULL));
    assert_int_equal(rc, SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_flight_subscribe_fd(NULL, 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_flight_deadline(NULL, &now), SAEF_E_INVALID_ARG);
    saef_cache_flight_release(NULL);
    saef_cache_value_clear(NULL);
    saef_cache_free(other);
    saef_cache_free(c);
}

static void test_siphash_reference_vectors(void **state)
{
    /* SipHash-2-4 paper (Appendix A) and the reference implementation's vectors_sip64 table:
     * key 00 01 .. 0f, message 00 01 .. n-1. */
    static const struct {
        size_t n;
        uint64_t want;
    } v[] = {
        {0, UINT64_C(0x726fdb47dd0e0e31)},  {1, UINT64_C(0x74f839c593dc67fd)},
        {8, UINT64_C(0x93f5f5799a932462)},  {15, UINT64_C(0xa129ca6149be45e5)},
        {16, UINT64_C(0x3f2acc7f57c29bdb)},
    };
    uint8_t key[16], msg[16];

    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_true(saef_cache_siphash(key, msg, v[i].n) == v[i].want);
}

/* ---- hits, expiry ---- */

static void test_hit_and_miss(void **state)
{
    saef_cache_t *c = new_cache(16, 4, 0, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_value_t v, got;
    saef_rc_t rc = -999;
    saef_cache_flight_t *f = (saef_cache_flight_t *)&v;

    make_value(&v, 7, T0 + 3600);
    put_key(c, "dev1@maf.example", &now, &v);

    memset(&got, 0, sizeof(got));
    assert_int_equal(saef_cache_lookup(c, "dev1@maf.example", 16, &now, &got, &rc, &f),
                     SAEF_CACHE_HIT);
    assert_int_equal(rc, SAEF_OK);
    assert_null(f);
    assert_memory_equal(&got, &v, sizeof(v));
    saef_cache_value_clear(&got);

    /* exact bytes: another identity, or the same in other case, is not this entry */
    assert_int_equal(probe(c, "dev2@maf.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    assert_int_equal(probe(c, "DEV1@maf.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    assert_int_equal(probe(c, "dev1@maf.exampl", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    /* a NULL out_value is allowed on a hit */
    assert_int_equal(probe(c, "dev1@maf.example", &now, NULL, &rc), SAEF_CACHE_HIT);
    saef_cache_free(c);
}

static void test_expiry_at_expiration_time(void **state)
{
    saef_cache_t *c = new_cache(16, 4, 0, 1000);
    const time_t expiry = T0 + 600;
    struct timespec at = ts(T0, 0), before = ts(expiry - 1, 0), last = ts(expiry - 1, 999999999);
    struct timespec exact = ts(expiry, 0);
    saef_cache_value_t v;
    saef_cache_stats_t st;

    make_value(&v, 1, expiry);
    put_key(c, "k@maf.example", &at, &v);
    assert_int_equal(probe(c, "k@maf.example", &before, NULL, NULL), SAEF_CACHE_HIT);
    assert_int_equal(probe(c, "k@maf.example", &last, NULL, NULL), SAEF_CACHE_HIT);
    st = stats_of(c);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.expirations, 0);

    /* at expirationTime the key is gone: a miss, and the entry is removed */
    assert_int_equal(probe(c, "k@maf.example", &exact, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    st = stats_of(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.expirations, 1);
    saef_cache_free(c);
}

static void test_expired_answer_is_not_stored(void **state)
{
    saef_cache_t *c = new_cache(16, 4, 0, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    saef_cache_value_t v;
    saef_rc_t rc = SAEF_OK;

    make_value(&v, 2, T0); /* expires exactly now */
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &v, false, &now), SAEF_E_KEY_EXPIRED);
    assert_true(saef_cache_flight_poll(waiter, &now, &rc, NULL));
    assert_int_equal(rc, SAEF_E_KEY_EXPIRED);
    assert_int_equal(stats_of(c).entries, 0);
    saef_cache_flight_release(leader);
    saef_cache_flight_release(waiter);
    saef_cache_free(c);
}

static void test_max_ttl_caps_entry_life(void **state)
{
    saef_cache_params_t p = {.capacity = 4, .max_flights = 2, .flight_timeout_ms = 1000};
    saef_cache_t *c = NULL;
    struct timespec now = ts(T0, 0);
    saef_cache_value_t v;
    saef_cache_meta_t m;

    p.max_ttl_ms = 30000;
    assert_int_equal(saef_cache_new(&p, &c), SAEF_OK);
    make_value(&v, 3, T0 + 3600);
    put_key(c, "k@m.example", &now, &v);
    assert_int_equal(saef_cache_get_meta(c, "k@m.example", 11, &now, &m), SAEF_OK);
    assert_int_equal(m.expires.tv_sec, T0 + 30);
    assert_int_equal(m.kc_expiry.tv_sec, T0 + 3600);
    now = ts(T0 + 29, 999999999);
    assert_int_equal(probe(c, "k@m.example", &now, NULL, NULL), SAEF_CACHE_HIT);
    now = ts(T0 + 30, 0);
    assert_int_equal(probe(c, "k@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);

    /* a key that expires before the cap keeps its own expiry */
    make_value(&v, 4, T0 + 40);
    put_key(c, "k2@m.example", &now, &v);
    assert_int_equal(saef_cache_get_meta(c, "k2@m.example", 12, &now, &m), SAEF_OK);
    assert_int_equal(m.expires.tv_sec, T0 + 40);
    saef_cache_free(c);
}

/* ---- LRU ---- */

static void test_lru_eviction_at_capacity(void **state)
{
    saef_cache_t *c = new_cache(3, 4, 60000, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_value_t v;
    saef_cache_stats_t st;

    make_value(&v, 9, T0 + 3600);
    put_key(c, "a@m.example", &now, &v);
    put_key(c, "b@m.example", &now, &v);
    put_key(c, "c@m.example", &now, &v); /* recency, newest first: c b a */
    assert_int_equal(probe(c, "a@m.example", &now, NULL, NULL), SAEF_CACHE_HIT); /* a c b */
    put_key(c, "d@m.example", &now, &v); /* d a c b: b goes */
    assert_false(present(c, "b@m.example", &now));
    assert_true(present(c, "a@m.example", &now));
    assert_true(present(c, "c@m.example", &now));
    assert_true(present(c, "d@m.example", &now));
    st = stats_of(c);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);

    /* get_meta did not reorder: still d a c; a hit on c makes it c d a */
    assert_int_equal(probe(c, "c@m.example", &now, NULL, NULL), SAEF_CACHE_HIT);
    put_key(c, "e@m.example", &now, &v); /* e c d a: a goes */
    assert_false(present(c, "a@m.example", &now));
    assert_true(present(c, "c@m.example", &now));
    assert_true(present(c, "d@m.example", &now));
    assert_true(present(c, "e@m.example", &now));

    /* negative entries share the bound: f e c d, d goes */
    put_refusal(c, "f@m.example", &now, SAEF_E_MAF_REFUSED);
    assert_false(present(c, "d@m.example", &now));
    assert_true(present(c, "f@m.example", &now));
    st = stats_of(c);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.negative_entries, 1);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.capacity, 3);
    saef_cache_free(c);
}

/* ---- negative entries ---- */

static void test_negative_entry_ttl(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 5000, 1000);
    struct timespec now = ts(T0, 0), inside = ts(T0 + 4, 999999999), after = ts(T0 + 5, 0);
    saef_cache_value_t untouched;
    saef_rc_t rc = SAEF_OK;

    put_refusal(c, "bad@m.example", &now, SAEF_E_MAF_REFUSED);
    memset(&untouched, 0x11, sizeof(untouched));
    assert_int_equal(probe(c, "bad@m.example", &inside, &untouched, &rc), SAEF_CACHE_NEGATIVE);
    assert_int_equal(rc, SAEF_E_MAF_REFUSED);
    assert_int_equal(untouched.psk[0], 0x11); /* nothing written on a negative hit */
    assert_int_equal(stats_of(c).negative_hits, 1);
    assert_int_equal(probe(c, "bad@m.example", &after, NULL, &rc), SAEF_CACHE_MISS_FETCH);
    assert_int_equal(stats_of(c).expirations, 1);
    saef_cache_free(c);
}

static void test_refusal_cached_only_when_asked(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 5000, 1000);
    saef_cache_t *nottl = new_cache(8, 4, 0, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *f = NULL;

    assert_int_equal(saef_cache_lookup(c, "x@m.example", 11, &now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_complete(c, f, SAEF_E_MAF_REFUSED, NULL, false, &now), SAEF_OK);
    saef_cache_flight_release(f);
    assert_int_equal(probe(c, "x@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);

    /* negative_ttl_ms 0 turns negative caching off */
    put_refusal(nottl, "x@m.example", &now, SAEF_E_MAF_REFUSED);
    assert_int_equal(probe(nottl, "x@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    assert_int_equal(stats_of(nottl).negative_entries, 0);
    saef_cache_free(nottl);
    saef_cache_free(c);
}

static void test_transient_failures_not_cached(void **state)
{
    static const saef_rc_t transient[] = {SAEF_E_MAF_UNREACHABLE, SAEF_E_MAF_TIMEOUT,
                                          SAEF_E_MAF_CIRCUIT_OPEN, SAEF_E_TIMEOUT, SAEF_E_NOMEM};
    saef_cache_t *c = new_cache(8, 4, 5000, 1000);
    struct timespec now = ts(T0, 0);

    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        saef_cache_flight_t *leader = NULL, *waiter = NULL;
        saef_rc_t rc = SAEF_OK;

        assert_true(saef_cache_rc_transient(transient[i]));
        assert_int_equal(saef_cache_lookup(c, "t@m.example", 11, &now, NULL, NULL, &leader),
                         SAEF_CACHE_MISS_FETCH);
        assert_int_equal(saef_cache_lookup(c, "t@m.example", 11, &now, NULL, NULL, &waiter),
                         SAEF_CACHE_MISS_PENDING);
        /* even when the caller asks for it */
        assert_int_equal(saef_cache_complete(c, leader, transient[i], NULL, true, &now), SAEF_OK);
        assert_true(saef_cache_flight_poll(waiter, &now, &rc, NULL));
        assert_int_equal(rc, transient[i]); /* the flight still carries the failure */
        saef_cache_flight_release(leader);
        saef_cache_flight_release(waiter);
        assert_int_equal(stats_of(c).entries, 0);
        assert_int_equal(probe(c, "t@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    }
    assert_false(saef_cache_rc_transient(SAEF_E_MAF_REFUSED));
    assert_false(saef_cache_rc_transient(SAEF_E_MAF_SUID));
    saef_cache_free(c);
}

/* ---- values the leader must not hand in ---- */

static void test_complete_rejects_bad_values(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 5000, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_value_t v;

    for (int i = 0; i < 4; i++) {
        saef_cache_flight_t *leader = NULL, *waiter = NULL;
        const saef_cache_value_t *arg = &v;
        saef_rc_t rc = SAEF_OK;

        make_value(&v, 5, T0 + 60);
        if (i == 0)
            v.psk_len = 0;
        else if (i == 1)
            v.psk_len = SAEF_CACHE_PSK_MAX + 1;
        else if (i == 2)
            memset(v.source_id, 'x', sizeof(v.source_id)); /* no NUL */
        else
            arg = NULL;
        assert_int_equal(saef_cache_lookup(c, "v@m.example", 11, &now, NULL, NULL, &leader),
                         SAEF_CACHE_MISS_FETCH);
        assert_int_equal(saef_cache_lookup(c, "v@m.example", 11, &now, NULL, NULL, &waiter),
                         SAEF_CACHE_MISS_PENDING);
        assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, arg, false, &now),
                         SAEF_E_INVALID_ARG);
        assert_true(saef_cache_flight_poll(waiter, NULL, &rc, NULL));
        assert_int_equal(rc, SAEF_E_INVALID_ARG);
        assert_int_equal(stats_of(c).entries, 0);
        saef_cache_flight_release(leader);
        saef_cache_flight_release(waiter);
    }
    saef_cache_free(c);
}

/* ---- evict ---- */

static void test_evict(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 5000, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *leader = NULL;
    saef_cache_value_t v;

    make_value(&v, 6, T0 + 60);
    put_key(c, "k@m.example", &now, &v);
    put_refusal(c, "n@m.example", &now, SAEF_E_MAF_REFUSED);
    assert_int_equal(saef_cache_evict(c, "k@m.example", 11), SAEF_OK);
    assert_int_equal(saef_cache_evict(c, "n@m.example", 11), SAEF_OK);
    assert_int_equal(saef_cache_evict(c, "k@m.example", 11), SAEF_E_NOT_FOUND);
    assert_int_equal(stats_of(c).removals, 2);
    assert_int_equal(stats_of(c).entries, 0);

    /* a fetch in flight is not cancelled: its answer is stored afterwards */
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_evict(c, "k@m.example", 11), SAEF_E_NOT_FOUND);
    assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &v, false, &now), SAEF_OK);
    saef_cache_flight_release(leader);
    assert_int_equal(probe(c, "k@m.example", &now, NULL, NULL), SAEF_CACHE_HIT);
    saef_cache_free(c);
}

/* ---- flights on a fake clock ---- */

static void test_busy_at_max_flights(void **state)
{
    saef_cache_t *c = new_cache(8, 2, 0, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *a = NULL, *b = NULL, *x = (saef_cache_flight_t *)&now, *a2 = NULL;
    saef_rc_t rc = SAEF_OK;
    saef_cache_value_t v;
    saef_cache_stats_t st;

    make_value(&v, 8, T0 + 60);
    assert_int_equal(saef_cache_lookup(c, "a@m.example", 11, &now, NULL, NULL, &a),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "b@m.example", 11, &now, NULL, NULL, &b),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "c@m.example", 11, &now, NULL, &rc, &x), SAEF_CACHE_BUSY);
    assert_int_equal(rc, SAEF_E_BUSY);
    assert_null(x);
    /* joining a flight that exists costs nothing and is allowed */
    assert_int_equal(saef_cache_lookup(c, "a@m.example", 11, &now, NULL, NULL, &a2),
                     SAEF_CACHE_MISS_PENDING);
    st = stats_of(c);
    assert_int_equal(st.flights, 2);
    assert_int_equal(st.busy, 1);
    assert_int_equal(saef_cache_complete(c, a, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_int_equal(stats_of(c).flights, 1);
    assert_int_equal(probe(c, "c@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_complete(c, b, SAEF_E_MAF_UNREACHABLE, NULL, false, &now), SAEF_OK);
    assert_int_equal(stats_of(c).flights, 0);
    saef_cache_flight_release(a);
    saef_cache_flight_release(a2);
    saef_cache_flight_release(b);
    saef_cache_free(c);
}

static void test_flight_deadline_on_fake_clock(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 2000);
    struct timespec now = ts(T0, 0), almost = ts(T0 + 1, 999999999), due = ts(T0 + 2, 0);
    saef_cache_flight_t *old = NULL, *waiter = NULL, *fresh = NULL;
    struct timespec dl;
    saef_cache_value_t v, got;
    saef_rc_t rc = SAEF_OK;

    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &old),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_flight_deadline(old, &dl), SAEF_OK);
    assert_int_equal(dl.tv_sec, T0 + 2);
    assert_int_equal(dl.tv_nsec, 0);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &almost, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    assert_false(saef_cache_flight_poll(waiter, &almost, &rc, NULL));
    assert_false(saef_cache_flight_poll(waiter, NULL, &rc, NULL));

    /* the deadline ends it for everyone */
    assert_true(saef_cache_flight_poll(waiter, &due, &rc, NULL));
    assert_int_equal(rc, SAEF_E_TIMEOUT);
    assert_true(saef_cache_flight_poll(old, NULL, &rc, NULL));
    assert_int_equal(rc, SAEF_E_TIMEOUT);
    assert_int_equal(stats_of(c).flight_timeouts, 1);
    assert_int_equal(stats_of(c).flights, 0);

    /* the next lookup leads a new flight */
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &due, NULL, NULL, &fresh),
                     SAEF_CACHE_MISS_FETCH);
    /* the stuck leader wakes up late: safe, and it does not overwrite the newer flight */
    make_value(&v, 1, T0 + 60);
    assert_int_equal(saef_cache_complete(c, old, SAEF_OK, &v, false, &due), SAEF_OK);
    assert_true(saef_cache_flight_poll(old, NULL, &rc, NULL));
    assert_int_equal(rc, SAEF_E_TIMEOUT); /* a result, once given, stays */
    assert_int_equal(stats_of(c).entries, 0);
    make_value(&v, 2, T0 + 60);
    assert_int_equal(saef_cache_complete(c, fresh, SAEF_OK, &v, false, &due), SAEF_OK);
    assert_int_equal(probe(c, "k@m.example", &due, &got, NULL), SAEF_CACHE_HIT);
    assert_memory_equal(got.psk, v.psk, 32);
    saef_cache_value_clear(&got);
    saef_cache_flight_release(old);
    saef_cache_flight_release(waiter);
    saef_cache_flight_release(fresh);
    saef_cache_free(c);
}

static void test_overdue_flight_replaced_by_lookup(void **state)
{
    saef_cache_t *c = new_cache(8, 1, 0, 1000);
    struct timespec now = ts(T0, 0), due = ts(T0 + 1, 0);
    saef_cache_flight_t *old = NULL, *fresh = NULL;
    saef_cache_value_t v, got;
    saef_rc_t rc = SAEF_OK;

    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &old),
                     SAEF_CACHE_MISS_FETCH);
    /* max_flights is 1 and the stuck flight holds it: the lookup at the deadline must still
     * be able to start over instead of answering BUSY forever */
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &due, NULL, NULL, &fresh),
                     SAEF_CACHE_MISS_FETCH);
    assert_true(saef_cache_flight_poll(old, NULL, &rc, NULL));
    assert_int_equal(rc, SAEF_E_TIMEOUT);
    /* a late answer is kept when nothing newer exists */
    assert_int_equal(saef_cache_complete(c, fresh, SAEF_E_MAF_UNREACHABLE, NULL, false, &due),
                     SAEF_OK);
    make_value(&v, 4, T0 + 60);
    assert_int_equal(saef_cache_complete(c, old, SAEF_OK, &v, false, &due), SAEF_OK);
    assert_int_equal(probe(c, "k@m.example", &due, &got, NULL), SAEF_CACHE_HIT);
    assert_memory_equal(got.psk, v.psk, 32);
    saef_cache_value_clear(&got);
    saef_cache_flight_release(old);
    saef_cache_flight_release(fresh);
    saef_cache_free(c);
}

static void test_sweep(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 1000, 5000);
    struct timespec now = ts(T0, 0), later = ts(T0 + 10, 0);
    saef_cache_flight_t *f = NULL;
    saef_cache_value_t v;
    saef_rc_t rc = SAEF_OK;
    size_t removed = 99;

    make_value(&v, 1, T0 + 5);
    put_key(c, "short@m.example", &now, &v);
    make_value(&v, 2, T0 + 60);
    put_key(c, "long@m.example", &now, &v);
    put_refusal(c, "neg@m.example", &now, SAEF_E_MAF_REFUSED);
    assert_int_equal(saef_cache_lookup(c, "stuck@m.example", 15, &now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_sweep(c, &now, &removed), SAEF_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(saef_cache_sweep(c, &later, &removed), SAEF_OK);
    assert_int_equal(removed, 2); /* short (T0+5) and neg (T0+1) */
    assert_true(present(c, "long@m.example", &later));
    assert_true(saef_cache_flight_poll(f, NULL, &rc, NULL));
    assert_int_equal(rc, SAEF_E_TIMEOUT);
    assert_int_equal(stats_of(c).entries, 1);
    assert_int_equal(stats_of(c).expirations, 2);
    assert_int_equal(stats_of(c).flights, 0);
    saef_cache_flight_release(f);
    saef_cache_free(c);
}

static void test_free_with_flights_outstanding(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 1000);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    saef_rc_t rc = SAEF_OK;

    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    saef_cache_free(c);
    /* the handles survive: finished with SAEF_E_STATE, and a deadline long past changes
     * nothing (the cache is not touched any more) */
    now = ts(T0 + 100, 0);
    assert_true(saef_cache_flight_poll(waiter, &now, &rc, NULL));
    assert_int_equal(rc, SAEF_E_STATE);
    assert_int_equal(saef_cache_flight_wait(leader, NULL, NULL), SAEF_E_STATE);
    saef_cache_flight_release(waiter);
    saef_cache_flight_release(leader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_params),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_siphash_reference_vectors),
        cmocka_unit_test(test_hit_and_miss),
        cmocka_unit_test(test_expiry_at_expiration_time),
        cmocka_unit_test(test_expired_answer_is_not_stored),
        cmocka_unit_test(test_max_ttl_caps_entry_life),
        cmocka_unit_test(test_lru_eviction_at_capacity),
        cmocka_unit_test(test_negative_entry_ttl),
        cmocka_unit_test(test_refusal_cached_only_when_asked),
        cmocka_unit_test(test_transient_failures_not_cached),
        cmocka_unit_test(test_complete_rejects_bad_values),
        cmocka_unit_test(test_evict),
        cmocka_unit_test(test_busy_at_max_flights),
        cmocka_unit_test(test_flight_deadline_on_fake_clock),
        cmocka_unit_test(test_overdue_flight_replaced_by_lookup),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_free_with_flights_outstanding),
        cmocka_unit_test(test_value_clear_zeroes),
        cmocka_unit_test(test_internal_memory_is_wiped),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_stats_counts),
        cmocka_unit_test(test_foreach_meta_never_exposes_keys),
        cmocka_unit_test(test_foreach_meta_many_entries),
        cmocka_unit_test(test_single_flight_50_ok),
        cmocka_unit_test(test_single_flight_50_refusal),
        cmocka_unit_test(test_fd_readable_on_completion),
        cmocka_unit_test(test_fd_subscribe_after_done_and_unsubscribe),
        cmocka_unit_test(test_fd_closed_early_is_never_written),
        cmocka_unit_test(test_wait_caller_deadline),
        cmocka_unit_test(test_wait_flight_deadline),
        cmocka_unit_test(test_stress),
    };

    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
