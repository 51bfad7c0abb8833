/* Key cache with threads: single flight, descriptors, deadlines on the real clock, and a
 * stress run.  Threads never call cmocka: they record what they saw and the main thread
 * asserts. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test_cache.h"

static struct timespec realnow(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return t;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t = realnow();

    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* 1 when fd becomes readable within ms, 0 otherwise. */
static int readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;

    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n == 1 && (p.revents & POLLIN) != 0;
}

static uint64_t drain(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return 0;
    return v;
}

/* ---- 50 lookups of one new identity ---- */

#define SF_THREADS 50
#define SF_ID "new-device@maf.example"

struct sf_shared {
    saef_cache_t *cache;
    pthread_barrier_t start, looked;
    saef_cache_value_t answer;
    saef_rc_t outcome; /* what the leader reports: SAEF_OK or a refusal */
};

struct sf_thread {
    struct sf_shared *sh;
    int idx;
    saef_cache_status_t st;
    saef_rc_t complete_rc;
    saef_rc_t rc; /* the flight's result as this thread observed it */
    int fd_signalled;
    saef_cache_value_t got;
};

static void *sf_run(void *arg)
{
    struct sf_thread *t = arg;
    struct sf_shared *sh = t->sh;
    saef_cache_flight_t *f = NULL;
    struct timespec now;

    pthread_barrier_wait(&sh->start);
    now = realnow();
    t->st = saef_cache_lookup(sh->cache, SF_ID, strlen(SF_ID), &now, NULL, NULL, &f);
    /* everyone has looked up before anyone completes */
    pthread_barrier_wait(&sh->looked);
    if (f == NULL)
        return NULL;
    if (t->st == SAEF_CACHE_MISS_FETCH) {
        usleep(50 * 1000); /* the MAF takes its time; most waiters are blocked by now */
        now = realnow();
        t->complete_rc = saef_cache_complete(
            sh->cache, f, sh->outcome, sh->outcome == SAEF_OK ? &sh->answer : NULL, true, &now);
    }
    /* The three ways of waiting, spread over the threads (the leader uses one too). */
    switch (t->idx % 3) {
    case 0: {
        struct timespec deadline = realtime_plus_ms(10000);

        t->rc = saef_cache_flight_wait(f, &deadline, &t->got);
        break;
    }
    case 1: /* an ASYNC job: look, pause, look again */
        for (;;) {
            now = realnow();
            if (saef_cache_flight_poll(f, &now, &t->rc, &t->got))
                break;
            sched_yield();
        }
        break;
    default: {
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        t->rc = -999;
        if (efd < 0 || saef_cache_flight_subscribe_fd(f, efd) != SAEF_OK)
            break;
        t->fd_signalled = readable_within(efd, 10000) && drain(efd) == 1;
        if (!saef_cache_flight_poll(f, NULL, &t->rc, &t->got))
            t->rc = -998; /* readable but not finished: wrong */
        close(efd);
        break;
    }
    }
    saef_cache_flight_release(f);
    return NULL;
}

