/*
 * LISTEN/NOTIFY against a real server: revocations and credential map changes reach a
 * listener before a one-second deadline (measured from the commit), a rolled-back NOTIFY is
 * never delivered, `saef-admin revoke` reaches a listener, and the listener comes back (with
 * a RESYNC) after the server was killed and restarted.
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
#include "saef_db_notify.h"

#define MAX_EVENTS 64

typedef struct event {
    saef_db_event_kind_t kind;
    char payload[256];
    int64_t at_ms; /* monotonic arrival time */
} event_t;

typedef struct inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    event_t ev[MAX_EVENTS];
    int n;
} inbox_t;

static void on_event(void *ctx, saef_db_event_kind_t kind, const char *payload)
{
    inbox_t *in = ctx;

    pthread_mutex_lock(&in->mu);
    if (in->n < MAX_EVENTS) {
        in->ev[in->n].kind = kind;
        snprintf(in->ev[in->n].payload, sizeof(in->ev[in->n].payload), "%s", payload);
        in->ev[in->n].at_ms = pgt_mono_ms();
        in->n++;
    }
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

/* Wait until an event of kind with payload arrived or the monotonic deadline passed;
 * returns its arrival time, or -1. */
static int64_t wait_for(inbox_t *in, saef_db_event_kind_t kind, const char *payload,
                        int64_t deadline_ms)
{
    int64_t at = -1;
    int i;

    pthread_mutex_lock(&in->mu);
    for (;;) {
        for (i = 0; i < in->n && at < 0; i++)
            if (in->ev[i].kind == kind && strcmp(in->ev[i].payload, payload) == 0)
                at = in->ev[i].at_ms;
        if (at >= 0 || pgt_mono_ms() >= deadline_ms)
            break;
        pthread_mutex_unlock(&in->mu);
        pgt_sleep_ms(2);
        pthread_mutex_lock(&in->mu);
    }
    pthread_mutex_unlock(&in->mu);
    return at;
}

static int count(inbox_t *in, saef_db_event_kind_t kind)
{
    int i, n = 0;

    pthread_mutex_lock(&in->mu);
    for (i = 0; i < in->n; i++)
        n += in->ev[i].kind == kind;
    pthread_mutex_unlock(&in->mu);
    return n;
}

typedef struct fixture {
    char schema[64];
    saef_db_t *db;
    inbox_t in;
    saef_db_listener_t *l;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    saef_db_listener_cfg_t cfg = {.cb = on_event, .ctx = &f->in};

    pgt_schema(f->schema, sizeof(f->schema), "notify");
    f->db = pgt_open_migrated(f->schema);
    pthread_mutex_init(&f->in.mu, NULL);
    pthread_cond_init(&f->in.cv, NULL);
    cfg.ctx = &f->in;
    assert_int_equal(saef_db_listener_start(&cfg, &f->l), SAEF_OK);
    /* the first connection announces itself with a RESYNC */
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_RESYNC, "", pgt_mono_ms() + 10000) >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    saef_db_listener_stop(f->l);
    saef_db_close(f->db);
    pthread_cond_destroy(&f->in.cv);
    pthread_mutex_destroy(&f->in.mu);
    free(f);
    return 0;
}

static void test_revocation_within_one_second(void **state)
{
    fixture_t *f = *state;
    saef_db_listener_stats_t st;
    int64_t committed, at;

    assert_int_equal(saef_db_revoke(f->db, "Rk-1@maf.example.com", NULL, NULL), SAEF_OK);
    committed = pgt_mono_ms();
    at = wait_for(&f->in, SAEF_DB_EVENT_REVOKED, "Rk-1@maf.example.com", committed + 1000);
    if (at < 0)
        fail_msg("revocation not delivered within 1 s of the commit");
    print_message("revocation delivered %lld ms after the commit\n", (long long)(at - committed));
    saef_db_listener_stats(f->l, &st);
    assert_true(st.connected);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.events, 1);
}

static void test_credmap_change_within_one_second(void **state)
{
    fixture_t *f = *state;
    int64_t committed;

    assert_int_equal(saef_db_credmap_add(f->db, "11-*@maf.example.com", "/cse1"), SAEF_OK);
    committed = pgt_mono_ms();
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_CREDMAP, "11-*@maf.example.com", committed + 1000) >=
                0);
    assert_int_equal(saef_db_credmap_delete(f->db, "11-*@MAF.example.com"), SAEF_OK);
    committed = pgt_mono_ms();
    /* the payload is the pattern as the operator gave it */
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_CREDMAP, "11-*@MAF.example.com", committed + 1000) >=
                0);
    /* a change that fails sends nothing */
    assert_int_equal(saef_db_credmap_delete(f->db, "11-none"), SAEF_E_NOT_FOUND);
    pgt_sleep_ms(200);
    assert_int_equal(count(&f->in, SAEF_DB_EVENT_CREDMAP), 2);
}

/* NOTIFY belongs to the transaction: a rolled-back one is never delivered, a committed one
 * only at the commit. */
