/* The client registration schedule (docs/maf-binding.md 6.3 and 8) with an injected clock:
 * first POST at start, renewal at 2/3 of the granted lifetime, back-off 1 s doubling to 5 min,
 * POST again when the MAF lost the registration or it ran out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "saef_maf_internal.h"

#define T0 1740830400 /* 20250301T120000 */
#define DAY 86400
#define ORIGIN "//sp.example.com/in-cse"

static saef_maf_reg_answer_t answer(const char *id, time_t expires, const char *client_id)
{
    saef_maf_reg_answer_t a;
    memset(&a, 0, sizeof(a));
    strcpy(a.reg_id, id);
    a.expires.tv_sec = expires;
    strcpy(a.maf_client_id, client_id);
    strcpy(a.admin_fqdn, "sp.example.com");
    return a;
}

static void test_off_never_acts(void **state)
{
    (void)state;
    saef_maf_reg_t r;
    time_t proposed = 0;
    saef_maf_reg_init(&r, false, 0, T0);
    assert_int_equal(r.view.status, SAEF_MAF_REG_OFF);
    assert_int_equal(saef_maf_reg_due(&r, T0 + 10 * DAY, &proposed), SAEF_MAF_REG_ACT_NONE);
    assert_int_equal(saef_maf_reg_wait_s(&r, T0), INT32_MAX);
    assert_string_equal(saef_maf_reg_status_name(r.view.status), "off");
}

static void test_register_then_renew_at_two_thirds(void **state)
{
    (void)state;
    saef_maf_reg_t r;
    time_t proposed = 0;
    saef_maf_reg_init(&r, true, 0, T0);
    assert_int_equal(r.view.status, SAEF_MAF_REG_PENDING);
    assert_int_equal(saef_maf_reg_wait_s(&r, T0), 0);

    /* first: POST proposing now + 24 h (the default lifetime) */
    assert_int_equal(saef_maf_reg_due(&r, T0, &proposed), SAEF_MAF_REG_ACT_CREATE);
    assert_int_equal(proposed, T0 + DAY);
    /* nothing else while it is out */
    assert_int_equal(saef_maf_reg_due(&r, T0 + 1, &proposed), SAEF_MAF_REG_ACT_NONE);
    saef_maf_reg_answer_t a = answer("9C1E5A0B7D3F4E21A6B8C0D2E4F60718", T0 + DAY, ORIGIN);
    saef_maf_reg_done(&r, T0 + 1, SAEF_OK, 2001, &a, ORIGIN, "ok");
    assert_int_equal(r.view.status, SAEF_MAF_REG_ACTIVE);
    assert_string_equal(r.view.reg_id, "9C1E5A0B7D3F4E21A6B8C0D2E4F60718");
    assert_false(r.view.client_id_mismatch);
    assert_int_equal(r.view.expires.tv_sec, T0 + DAY);

    /* granted at T0+1 until T0+86400: renew when a third of the 86399 s is left */
    assert_int_equal(r.next_s, T0 + DAY - 86399 / 3);
    assert_int_equal(r.view.next_attempt.tv_sec, r.next_s);
    assert_int_equal(saef_maf_reg_due(&r, r.next_s - 1, &proposed), SAEF_MAF_REG_ACT_NONE);
    assert_int_equal(saef_maf_reg_wait_s(&r, r.next_s - 10), 10);
    /* due: an update (PUT) of the registration we hold */
    time_t at = r.next_s;
    assert_int_equal(saef_maf_reg_due(&r, at, &proposed), SAEF_MAF_REG_ACT_UPDATE);
    assert_int_equal(proposed, at + DAY);
    a = answer("9C1E5A0B7D3F4E21A6B8C0D2E4F60718", at + 7 * DAY, ORIGIN);
    saef_maf_reg_done(&r, at, SAEF_OK, 2004, &a, ORIGIN, "ok");
    assert_int_equal(r.next_s, at + 7 * DAY - 7 * DAY / 3);
}