static void run_single_flight(saef_rc_t outcome)
{
    struct sf_shared sh = {.outcome = outcome};
    struct sf_thread t[SF_THREADS];
    pthread_t tid[SF_THREADS];
    int fetch = 0, pending = 0, signalled = 0, leader = -1;
    saef_cache_value_t got;
    saef_cache_stats_t st;
    saef_rc_t rc = SAEF_OK;
    struct timespec now;

    sh.cache = new_cache(16, 4, 60000, 10000);
    make_value(&sh.answer, 0x99, realnow().tv_sec + 3600);
    assert_int_equal(pthread_barrier_init(&sh.start, NULL, SF_THREADS), 0);
    assert_int_equal(pthread_barrier_init(&sh.looked, NULL, SF_THREADS), 0);
    memset(t, 0, sizeof(t));
    for (int i = 0; i < SF_THREADS; i++) {
        t[i].sh = &sh;
        t[i].idx = i;
        assert_int_equal(pthread_create(&tid[i], NULL, sf_run, &t[i]), 0);
    }
    for (int i = 0; i < SF_THREADS; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);

    for (int i = 0; i < SF_THREADS; i++) {
        if (t[i].st == SAEF_CACHE_MISS_FETCH) {
            fetch++;
            leader = i;
        } else if (t[i].st == SAEF_CACHE_MISS_PENDING) {
            pending++;
        }
        if (t[i].idx % 3 == 2)
            signalled += t[i].fd_signalled;
        if (t[i].rc != outcome)
            fail_msg("thread %d (status %d) saw %d, the leader reported %d", i, (int)t[i].st,
                     t[i].rc, outcome);
        if (outcome == SAEF_OK)
            assert_memory_equal(t[i].got.psk, sh.answer.psk, 32);
        saef_cache_value_clear(&t[i].got);
    }
    assert_int_equal(fetch, 1);
    assert_int_equal(pending, SF_THREADS - 1);
    assert_int_equal(t[leader].complete_rc, SAEF_OK);
    assert_int_equal(signalled, SF_THREADS / 3); /* threads 2, 5, ..., 47 */

    st = stats_of(sh.cache);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.misses, SF_THREADS);
    assert_int_equal(st.flights, 0);
    /* and the answer is cached now */
    now = realnow();
    if (outcome == SAEF_OK) {
        assert_int_equal(probe(sh.cache, SF_ID, &now, &got, &rc), SAEF_CACHE_HIT);
        assert_memory_equal(got.psk, sh.answer.psk, 32);
        saef_cache_value_clear(&got);
    } else {
        assert_int_equal(probe(sh.cache, SF_ID, &now, NULL, &rc), SAEF_CACHE_NEGATIVE);
        assert_int_equal(rc, outcome);
    }
    pthread_barrier_destroy(&sh.start);
    pthread_barrier_destroy(&sh.looked);
    saef_cache_free(sh.cache);
}

void test_single_flight_50_ok(void **state)
{
    run_single_flight(SAEF_OK);
}

void test_single_flight_50_refusal(void **state)
{
    run_single_flight(SAEF_E_MAF_REFUSED);
}

/* ---- descriptors ---- */

struct later_complete {
    saef_cache_t *cache;
    saef_cache_flight_t *flight;
    const saef_cache_value_t *value;
    int delay_ms;
    saef_rc_t rc;
};

static void *complete_later(void *arg)
{
    struct later_complete *l = arg;
    struct timespec now;

    usleep((useconds_t)l->delay_ms * 1000u);
    now = realnow();
    l->rc = saef_cache_complete(l->cache, l->flight, SAEF_OK, l->value, false, &now);
    return NULL;
}

void test_fd_readable_on_completion(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 10000);
    struct timespec now = realnow();
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    struct later_complete l = {.cache = c, .delay_ms = 50};
    saef_cache_value_t v, got;
    saef_rc_t rc = SAEF_OK;
    int efd, pfd[2];
    uint64_t word = 0;
    pthread_t th;

    make_value(&v, 0x21, now.tv_sec + 600);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(saef_cache_flight_subscribe_fd(waiter, efd), SAEF_OK);
    assert_int_equal(saef_cache_flight_subscribe_fd(waiter, pfd[1]), SAEF_OK);
    assert_false(readable_within(efd, 0));
    assert_false(readable_within(pfd[0], 0));

    l.flight = leader;
    l.value = &v;
    assert_int_equal(pthread_create(&th, NULL, complete_later, &l), 0);
    assert_true(readable_within(efd, 5000));
    assert_int_equal(drain(efd), 1);
    assert_true(readable_within(pfd[0], 5000));
    assert_int_equal(read(pfd[0], &word, sizeof(word)), (ssize_t)sizeof(word));
    assert_true(word == 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(l.rc, SAEF_OK);
    assert_true(saef_cache_flight_poll(waiter, NULL, &rc, &got));
    assert_int_equal(rc, SAEF_OK);
    assert_memory_equal(got.psk, v.psk, 32);
    saef_cache_value_clear(&got);

    close(efd);
    close(pfd[0]);
    close(pfd[1]);
    saef_cache_flight_release(leader);
    saef_cache_flight_release(waiter);
    saef_cache_free(c);
}

