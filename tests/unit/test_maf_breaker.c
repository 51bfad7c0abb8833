/* The circuit breaker of one MAF, with an injected clock: closed -> open -> half-open -> closed
 * or open again, and which outcomes count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "saef_maf_internal.h"

#define T0 1000000u /* an arbitrary monotonic start, ms */

static void admit_ok(saef_maf_breaker_t *b, uint64_t now, bool want_probe)
{
    bool probe = !want_probe;
    assert_int_equal(saef_maf_breaker_admit(b, now, &probe), SAEF_OK);
    assert_int_equal(probe, want_probe);
}

static void admit_refused(saef_maf_breaker_t *b, uint64_t now)
{
    bool probe = true;
    assert_int_equal(saef_maf_breaker_admit(b, now, &probe), SAEF_E_MAF_CIRCUIT_OPEN);
    assert_false(probe);
}

static void fail_n(saef_maf_breaker_t *b, uint64_t now, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        admit_ok(b, now, false);
        saef_maf_breaker_record(b, now, SAEF_MAF_OUTCOME_UNAVAILABLE, false);
    }
}

static void test_opens_after_threshold(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 3, 5000);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_CLOSED);
    fail_n(&b, T0, 2);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_CLOSED);
    assert_int_equal(b.failures, 2);
    fail_n(&b, T0 + 10, 1);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
    assert_int_equal(b.trips, 1);
    /* open: everything fails fast until the cool-down is over */
    admit_refused(&b, T0 + 10);
    admit_refused(&b, T0 + 10 + 4999);
}

static void test_answers_reset_the_count(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 3, 5000);
    fail_n(&b, T0, 2);
    /* A refusal, a bad answer or an auth failure all mean the MAF is there. */
    admit_ok(&b, T0, false);
    saef_maf_breaker_record(&b, T0, SAEF_MAF_OUTCOME_ANSWERED, false);
    assert_int_equal(b.failures, 0);
    fail_n(&b, T0, 2);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_CLOSED);
    /* aborted requests say nothing */
    saef_maf_breaker_record(&b, T0, SAEF_MAF_OUTCOME_ABORTED, false);
    assert_int_equal(b.failures, 2);
    fail_n(&b, T0, 1);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
}

static void test_half_open_probe_success_closes(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 1, 5000);
    fail_n(&b, T0, 1);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
    /* cool-down over: exactly one probe goes out */
    admit_ok(&b, T0 + 5000, true);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_HALF_OPEN);
    admit_refused(&b, T0 + 5001);
    admit_refused(&b, T0 + 9000);
    saef_maf_breaker_record(&b, T0 + 9100, SAEF_MAF_OUTCOME_ANSWERED, true);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_CLOSED);
    assert_int_equal(b.failures, 0);
    admit_ok(&b, T0 + 9101, false);
    admit_ok(&b, T0 + 9101, false);
}

static void test_half_open_probe_failure_reopens(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 2, 1000);
    fail_n(&b, T0, 2);
    admit_ok(&b, T0 + 1000, true);
    saef_maf_breaker_record(&b, T0 + 1500, SAEF_MAF_OUTCOME_UNAVAILABLE, true);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
    assert_int_equal(b.trips, 2);
    /* a fresh cool-down from the probe's failure, not from the first opening */
    admit_refused(&b, T0 + 2000);
    admit_refused(&b, T0 + 2499);
    admit_ok(&b, T0 + 2500, true);
}

static void test_half_open_probe_aborted_frees_the_slot(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 1, 1000);
    fail_n(&b, T0, 1);
    admit_ok(&b, T0 + 1000, true);
    saef_maf_breaker_record(&b, T0 + 1001, SAEF_MAF_OUTCOME_ABORTED, true);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_HALF_OPEN);
    admit_ok(&b, T0 + 1002, true);
}

/* Requests admitted while closed and finishing after the breaker opened change nothing. */
static void test_late_results_do_not_move_an_open_breaker(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 1, 1000);
    admit_ok(&b, T0, false); /* in flight */
    fail_n(&b, T0, 1);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
    saef_maf_breaker_record(&b, T0 + 10, SAEF_MAF_OUTCOME_ANSWERED, false);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_OPEN);
    saef_maf_breaker_record(&b, T0 + 900, SAEF_MAF_OUTCOME_UNAVAILABLE, false);
    assert_int_equal(b.opened_ms, T0); /* cool-down not extended */
    admit_ok(&b, T0 + 1000, true);
    /* and a non-probe result in half-open does not close it */
    saef_maf_breaker_record(&b, T0 + 1001, SAEF_MAF_OUTCOME_ANSWERED, false);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_HALF_OPEN);
    admit_refused(&b, T0 + 1002);
}

static void test_threshold_zero_never_opens(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 0, 1000);
    fail_n(&b, T0, 1000);
    assert_int_equal(b.state, SAEF_MAF_BREAKER_CLOSED);
}

static void test_clock_going_back_keeps_it_open(void **state)
{
    (void)state;
    saef_maf_breaker_t b;
    saef_maf_breaker_init(&b, 1, 1000);
    fail_n(&b, T0, 1);
    admit_refused(&b, T0 - 5000);
    admit_ok(&b, T0 + 1000, true);
}

static void test_outcome_classification(void **state)
{
    (void)state;
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_UNREACHABLE, 0, 0),
                     SAEF_MAF_OUTCOME_UNAVAILABLE);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_TIMEOUT, 0, 0), SAEF_MAF_OUTCOME_UNAVAILABLE);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_RSC, 5000, 500), SAEF_MAF_OUTCOME_UNAVAILABLE);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_RSC, 5203, 403), SAEF_MAF_OUTCOME_UNAVAILABLE);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_HTTP_STATUS, 0, 503),
                     SAEF_MAF_OUTCOME_UNAVAILABLE);
    /* refusals and validation failures: the MAF answered */
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_REFUSED, 4004, 404), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_REFUSED, 4103, 403), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_RSC, 4000, 400), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_HTTP_STATUS, 0, 200),
                     SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_AUTH, 0, 0), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_JSON, 0, 200), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_EXPIRED, 2000, 200), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_MAF_KEY_LENGTH, 2000, 200),
                     SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_OK, 2000, 200), SAEF_MAF_OUTCOME_ANSWERED);
    assert_int_equal(saef_maf_outcome_of(SAEF_E_STATE, 0, 0), SAEF_MAF_OUTCOME_ABORTED);
    assert_string_equal(saef_maf_breaker_state_name(SAEF_MAF_BREAKER_HALF_OPEN), "half-open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_threshold),
        cmocka_unit_test(test_answers_reset_the_count),
        cmocka_unit_test(test_half_open_probe_success_closes),
        cmocka_unit_test(test_half_open_probe_failure_reopens),
        cmocka_unit_test(test_half_open_probe_aborted_frees_the_slot),
        cmocka_unit_test(test_late_results_do_not_move_an_open_breaker),
        cmocka_unit_test(test_threshold_zero_never_opens),
        cmocka_unit_test(test_clock_going_back_keeps_it_open),
        cmocka_unit_test(test_outcome_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