/* Short lifetimes: at the latest 5 minutes before expiry, but never earlier than half-way. */
static void test_renewal_margins(void **state)
{
    (void)state;
    static const struct {
        time_t life;
        time_t renew_after; /* seconds after the grant */
    } cases[] = {
        {900, 600}, /* 2/3 and 5 minutes before coincide */
        {600, 300}, /* 5 minutes before expiry */
        {60, 30},   /* half-way */
        {6, 3},     /* half-way */
        {3 * DAY, 2 * DAY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        saef_maf_reg_t r;
        time_t proposed;
        saef_maf_reg_init(&r, true, (uint32_t)cases[i].life, T0);
        assert_int_equal(saef_maf_reg_due(&r, T0, &proposed), SAEF_MAF_REG_ACT_CREATE);
        assert_int_equal(proposed, T0 + cases[i].life);
        saef_maf_reg_answer_t a = answer("A", T0 + cases[i].life, ORIGIN);
        saef_maf_reg_done(&r, T0, SAEF_OK, 2001, &a, ORIGIN, "ok");
        assert_int_equal(r.next_s - T0, cases[i].renew_after);
    }
}

static void test_backoff_doubles_to_five_minutes(void **state)
{
    (void)state;
    static const time_t waits[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
    saef_maf_reg_t r;
    time_t now = T0, proposed;
    saef_maf_reg_init(&r, true, 0, now);
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        assert_int_equal(saef_maf_reg_due(&r, now, &proposed), SAEF_MAF_REG_ACT_CREATE);
        saef_maf_reg_done(&r, now, SAEF_E_MAF_UNREACHABLE, 0, NULL, ORIGIN,
                          "maf.example.com unreachable");
        assert_int_equal(r.view.status, SAEF_MAF_REG_RETRYING);
        assert_int_equal(r.view.failures, i + 1);
        assert_int_equal(r.view.last_rc, SAEF_E_MAF_UNREACHABLE);
        assert_string_equal(r.view.last_detail, "maf.example.com unreachable");
        assert_int_equal(r.next_s - now, waits[i]);
        assert_int_equal(saef_maf_reg_due(&r, r.next_s - 1, &proposed), SAEF_MAF_REG_ACT_NONE);
        now = r.next_s;
    }
    /* success resets the back-off */
    assert_int_equal(saef_maf_reg_due(&r, now, &proposed), SAEF_MAF_REG_ACT_CREATE);
    saef_maf_reg_answer_t a = answer("A", now + DAY, ORIGIN);
    saef_maf_reg_done(&r, now, SAEF_OK, 2001, &a, ORIGIN, "ok");
    assert_int_equal(r.view.failures, 0);
    assert_int_equal(r.backoff_s, 1);
}

/* A failed renewal keeps the registration (still valid) and retries with PUT; 4004 on PUT
 * means the MAF lost it: POST at once. */
static void test_failed_update_and_lost_registration(void **state)
{
    (void)state;
    saef_maf_reg_t r;
    time_t proposed;
    saef_maf_reg_init(&r, true, 3000, T0);
    saef_maf_reg_due(&r, T0, &proposed);
    saef_maf_reg_answer_t a = answer("A1", T0 + 3000, ORIGIN);
    saef_maf_reg_done(&r, T0, SAEF_OK, 2001, &a, ORIGIN, "ok");
    time_t at = r.next_s; /* T0 + 2000 */
    assert_int_equal(at, T0 + 2000);

    assert_int_equal(saef_maf_reg_due(&r, at, &proposed), SAEF_MAF_REG_ACT_UPDATE);
    saef_maf_reg_done(&r, at, SAEF_E_MAF_TIMEOUT, 0, NULL, ORIGIN, "timeout");
    assert_int_equal(r.view.status, SAEF_MAF_REG_ACTIVE);
    assert_string_equal(r.view.reg_id, "A1");
    assert_int_equal(r.next_s, at + 1);
    assert_int_equal(saef_maf_reg_due(&r, at + 1, &proposed), SAEF_MAF_REG_ACT_UPDATE);
    saef_maf_reg_done(&r, at + 1, SAEF_E_MAF_REFUSED, 4004, NULL, ORIGIN, "4004");
    assert_int_equal(r.view.status, SAEF_MAF_REG_RETRYING);
    assert_string_equal(r.view.reg_id, "");
    assert_int_equal(r.next_s, at + 1);
    assert_int_equal(saef_maf_reg_due(&r, at + 1, &proposed), SAEF_MAF_REG_ACT_CREATE);
}

/* Renewals fail until the registration ran out: the next attempt is a POST. */
static void test_expiry_while_failing(void **state)
{
    (void)state;
    saef_maf_reg_t r;
    time_t proposed;
    saef_maf_reg_init(&r, true, 60, T0);
    saef_maf_reg_due(&r, T0, &proposed);
    saef_maf_reg_answer_t a = answer("A1", T0 + 60, ORIGIN);
    saef_maf_reg_done(&r, T0, SAEF_OK, 2001, &a, ORIGIN, "ok");
    time_t now = r.next_s;
    while (now < T0 + 60) {
        assert_int_equal(saef_maf_reg_due(&r, now, &proposed), SAEF_MAF_REG_ACT_UPDATE);
        saef_maf_reg_done(&r, now, SAEF_E_MAF_UNREACHABLE, 0, NULL, ORIGIN, "down");
        /* the retry is always scheduled before the registration runs out */
        assert_true(r.next_s < T0 + 60 || r.next_s == now + 1);
        now = r.next_s;
    }
    assert_int_equal(saef_maf_reg_due(&r, now, &proposed), SAEF_MAF_REG_ACT_CREATE);
    assert_int_equal(r.view.status, SAEF_MAF_REG_RETRYING);
}

static void test_client_id_mismatch(void **state)
{
    (void)state;
    saef_maf_reg_t r;
    time_t proposed;
    saef_maf_reg_init(&r, true, 0, T0);
    saef_maf_reg_due(&r, T0, &proposed);
    saef_maf_reg_answer_t a = answer("A1", T0 + DAY, "//sp.example.com/other-cse");
    saef_maf_reg_done(&r, T0, SAEF_OK, 2001, &a, ORIGIN, "ok");
    assert_int_equal(r.view.status, SAEF_MAF_REG_ACTIVE);
    assert_true(r.view.client_id_mismatch);
    assert_string_equal(r.view.maf_client_id, "//sp.example.com/other-cse");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_never_acts),
        cmocka_unit_test(test_register_then_renew_at_two_thirds),
        cmocka_unit_test(test_renewal_margins),
        cmocka_unit_test(test_backoff_doubles_to_five_minutes),
        cmocka_unit_test(test_failed_update_and_lost_registration),
        cmocka_unit_test(test_expiry_while_failing),
        cmocka_unit_test(test_client_id_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