void test_fd_subscribe_after_done_and_unsubscribe(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 10000);
    struct timespec now = realnow();
    saef_cache_flight_t *f = NULL;
    int a = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), b = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int closed = eventfd(0, EFD_CLOEXEC);
    saef_cache_value_t v;

    assert_true(a >= 0 && b >= 0 && closed >= 0);
    close(closed);
    make_value(&v, 0x22, now.tv_sec + 600);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_flight_subscribe_fd(f, -1), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cache_flight_subscribe_fd(f, closed), SAEF_E_IO);
    assert_int_equal(saef_cache_flight_subscribe_fd(f, a), SAEF_OK);
    assert_int_equal(saef_cache_flight_subscribe_fd(f, b), SAEF_OK);
    assert_int_equal(saef_cache_flight_unsubscribe_fd(f, b), SAEF_OK);
    assert_int_equal(saef_cache_flight_unsubscribe_fd(f, b), SAEF_E_NOT_FOUND);

    assert_int_equal(saef_cache_complete(c, f, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_true(readable_within(a, 1000));
    assert_false(readable_within(b, 50)); /* unsubscribed: never written */
    assert_int_equal(saef_cache_flight_unsubscribe_fd(f, a), SAEF_E_NOT_FOUND);

    /* subscribing to a finished flight signals at once */
    assert_int_equal(saef_cache_flight_subscribe_fd(f, b), SAEF_OK);
    assert_true(readable_within(b, 0));
    assert_int_equal(drain(b), 1);

    close(a);
    close(b);
    saef_cache_flight_release(f);
    saef_cache_free(c);
}

void test_fd_closed_early_is_never_written(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 10000);
    struct timespec now = realnow();
    saef_cache_flight_t *f = NULL;
    saef_cache_value_t v;
    int efd, reused;

    make_value(&v, 0x23, now.tv_sec + 600);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    assert_int_equal(saef_cache_flight_subscribe_fd(f, efd), SAEF_OK);
    /* the host gives up on the handshake, closes its descriptor, and the number comes back
     * for something else (POSIX hands out the lowest free number) */
    close(efd);
    reused = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_int_equal(reused, efd);

    assert_int_equal(saef_cache_complete(c, f, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_false(readable_within(reused, 100));
    close(reused);
    saef_cache_flight_release(f);
    saef_cache_free(c);
}

/* ---- deadlines on the real clock ---- */

void test_wait_caller_deadline(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 10000);
    struct timespec now = realnow(), deadline, after;
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    struct later_complete l = {.cache = c, .delay_ms = 50};
    saef_cache_value_t v, got;
    saef_rc_t rc = SAEF_OK;
    pthread_t th;

    make_value(&v, 0x24, now.tv_sec + 600);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);

    /* my own deadline comes first: I give up, the flight goes on */
    deadline = realtime_plus_ms(100);
    assert_int_equal(saef_cache_flight_wait(waiter, &deadline, NULL), SAEF_E_TIMEOUT);
    after = realnow();
    assert_true(after.tv_sec > deadline.tv_sec ||
                (after.tv_sec == deadline.tv_sec && after.tv_nsec >= deadline.tv_nsec));
    now = realnow();
    assert_false(saef_cache_flight_poll(waiter, &now, &rc, NULL));
    assert_int_equal(stats_of(c).flight_timeouts, 0);

    l.flight = leader;
    l.value = &v;
    assert_int_equal(pthread_create(&th, NULL, complete_later, &l), 0);
    deadline = realtime_plus_ms(5000);
    assert_int_equal(saef_cache_flight_wait(waiter, &deadline, &got), SAEF_OK);
    assert_memory_equal(got.psk, v.psk, 32);
    saef_cache_value_clear(&got);
    assert_int_equal(pthread_join(th, NULL), 0);
    /* the leader may wait on its own flight too */
    assert_int_equal(saef_cache_flight_wait(leader, NULL, &got), SAEF_OK);
    saef_cache_value_clear(&got);
    saef_cache_flight_release(leader);
    saef_cache_flight_release(waiter);
    saef_cache_free(c);
}

