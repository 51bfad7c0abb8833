/*
 * Credential map matching (no database): table-driven precedence cases, insertion-order
 * independence, pattern and target checks, and the published holder under concurrent
 * lookups and replacements.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "saef_credmap.h"

typedef struct mapping {
    const char *pattern, *target;
} mapping_t;

/* One table for all lookup cases: the expected winner follows from the documented rules. */
static const mapping_t table[] = {
    {"11-device7@maf.example.com", "/cse-exact"},
    {"11-*@maf.example.com", "/cse-maf"},
    {"11-device*@maf.example.com", "/cse-devices"},
    {"11-dev*7@maf.example.com", "/cse-dev7"},
    {"*", "/cse-any"},
    {"11-a*", "Cae-a-star"},
    {"11-*a", "Cae-star-a"},
    {"*-*@*.other.example", "/cse-other"},
    {"12-*", "//sp.example.com/cse-12"},
    {"11-x*y*z", "Cae-xyz"},
};

static const struct lookup {
    const char *cred_id;
    const char *target; /* NULL: no match */
    const char *why;
} lookups[] = {
    {"11-device7@maf.example.com", "/cse-exact", "exact beats every wildcard"},
    {"11-DEVICE7@MAF.EXAMPLE.COM", "/cse-exact", "case is ignored"},
    {"11-device8@maf.example.com", "/cse-devices", "more literal characters win"},
    {"11-dev7@maf.example.com", "/cse-dev7", "'*' matches an empty run"},
    {"11-deviceX7@maf.example.com", "/cse-devices", "25 > 23 literal characters"},
    {"11-devXYZ7@maf.example.com", "/cse-dev7", "the only 23-literal match"},
    {"11-gw1@maf.example.com", "/cse-maf", "only the domain pattern"},
    {"11-aa", "Cae-star-a", "equal literal count: lexical order, '*' before 'a'"},
    {"11-ab", "Cae-a-star", "only one of the two"},
    {"11-ba", "Cae-star-a", "only the other"},
    {"31-hw@x.other.example", "/cse-other", "several stars"},
    {"12-kpsa", "//sp.example.com/cse-12", "absolute CSE-ID target"},
    {"11-xAyBz", "Cae-xyz", "backtracking over several stars"},
    {"11-xyyz", "Cae-xyz", "a star absorbing a repeated letter"},
    {"11-xzy", "/cse-any", "order matters in wildcards"},
    {"anything", "/cse-any", "the catch-all comes last"},
};

static saef_credmap_t *build(bool reverse)
{
    saef_credmap_t *m = NULL;
    size_t i, n = sizeof(table) / sizeof(table[0]);

    assert_int_equal(saef_credmap_new(&m), SAEF_OK);
    for (i = 0; i < n; i++) {
        const mapping_t *e = &table[reverse ? n - 1 - i : i];

        assert_int_equal(saef_credmap_add(m, e->pattern, e->target), SAEF_OK);
    }
    assert_int_equal(saef_credmap_finish(m), SAEF_OK);
    assert_int_equal(saef_credmap_count(m), n);
    return m;
}

static void run_lookups(const saef_credmap_t *m)
{
    size_t i;

    for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        const struct lookup *l = &lookups[i];
        saef_credmap_hit_t hit;
        saef_rc_t rc = saef_credmap_match(m, l->cred_id, strlen(l->cred_id), &hit);

        if (l->target == NULL) {
            assert_int_equal(rc, SAEF_E_NOT_FOUND);
            continue;
        }
        if (rc != SAEF_OK || strcmp(hit.target, l->target) != 0)
            fail_msg("%s (%s): got %s \"%s\"", l->cred_id, l->why, saef_strerror(rc),
                     rc == SAEF_OK ? hit.target : "");
    }
}

static void test_precedence_any_order(void **state)
{
    saef_credmap_t *fwd = build(false), *rev = build(true);

    run_lookups(fwd);
    run_lookups(rev);
    saef_credmap_free(fwd);
    saef_credmap_free(rev);
}