static void test_notify_is_transactional(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_revoke(f->db, "Rolled-back@maf.example.com", NULL, NULL), SAEF_OK);
    assert_int_equal(saef_db_rollback(f->db), SAEF_OK);

    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_notify(f->db, SAEF_DB_CHANNEL_REVOCATIONS, "Later@maf.example.com"),
                     SAEF_OK);
    pgt_sleep_ms(300);
    assert_int_equal(count(&f->in, SAEF_DB_EVENT_REVOKED), 0); /* not before the commit */
    assert_int_equal(saef_db_commit(f->db), SAEF_OK);
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_REVOKED, "Later@maf.example.com",
                         pgt_mono_ms() + 1000) >= 0);
    /* notifications arrive in commit order, so the rolled-back one would be here by now */
    assert_int_equal(count(&f->in, SAEF_DB_EVENT_REVOKED), 1);
    assert_int_equal(saef_db_notify(f->db, "x", "bad\npayload"), SAEF_E_INVALID_ARG);
}

static void test_admin_revoke_reaches_listener(void **state)
{
    fixture_t *f = *state;
    char exe[512], cmd[1024], out[2048];
    int64_t done;

    snprintf(cmd, sizeof(cmd), "'%s' --schema %s revoke Admin-1@maf.example.com",
             pgt_built("db/saef-admin", exe, sizeof(exe)), f->schema);
    if (pgt_run(cmd, out, sizeof(out)) != 0)
        fail_msg("saef-admin revoke failed: %s", out);
    done = pgt_mono_ms(); /* the command committed before it exited */
    assert_non_null(strstr(out, "revoked Admin-1@maf.example.com"));
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_REVOKED, "Admin-1@maf.example.com", done + 1000) >=
                0);
    snprintf(cmd, sizeof(cmd), "'%s' --schema %s credmap add '11-gw*' /cse1/Cgw",
             pgt_built("db/saef-admin", exe, sizeof(exe)), f->schema);
    assert_int_equal(pgt_run(cmd, out, sizeof(out)), 0);
    done = pgt_mono_ms();
    assert_true(wait_for(&f->in, SAEF_DB_EVENT_CREDMAP, "11-gw*", done + 1000) >= 0);
}

static void test_reconnect_after_outage(void **state)
{
    fixture_t *f = *state;
    saef_db_listener_stats_t st;
    int64_t t0, committed;

    assert_int_equal(pgt_harness("pg_harness_kill"), 0);
    t0 = pgt_mono_ms();
    do {
        saef_db_listener_stats(f->l, &st);
        pgt_sleep_ms(10);
    } while (st.connected && pgt_mono_ms() - t0 < 5000);
    assert_false(st.connected);
    assert_true(st.failures >= 1);
    pgt_sleep_ms(500);
    assert_int_equal(pgt_harness("pg_harness_restart"), 0);
    /* back within the back-off (at most 5 s between attempts), with a RESYNC */
    t0 = pgt_mono_ms();
    do {
        saef_db_listener_stats(f->l, &st);
        pgt_sleep_ms(10);
    } while (!st.connected && pgt_mono_ms() - t0 < 15000);
    assert_true(st.connected);
    assert_int_equal(st.connects, 2);
    assert_int_equal(count(&f->in, SAEF_DB_EVENT_RESYNC), 2);
    /* and a revocation after the outage still arrives within a second */
    assert_int_equal(saef_db_reconnect(f->db), SAEF_OK);
    assert_int_equal(saef_db_revoke(f->db, "After@maf.example.com", NULL, NULL), SAEF_OK);
    committed = pgt_mono_ms();
    assert_true(
        wait_for(&f->in, SAEF_DB_EVENT_REVOKED, "After@maf.example.com", committed + 1000) >= 0);
}

static void bad_cb(void *ctx, saef_db_event_kind_t kind, const char *payload)
{
}

static void test_start_arguments(void **state)
{
    saef_db_listener_cfg_t cfg = {.cb = NULL};
    saef_db_listener_t *l = NULL;

    assert_int_equal(saef_db_listener_start(&cfg, &l), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_db_listener_start(NULL, &l), SAEF_E_INVALID_ARG);
    /* an unreachable database is retried, and stop returns at once */
    cfg.cb = bad_cb;
    cfg.conninfo = "host=/nonexistent-saef-dir port=1";
    assert_int_equal(saef_db_listener_start(&cfg, &l), SAEF_OK);
    pgt_sleep_ms(150);
    {
        saef_db_listener_stats_t st;
        int64_t t0 = pgt_mono_ms();

        saef_db_listener_stats(l, &st);
        assert_false(st.connected);
        assert_true(st.failures >= 1);
        assert_non_null(strstr(st.last_error, "listen"));
        saef_db_listener_stop(l);
        assert_true(pgt_mono_ms() - t0 < 1000);
    }
    saef_db_listener_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_revocation_within_one_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credmap_change_within_one_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_is_transactional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_revoke_reaches_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_outage, setup, teardown),
        cmocka_unit_test(test_start_arguments),
    };

    pgt_require_server();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