void test_wait_flight_deadline(void **state)
{
    saef_cache_t *c = new_cache(8, 4, 0, 150);
    struct timespec now = realnow(), dl, after, t0;
    saef_cache_flight_t *leader = NULL, *waiter = NULL, *next = NULL;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    saef_cache_value_t v;

    assert_true(efd >= 0);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    assert_int_equal(saef_cache_flight_subscribe_fd(waiter, efd), SAEF_OK);
    assert_int_equal(saef_cache_flight_deadline(waiter, &dl), SAEF_OK);

    /* the leader never answers; a generous caller deadline does not matter */
    t0 = realnow();
    after = realtime_plus_ms(60000);
    assert_int_equal(saef_cache_flight_wait(waiter, &after, NULL), SAEF_E_TIMEOUT);
    after = realnow();
    assert_true(after.tv_sec > dl.tv_sec ||
                (after.tv_sec == dl.tv_sec && after.tv_nsec >= dl.tv_nsec));
    assert_true(seconds_since(&t0) < 30.0);
    assert_int_equal(stats_of(c).flight_timeouts, 1);
    /* the descriptor heard about it too */
    assert_true(readable_within(efd, 0));

    /* the next handshake starts over; the stuck leader's late answer is harmless */
    now = realnow();
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &next),
                     SAEF_CACHE_MISS_FETCH);
    make_value(&v, 0x25, now.tv_sec + 600);
    assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_int_equal(saef_cache_complete(c, next, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_int_equal(probe(c, "k@m.example", &now, NULL, NULL), SAEF_CACHE_HIT);
    close(efd);
    saef_cache_flight_release(leader);
    saef_cache_flight_release(waiter);
    saef_cache_flight_release(next);
    saef_cache_free(c);
}

/* ---- stress ---- */

#define ST_THREADS 8
#define ST_IDS 48
#define ST_ITERS 20000
#define ST_SECONDS 3.0
#define ST_CAPACITY 16
#define ST_FLIGHTS 12
#define ST_HELD 2

enum { V_BOUNDS, V_SIGNAL, V_WAIT_KEY, V_HIT_KEY, V_REFUSAL, V_STATUS, V_FOREACH, V_COUNT };
static const char *const v_name[V_COUNT] = {
    [V_BOUNDS] = "entries/flights over their bounds",
    [V_SIGNAL] = "fd signalled before the flight finished",
    [V_WAIT_KEY] = "a waiter got another identity's key",
    [V_HIT_KEY] = "a hit returned another identity's key",
    [V_REFUSAL] = "a negative hit with another code",
    [V_STATUS] = "lookup answered ERROR",
    [V_FOREACH] = "foreach failed or too many",
};

struct st_shared {
    saef_cache_t *cache;
    struct timespec start;
    atomic_ulong violations[V_COUNT]; /* by kind, see v_name */
};

struct st_thread {
    struct st_shared *sh;
    unsigned seed;
    unsigned long hits, negative_hits, fetches, pending, busy, iterations;
};

static int count_meta(void *arg, const saef_cache_meta_t *m)
{
    size_t *n = arg;

    (*n)++;
    return 0;
}

static void id_of(unsigned k, char *buf, size_t len)
{
    snprintf(buf, len, "s%02u@stress.example", k);
}

/* Every identity has one key, derived from its number, so any answer can be checked. */
static bool key_matches(unsigned k, const saef_cache_value_t *v)
{
    saef_cache_value_t want;

    make_value(&want, (uint8_t)k, 0);
    return v->psk_len == 32 && memcmp(v->psk, want.psk, 32) == 0;
}

static void st_complete(struct st_thread *t, saef_cache_flight_t *f, unsigned k)
{
    struct st_shared *sh = t->sh;
    struct timespec now = realnow();
    unsigned r = (unsigned)rand_r(&t->seed) % 10;
    saef_cache_value_t v;

    if (r < 6) {
        make_value(&v, (uint8_t)k, 0);
        v.expiry = realtime_plus_ms(1 + rand_r(&t->seed) % 50);
        saef_cache_complete(sh->cache, f, SAEF_OK, &v, false, &now);
        saef_cache_value_clear(&v);
    } else if (r < 8) {
        saef_cache_complete(sh->cache, f, SAEF_E_MAF_REFUSED, NULL, true, &now);
    } else {
        saef_cache_complete(sh->cache, f, SAEF_E_MAF_UNREACHABLE, NULL, false, &now);
    }
    saef_cache_flight_release(f);
}

static void st_check(struct st_shared *sh)
{
    saef_cache_stats_t st;

    if (saef_cache_stats(sh->cache, &st) != SAEF_OK || st.entries > ST_CAPACITY ||
        st.flights > ST_FLIGHTS || st.negative_entries > st.entries)
        atomic_fetch_add(&sh->violations[V_BOUNDS], 1);
}

static void st_wait(struct st_thread *t, saef_cache_flight_t *f, unsigned k, int efd)
{
    struct st_shared *sh = t->sh;
    saef_cache_value_t got;
    struct timespec now;
    saef_rc_t rc = SAEF_OK;
    bool done = false;

    switch (rand_r(&t->seed) % 3) {
    case 0: {
        struct timespec deadline = realtime_plus_ms(2);

        rc = saef_cache_flight_wait(f, &deadline, &got);
        done = rc != SAEF_E_TIMEOUT;
        break;
    }
    case 1:
        now = realnow();
        done = saef_cache_flight_poll(f, &now, &rc, &got);
        break;
    default:
        if (saef_cache_flight_subscribe_fd(f, efd) == SAEF_OK) {
            if (readable_within(efd, 1)) {
                drain(efd);
                done = saef_cache_flight_poll(f, NULL, &rc, &got);
                if (!done)
                    atomic_fetch_add(&sh->violations[V_SIGNAL], 1);
            }
            /* Once unsubscribe returns, nothing more is written for this subscription; a
             * finish that raced with it may have written already: start clean next time. */
            saef_cache_flight_unsubscribe_fd(f, efd);
            if (readable_within(efd, 0))
                drain(efd);
        }
        break;
    }
    if (done && rc == SAEF_OK) {
        if (!key_matches(k, &got))
            atomic_fetch_add(&sh->violations[V_WAIT_KEY], 1);
        saef_cache_value_clear(&got);
    }
    saef_cache_flight_release(f);
}

static void *st_run(void *arg)
{
    struct st_thread *t = arg;
    struct st_shared *sh = t->sh;
    saef_cache_flight_t *held[ST_HELD];
    unsigned held_k[ST_HELD];
    size_t nheld = 0;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    char id[32];

    for (t->iterations = 0; t->iterations < ST_ITERS && seconds_since(&sh->start) < ST_SECONDS;
         t->iterations++) {
        unsigned k = (unsigned)rand_r(&t->seed) % ST_IDS, op = (unsigned)rand_r(&t->seed) % 100;
        struct timespec now = realnow();

        id_of(k, id, sizeof(id));
        if (op < 70) {
            saef_cache_flight_t *f = NULL;
            saef_cache_value_t got;
            saef_rc_t rc = SAEF_OK;

            switch (saef_cache_lookup(sh->cache, id, strlen(id), &now, &got, &rc, &f)) {
            case SAEF_CACHE_HIT:
                t->hits++;
                if (!key_matches(k, &got))
                    atomic_fetch_add(&sh->violations[V_HIT_KEY], 1);
                saef_cache_value_clear(&got);
                break;
            case SAEF_CACHE_NEGATIVE:
                t->negative_hits++;
                if (rc != SAEF_E_MAF_REFUSED)
                    atomic_fetch_add(&sh->violations[V_REFUSAL], 1);
                break;
            case SAEF_CACHE_MISS_FETCH:
                t->fetches++;
                /* sometimes sit on it for a while (or until its deadline) */
                if (nheld < ST_HELD && rand_r(&t->seed) % 8 == 0) {
                    held[nheld] = f;
                    held_k[nheld++] = k;
                } else {
                    st_complete(t, f, k);
                }
                break;
            case SAEF_CACHE_MISS_PENDING:
                t->pending++;
                st_wait(t, f, k, efd);
                break;
            case SAEF_CACHE_BUSY:
                t->busy++;
                break;
            default:
                atomic_fetch_add(&sh->violations[V_STATUS], 1);
                break;
            }
        } else if (op < 80) {
            saef_cache_evict(sh->cache, id, strlen(id));
        } else if (op < 84) {
            saef_cache_sweep(sh->cache, &now, NULL);
        } else if (op < 92) {
            st_check(sh);
        } else if (op < 94) {
            size_t n = 0;

            if (saef_cache_foreach_meta(sh->cache, &now, count_meta, &n) != SAEF_OK ||
                n > ST_CAPACITY)
                atomic_fetch_add(&sh->violations[V_FOREACH], 1);
        } else if (nheld > 0) {
            nheld--;
            st_complete(t, held[nheld], held_k[nheld]);
        }
    }
    while (nheld > 0) {
        nheld--;
        st_complete(t, held[nheld], held_k[nheld]);
    }
    if (efd >= 0)
        close(efd);
    return NULL;
}

void test_stress(void **state)
{
    saef_cache_params_t p = {.capacity = ST_CAPACITY,
                             .max_flights = ST_FLIGHTS,
                             .negative_ttl_ms = 5,
                             .flight_timeout_ms = 20,
                             .shards = 4};
    struct st_shared sh = {0};
    struct st_thread t[ST_THREADS];
    pthread_t tid[ST_THREADS];
    unsigned long hits = 0, neg = 0, fetches = 0, pending = 0, busy = 0, iters = 0;
    saef_cache_stats_t st;

    assert_int_equal(saef_cache_new(&p, &sh.cache), SAEF_OK);
    for (int i = 0; i < V_COUNT; i++)
        atomic_init(&sh.violations[i], 0);
    sh.start = realnow();
    memset(t, 0, sizeof(t));
    for (int i = 0; i < ST_THREADS; i++) {
        t[i].sh = &sh;
        t[i].seed = 7919u * (unsigned)i + 1u;
        assert_int_equal(pthread_create(&tid[i], NULL, st_run, &t[i]), 0);
    }
    for (int i = 0; i < ST_THREADS; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        hits += t[i].hits;
        neg += t[i].negative_hits;
        fetches += t[i].fetches;
        pending += t[i].pending;
        busy += t[i].busy;
        iters += t[i].iterations;
    }
    print_message("stress: %lu iterations, %lu hits, %lu negative, %lu fetches, %lu pending, "
                  "%lu busy\n",
                  iters, hits, neg, fetches, pending, busy);

    for (int i = 0; i < V_COUNT; i++)
        if (atomic_load(&sh.violations[i]) != 0)
            fail_msg("%lu times: %s", atomic_load(&sh.violations[i]), v_name[i]);
    st = stats_of(sh.cache);
    /* the counters agree with what the threads saw */
    assert_int_equal(st.hits, hits);
    assert_int_equal(st.negative_hits, neg);
    assert_int_equal(st.fetches, fetches);
    assert_int_equal(st.busy, busy);
    assert_int_equal(st.misses, fetches + pending + busy);
    assert_true(st.entries <= ST_CAPACITY);
    assert_int_equal(st.flights, 0); /* every leader completed */
    assert_true(fetches > 0 && hits > 0);
    saef_cache_free(sh.cache);
}