static void test_hit_details_and_no_match(void **state)
{
    saef_credmap_t *m = NULL;
    saef_credmap_hit_t hit;

    assert_int_equal(saef_credmap_new(&m), SAEF_OK);
    assert_int_equal(saef_credmap_add(m, "11-Dev*@MAF.example.com", "/cse1/Cgw"), SAEF_OK);
    assert_int_equal(saef_credmap_match(m, "11-dev", 6, &hit), SAEF_E_STATE); /* not finished */
    assert_int_equal(saef_credmap_finish(m), SAEF_OK);
    assert_int_equal(saef_credmap_finish(m), SAEF_OK);
    assert_int_equal(saef_credmap_add(m, "11-other", "/cse2"), SAEF_E_STATE);
    assert_int_equal(saef_credmap_match(m, "11-dev1@maf.example.com", 23, &hit), SAEF_OK);
    assert_int_equal(hit.kind, SAEF_PEER_AE_ID);
    assert_string_equal(hit.target, "/cse1/Cgw");
    assert_string_equal(hit.pattern, "11-Dev*@MAF.example.com"); /* as added */
    assert_int_equal(saef_credmap_match(m, "11-gw@maf.example.com", 21, &hit), SAEF_E_NOT_FOUND);
    assert_int_equal(saef_credmap_match(m, "", 0, &hit), SAEF_E_NOT_FOUND);
    /* length is what counts, not a terminator; an embedded NUL never matches */
    assert_int_equal(saef_credmap_match(m, "11-dev1@maf.example.comXYZ", 23, &hit), SAEF_OK);
    assert_int_equal(saef_credmap_match(m, "11-dev\0@maf.example.com", 23, &hit), SAEF_E_NOT_FOUND);
    assert_int_equal(saef_credmap_match(m, NULL, 3, &hit), SAEF_E_INVALID_ARG);
    saef_credmap_free(m);

    /* an empty table finds nothing */
    assert_int_equal(saef_credmap_new(&m), SAEF_OK);
    assert_int_equal(saef_credmap_finish(m), SAEF_OK);
    assert_int_equal(saef_credmap_match(m, "11-x", 4, &hit), SAEF_E_NOT_FOUND);
    saef_credmap_free(m);
    saef_credmap_free(NULL);
}

static void test_checks(void **state)
{
    static const struct {
        const char *pattern;
        saef_rc_t rc;
    } patterns[] = {
        {"11-device7@maf.example.com", SAEF_OK},
        {"*", SAEF_OK},
        {"**", SAEF_OK},
        {"", SAEF_E_ID_EMPTY},
        {"11-a b", SAEF_E_ID_CREDID_VALUE},
        {"11-a'b", SAEF_E_ID_CREDID_VALUE},
        {"11-a/b", SAEF_E_ID_CREDID_VALUE},
        {"11-a?b", SAEF_E_ID_CREDID_VALUE},
        {"11-\xc3\xa9", SAEF_E_ID_CREDID_VALUE},
    };
    static const struct {
        const char *target;
        saef_rc_t rc;
        saef_peer_kind_t kind;
    } targets[] = {
        {"/cse1", SAEF_OK, SAEF_PEER_CSE_ID},
        {"//sp.example.com/cse1", SAEF_OK, SAEF_PEER_CSE_ID},
        {"Cae1", SAEF_OK, SAEF_PEER_AE_ID},
        {"/cse1/Sae2", SAEF_OK, SAEF_PEER_AE_ID},
        {"//sp.example.com/cse1/Cae3", SAEF_OK, SAEF_PEER_AE_ID},
        {"ae1", SAEF_E_ID_AE_ID, 0},
        {"", SAEF_E_ID_EMPTY, 0},
    };
    char longp[300];
    saef_credmap_t *m = NULL;
    saef_peer_kind_t kind;
    size_t i;

    for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
        if (saef_credmap_pattern_check(patterns[i].pattern) != patterns[i].rc)
            fail_msg("pattern \"%s\": %s", patterns[i].pattern,
                     saef_strerror(saef_credmap_pattern_check(patterns[i].pattern)));
    memset(longp, 'a', sizeof(longp));
    longp[255] = '\0';
    assert_int_equal(saef_credmap_pattern_check(longp), SAEF_OK);
    longp[255] = 'a';
    longp[256] = '\0';
    assert_int_equal(saef_credmap_pattern_check(longp), SAEF_E_ID_TOO_LONG);
    assert_int_equal(saef_credmap_pattern_check(NULL), SAEF_E_INVALID_ARG);
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        kind = 0;
        assert_int_equal(saef_credmap_target_check(targets[i].target, &kind), targets[i].rc);
        if (targets[i].rc == SAEF_OK)
            assert_int_equal(kind, targets[i].kind);
    }
    /* duplicates ignore case */
    assert_int_equal(saef_credmap_new(&m), SAEF_OK);
    assert_int_equal(saef_credmap_add(m, "11-X*", "/cse1"), SAEF_OK);
    assert_int_equal(saef_credmap_add(m, "11-x*", "/cse2"), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_credmap_add(m, "11-y", "bad target"), SAEF_E_ID_AE_ID);
    assert_int_equal(saef_credmap_add(m, "11 y", "/cse1"), SAEF_E_ID_CREDID_VALUE);
    assert_int_equal(saef_credmap_count(m), 1);
    saef_credmap_free(m);
}

