/*
 * The writer thread against a real server: batching, the queue bound (associations refused,
 * audit events dropped, both counted), invalid records, clean shutdown, and the outage test:
 * PostgreSQL is killed in the middle of a stream of handshakes and restarted; every accepted
 * association must be in the table afterwards and every refused one must have been reported.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgtest.h"
#include "saef_db_writer.h"

static saef_db_assoc_t assoc(const char *peer, int64_t at_us)
{
    saef_db_assoc_t a = {
        .peer_kind = SAEF_PEER_AE_ID,
        .peer_id = peer,
        .key_id = "kw@maf.example.com",
        .maf_fqdn = "maf.example.com",
        .transport = SAEF_DB_DTLS,
        .node_id = "node-w",
        .remote_addr = "[2001:db8::1]:5684",
        .handshake_us = at_us,
        .kc_expiry = at_us / 1000000 + 3600,
    };
    return a;
}

static saef_db_audit_t audit(int64_t at_us)
{
    saef_db_audit_t e = {.at_us = at_us,
                         .node_id = "node-w",
                         .key_id = "kw@maf.example.com",
                         .peer_addr = "[2001:db8::1]:5684",
                         .outcome = SAEF_DB_ACCEPTED,
                         .reason_code = 0,
                         .reason_text = "handshake completed"};
    return e;
}

static saef_db_writer_t *start(const char *schema, const char *conninfo, size_t queue,
                               uint32_t linger)
{
    saef_db_writer_cfg_t cfg = {.conninfo = conninfo,
                                .schema = schema,
                                .queue_size = queue,
                                .batch_max = 512,
                                .linger_ms = linger};
    saef_db_writer_t *w = NULL;

    assert_int_equal(saef_db_writer_start(&cfg, &w), SAEF_OK);
    return w;
}

static void test_batching(void **state)
{
    enum { N = 2000, M = 500 };
    char schema[64], peer[32];
    saef_db_t *db;
    saef_db_writer_t *w;
    saef_db_writer_stats_t st;
    PGconn *c;
    int i;

    pgt_schema(schema, sizeof(schema), "batch");
    db = pgt_open_migrated(schema);
    w = start(schema, NULL, 10000, 20);
    for (i = 0; i < N; i++) {
        saef_db_assoc_t a;

        snprintf(peer, sizeof(peer), "Cpeer%d", i);
        a = assoc(peer, pgt_now_us());
        assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_OK);
    }
    for (i = 0; i < M; i++) {
        saef_db_audit_t e = audit(pgt_now_us());

        assert_int_equal(saef_db_writer_enqueue_audit(w, &e), SAEF_OK);
    }
    assert_int_equal(saef_db_writer_flush(w, 30000), SAEF_OK);
    saef_db_writer_stats(w, &st);
    assert_int_equal(st.written_assoc, N);
    assert_int_equal(st.written_audit, M);
    assert_int_equal(st.queued_assoc + st.queued_audit, 0);
    assert_true(st.connected);
    /* 2500 records in batches of at most 512 of each kind: at least 4 batches, and far
     * fewer than one per record */
    assert_true(st.batches >= (N + 511) / 512);
    assert_true(st.batches <= 20);
    print_message("batching: %d associations + %d audit events in %llu batches\n", N, M,
                  (unsigned long long)st.batches);
    c = pgt_conn(schema);
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM associations", 0, NULL), N);
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM audit_events", 0, NULL), M);
    PQfinish(c);
    assert_int_equal(saef_db_writer_stop(w, 5000), SAEF_OK);
    saef_db_writer_free(w);
    saef_db_close(db);
}

/* The database is unreachable, so nothing drains: the bound is exact. */
static void test_queue_full(void **state)
{
    const char *nowhere = "host=/nonexistent-saef-dir port=1";
    saef_db_writer_t *w = start("saef", nowhere, 10, 0);
    saef_db_writer_stats_t st;
    saef_db_assoc_t a = assoc("Cae1", pgt_now_us());
    saef_db_audit_t e = audit(pgt_now_us());
    int i;

    /* audit events may take half the queue */
    for (i = 0; i < 5; i++)
        assert_int_equal(saef_db_writer_enqueue_audit(w, &e), SAEF_OK);
    assert_int_equal(saef_db_writer_enqueue_audit(w, &e), SAEF_E_BUSY);
    /* associations the rest */
    for (i = 0; i < 5; i++)
        assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_OK);
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_BUSY);
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_BUSY);
    pgt_sleep_ms(300); /* a few reconnect attempts */
    saef_db_writer_stats(w, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.dropped_audit, 1);
    assert_int_equal(st.queued_assoc, 5);
    assert_int_equal(st.queued_audit, 5);
    assert_false(st.connected);
    assert_true(st.retries >= 1);
    assert_non_null(strstr(st.last_error, "connect"));
    assert_int_equal(saef_db_writer_flush(w, 50), SAEF_E_TIMEOUT);
    /* stop cannot write them: they are counted as lost, not silently dropped */
    assert_int_equal(saef_db_writer_stop(w, 200), SAEF_E_TIMEOUT);
    saef_db_writer_stats(w, &st);
    assert_int_equal(st.lost, 10);
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_STATE);
    saef_db_writer_free(w);
}