/* ---------------------------------------------------------------- the holder */

typedef struct race {
    saef_credmap_live_t *live;
    volatile int stop;
    long lookups, bad;
    int started; /* readers that have run */
} race_t;

static void *reader(void *arg)
{
    race_t *r = arg;
    saef_credmap_hit_t hit;
    long n = 0, bad = 0;

    while (!r->stop || n < 100) {
        saef_rc_t rc = saef_credmap_live_match(r->live, "11-dev1@maf.example.com", 23, &hit);

        /* table A maps it to /cseA, table B to /cseB (with a second pattern); never a mix,
         * never nothing */
        if (rc != SAEF_OK ||
            (strcmp(hit.target, "/cseA") != 0 && strcmp(hit.target, "/cseB") != 0) ||
            (strcmp(hit.target, "/cseB") == 0) != (strcmp(hit.pattern, "11-dev*") == 0))
            bad++;
        if (n++ == 0)
            __atomic_add_fetch(&r->started, 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&r->lookups, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->bad, bad, __ATOMIC_RELAXED);
    return NULL;
}

static void test_live_replace_under_load(void **state)
{
    race_t r = {0};
    pthread_t th[4];
    saef_credmap_hit_t hit;
    int i;

    assert_int_equal(saef_credmap_live_new(&r.live), SAEF_OK);
    assert_int_equal(saef_credmap_live_count(r.live), 0);
    assert_int_equal(saef_credmap_live_match(r.live, "11-x", 4, &hit), SAEF_E_NOT_FOUND);
    {
        saef_credmap_t *a = NULL;

        assert_int_equal(saef_credmap_new(&a), SAEF_OK);
        assert_int_equal(saef_credmap_add(a, "11-*", "/cseA"), SAEF_OK);
        assert_int_equal(saef_credmap_live_replace(r.live, a), SAEF_OK);
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
    for (i = 0; i < 2000; i++) {
        saef_credmap_t *m = NULL;

        assert_int_equal(saef_credmap_new(&m), SAEF_OK);
        if (i % 2 == 0) {
            assert_int_equal(saef_credmap_add(m, "11-*", "/cseA"), SAEF_OK);
            assert_int_equal(saef_credmap_add(m, "11-dev*", "/cseB"), SAEF_OK);
        } else {
            assert_int_equal(saef_credmap_add(m, "11-*", "/cseA"), SAEF_OK);
        }
        /* unfinished on purpose: replace finishes it */
        assert_int_equal(saef_credmap_live_replace(r.live, m), SAEF_OK);
    }
    /* On a loaded machine the readers may not have run yet: let each do some lookups. */
    while (__atomic_load_n(&r.started, __ATOMIC_RELAXED) < 4)
        sched_yield();
    r.stop = 1;
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.bad, 0);
    assert_true(r.lookups > 0);
    assert_int_equal(saef_credmap_live_count(r.live), 1);
    assert_int_equal(saef_credmap_live_replace(r.live, NULL), SAEF_E_INVALID_ARG);
    saef_credmap_live_free(r.live);
    saef_credmap_live_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence_any_order),
        cmocka_unit_test(test_hit_details_and_no_match),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_live_replace_under_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