static void test_invalid_records(void **state)
{
    saef_db_writer_t *w = start("saef", "host=/nonexistent-saef-dir port=1", 10, 0);
    saef_db_writer_stats_t st;
    saef_db_assoc_t a = assoc("Cae1", pgt_now_us());
    saef_db_audit_t e = audit(pgt_now_us());

    a.peer_id = "C\x01";
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_INVALID_ARG);
    a = assoc("Cae1", pgt_now_us());
    a.peer_kind = SAEF_PEER_NONE;
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_INVALID_ARG);
    a = assoc("Cae1", pgt_now_us());
    a.kc_expiry = INT64_C(400000000000); /* year 14645 */
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_INVALID_ARG);
    a = assoc("Cae1", 0);
    assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_E_INVALID_ARG);
    e.node_id = NULL;
    assert_int_equal(saef_db_writer_enqueue_audit(w, &e), SAEF_E_INVALID_ARG);
    /* an audit event carries whatever the peer sent: accepted, cut and escaped later */
    e = audit(pgt_now_us());
    e.key_id = "\xff\xfe not even text";
    assert_int_equal(saef_db_writer_enqueue_audit(w, &e), SAEF_OK);
    saef_db_writer_stats(w, &st);
    assert_int_equal(st.queued_assoc, 0);
    assert_int_equal(st.queued_audit, 1);
    assert_int_equal(saef_db_writer_enqueue_assoc(NULL, &a), SAEF_E_INVALID_ARG);
    saef_db_writer_free(w);
    saef_db_writer_free(NULL);
}

static void test_stop_flushes(void **state)
{
    char schema[64], peer[32];
    saef_db_t *db;
    saef_db_writer_t *w;
    saef_db_writer_stats_t st;
    PGconn *c;
    int i;

    pgt_schema(schema, sizeof(schema), "stop");
    db = pgt_open_migrated(schema);
    w = start(schema, NULL, 1000, 1000); /* a long linger: stop must not wait for it */
    for (i = 0; i < 100; i++) {
        saef_db_assoc_t a;

        snprintf(peer, sizeof(peer), "Cstop%d", i);
        a = assoc(peer, pgt_now_us());
        assert_int_equal(saef_db_writer_enqueue_assoc(w, &a), SAEF_OK);
    }
    assert_int_equal(saef_db_writer_stop(w, 10000), SAEF_OK);
    saef_db_writer_stats(w, &st);
    assert_int_equal(st.written_assoc, 100);
    assert_int_equal(st.lost, 0);
    c = pgt_conn(schema);
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM associations", 0, NULL), 100);
    PQfinish(c);
    saef_db_writer_free(w);
    saef_db_close(db);
}

/* ---------------------------------------------------------------- outage */

enum { OUT_N = 30000, OUT_QUEUE = 2000 };

typedef struct producer {
    saef_db_writer_t *w;
    pthread_mutex_t mu;
    int offered;    /* records offered so far (read by the main thread) */
    char *accepted; /* per record: 1 accepted, 0 refused */
    int n_accepted, n_refused, n_other;
} producer_t;

static void *produce(void *arg)
{
    producer_t *p = arg;
    char peer[32];
    int i;

    for (i = 0; i < OUT_N; i++) {
        saef_db_assoc_t a;
        saef_rc_t rc;

        snprintf(peer, sizeof(peer), "Cout%05d", i);
        a = assoc(peer, pgt_now_us());
        rc = saef_db_writer_enqueue_assoc(p->w, &a);
        pthread_mutex_lock(&p->mu);
        p->accepted[i] = rc == SAEF_OK;
        p->n_accepted += rc == SAEF_OK;
        p->n_refused += rc == SAEF_E_BUSY;
        p->n_other += rc != SAEF_OK && rc != SAEF_E_BUSY;
        p->offered = i + 1;
        pthread_mutex_unlock(&p->mu);
        /* a few thousand handshakes per second */
        if (i % 5 == 0)
            pgt_sleep_ms(1);
    }
    return NULL;
}

static int offered(producer_t *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->offered;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void test_outage(void **state)
{
    char schema[64];
    producer_t p = {0};
    saef_db_writer_stats_t st;
    saef_db_t *db;
    pthread_t th;
    PGconn *c;
    PGresult *r;
    bool saw_disconnected = false;
    int64_t t_kill, t_restart, t_done, sum;
    int i, missing = 0, unexpected = 0, rows, at_kill;

    pgt_schema(schema, sizeof(schema), "outage");
    db = pgt_open_migrated(schema);
    saef_db_close(db);
    p.w = start(schema, NULL, OUT_QUEUE, 10);
    p.accepted = calloc(OUT_N, 1);
    pthread_mutex_init(&p.mu, NULL);
    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);

    while (offered(&p) < OUT_N / 4)
        pgt_sleep_ms(5);
    at_kill = offered(&p);
    t_kill = pgt_mono_ms();
    assert_int_equal(pgt_harness("pg_harness_kill"), 0);
    /* down for a while: the queue fills and associations get refused */
    while (pgt_mono_ms() - t_kill < 2000) {
        saef_db_writer_stats(p.w, &st);
        saw_disconnected |= !st.connected;
        pgt_sleep_ms(20);
    }
    t_restart = pgt_mono_ms();
    assert_int_equal(pgt_harness("pg_harness_restart"), 0);
    pthread_join(th, NULL);
    t_done = pgt_mono_ms();
    /* the writer reconnects within its back-off and drains the queue */
    assert_int_equal(saef_db_writer_flush(p.w, 60000), SAEF_OK);
    assert_int_equal(saef_db_writer_stop(p.w, 10000), SAEF_OK);
    saef_db_writer_stats(p.w, &st);

    /* every accepted association is in the table; no refused one is */
    c = pgt_conn(schema);
    r = pgt_exec(c, "SELECT peer_id, handshake_count FROM associations ORDER BY peer_id", 0, NULL);
    rows = PQntuples(r);
    {
        char *in_table = calloc(OUT_N, 1);

        sum = 0;
        for (i = 0; i < rows; i++) {
            int k = atoi(PQgetvalue(r, i, 0) + 4);

            assert_true(k >= 0 && k < OUT_N);
            in_table[k] = 1;
            sum += atoll(PQgetvalue(r, i, 1));
        }
        for (i = 0; i < OUT_N; i++) {
            missing += p.accepted[i] && !in_table[i];
            unexpected += !p.accepted[i] && in_table[i];
        }
        free(in_table);
    }
    PQclear(r);
    PQfinish(c);

    print_message("outage: %d offered, %d accepted, %d refused (writer counted %llu); killed "
                  "after %d, down %lld ms, producer done %lld ms after restart; %llu batches, "
                  "%llu retries; table: %d rows, %d missing, %d unexpected, %lld handshakes "
                  "counted (%lld re-sent after an unacknowledged commit)\n",
                  OUT_N, p.n_accepted, p.n_refused, (unsigned long long)st.refused, at_kill,
                  (long long)(t_restart - t_kill), (long long)(t_done - t_restart),
                  (unsigned long long)st.batches, (unsigned long long)st.retries, rows, missing,
                  unexpected, (long long)sum, (long long)(sum - rows));
    assert_int_equal(p.n_other, 0);
    assert_int_equal(p.n_accepted + p.n_refused, OUT_N);
    assert_int_equal(missing, 0);
    assert_int_equal(unexpected, 0);
    assert_int_equal(rows, p.n_accepted);
    assert_int_equal(st.written_assoc, (uint64_t)p.n_accepted);
    assert_int_equal(st.refused, (uint64_t)p.n_refused);
    assert_int_equal(st.lost, 0);
    /* the outage really happened and was long enough to fill the queue */
    assert_true(saw_disconnected);
    assert_true(st.retries > 0);
    assert_true(p.n_refused > 0);
    assert_true(sum >= rows);
    pthread_mutex_destroy(&p.mu);
    free(p.accepted);
    saef_db_writer_free(p.w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batching),        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_invalid_records), cmocka_unit_test(test_stop_flushes),
        cmocka_unit_test(test_outage),
    };

    pgt_require_server();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
