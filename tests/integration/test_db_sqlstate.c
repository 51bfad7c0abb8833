/*
 * db/ helpers that need no server: the SQLSTATE table, schema name checks, the reconnect
 * back-off, input checks of the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "saef_db_internal.h"

static void test_sqlstate_table(void **state)
{
    /* Expected classes from the PostgreSQL error code appendix and the FreeRADIUS rules. */
    static const struct {
        const char *code;
        saef_db_errclass_t cls;
        bool data;
    } cases[] = {
        {"08000", SAEF_DB_ERR_RETRY, false},  /* connection_exception */
        {"08003", SAEF_DB_ERR_RETRY, false},  /* connection_does_not_exist */
        {"08006", SAEF_DB_ERR_RETRY, false},  /* connection_failure */
        {"08001", SAEF_DB_ERR_RETRY, false},  /* sqlclient_unable_to_establish_sqlconnection */
        {"08P01", SAEF_DB_ERR_RETRY, false},  /* protocol_violation */
        {"57P01", SAEF_DB_ERR_RETRY, false},  /* admin_shutdown */
        {"57P02", SAEF_DB_ERR_RETRY, false},  /* crash_shutdown */
        {"57P03", SAEF_DB_ERR_RETRY, false},  /* cannot_connect_now */
        {"57P04", SAEF_DB_ERR_FATAL, false},  /* database_dropped */
        {"57014", SAEF_DB_ERR_FATAL, false},  /* query_canceled */
        {"40001", SAEF_DB_ERR_RETRY, false},  /* serialization_failure */
        {"40P01", SAEF_DB_ERR_RETRY, false},  /* deadlock_detected */
        {"40002", SAEF_DB_ERR_FATAL, false},  /* transaction_integrity_constraint_violation */
        {"53300", SAEF_DB_ERR_RETRY, false},  /* too_many_connections */
        {"53100", SAEF_DB_ERR_FATAL, false},  /* disk_full */
        {"23505", SAEF_DB_ERR_EXISTS, false}, /* unique_violation */
        {"23503", SAEF_DB_ERR_FATAL, true},   /* foreign_key_violation */
        {"23514", SAEF_DB_ERR_FATAL, true},   /* check_violation */
        {"22001", SAEF_DB_ERR_FATAL, true},   /* string_data_right_truncation */
        {"22P02", SAEF_DB_ERR_FATAL, true},   /* invalid_text_representation */
        {"42P01", SAEF_DB_ERR_FATAL, false},  /* undefined_table */
        {"42501", SAEF_DB_ERR_FATAL, false},  /* insufficient_privilege */
        {"25P02", SAEF_DB_ERR_FATAL, false},  /* in_failed_sql_transaction */
        {"XX000", SAEF_DB_ERR_FATAL, false},  /* internal_error */
        /* malformed input is fatal, never retry */
        {"08", SAEF_DB_ERR_FATAL, false},
        {"0800", SAEF_DB_ERR_FATAL, false},
        {"080000", SAEF_DB_ERR_FATAL, false},
        {"08p01", SAEF_DB_ERR_FATAL, false},
        {"", SAEF_DB_ERR_FATAL, false},
        {"23-05", SAEF_DB_ERR_FATAL, false},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (saef_db_sqlstate_class(cases[i].code) != cases[i].cls)
            fail_msg("%s: got %s, want %s", cases[i].code,
                     saef_db_errclass_name(saef_db_sqlstate_class(cases[i].code)),
                     saef_db_errclass_name(cases[i].cls));
        if (saef_db_sqlstate_is_data_error(cases[i].code) != cases[i].data)
            fail_msg("%s: data error classification", cases[i].code);
    }
    assert_int_equal(saef_db_sqlstate_class(NULL), SAEF_DB_ERR_FATAL);
    assert_false(saef_db_sqlstate_is_data_error(NULL));
    assert_string_equal(saef_db_errclass_name(SAEF_DB_ERR_RETRY), "retry");
    assert_string_equal(saef_db_errclass_name(SAEF_DB_ERR_EXISTS), "exists");
    assert_string_equal(saef_db_errclass_name(SAEF_DB_ERR_FATAL), "fatal");
    assert_string_equal(saef_db_errclass_name(SAEF_DB_ERR_NONE), "none");
}

static void test_schema_check(void **state)
{
    static const struct {
        const char *name;
        bool ok;
    } cases[] = {
        {"saef", true},  {"_", true},    {"a_1", true},    {"z9", true},     {"", false},
        {"1a", false},   {"A", false},   {"sa ef", false}, {"sa-ef", false}, {"sa\"ef", false},
        {"pg_x", false}, {"pg_", false}, {"pgx", true},    {"saef;", false}, {"\xc3\xa9", false},
    };
    char longname[70];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if ((saef_db_schema_check(cases[i].name) == SAEF_OK) != cases[i].ok)
            fail_msg("schema \"%s\"", cases[i].name);
    memset(longname, 'a', sizeof(longname));
    longname[63] = '\0';
    assert_int_equal(saef_db_schema_check(longname), SAEF_OK);
    longname[63] = 'a';
    longname[64] = '\0';
    assert_int_equal(saef_db_schema_check(longname), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_db_schema_check(NULL), SAEF_E_INVALID_ARG);
}

/* 100 ms doubling to 5 s: every wait in the upper half of its step, then capped. */
static void test_backoff(void **state)
{
    static const uint32_t nominal[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    db_backoff_t b;
    uint32_t seen_low = 0, seen_high = 0;
    int round, i;

    for (round = 0; round < 200; round++) {
        db_backoff_init(&b, 100, 5000, (uint64_t)round * 7919 + 1);
        for (i = 0; i < (int)(sizeof(nominal) / sizeof(nominal[0])); i++) {
            uint32_t w = db_backoff_next(&b);

            if (w < nominal[i] / 2 || w > nominal[i])
                fail_msg("step %d: %u not in [%u, %u]", i, w, nominal[i] / 2, nominal[i]);
            seen_low |= w < nominal[i] * 3 / 4;
            seen_high |= w > nominal[i] * 3 / 4;
        }
        db_backoff_reset(&b);
        assert_true(db_backoff_next(&b) <= 100);
    }
    /* jittered: both halves of the range occur */
    assert_true(seen_low && seen_high);
    /* two seeds do not give the same sequence */
    {
        db_backoff_t x, y;
        int same = 0;

        db_backoff_init(&x, 100, 5000, 12345);
        db_backoff_init(&y, 100, 5000, 54321);
        for (i = 0; i < 8; i++)
            same += db_backoff_next(&x) == db_backoff_next(&y);
        assert_true(same < 8);
    }
    assert_true(db_backoff_seed(&b) != 0);
}

static void test_text_checks(void **state)
{
    char s256[257];
    saef_db_assoc_t a = {.peer_kind = SAEF_PEER_CSE_ID,
                         .peer_id = "/cse1",
                         .key_id = "k@m",
                         .maf_fqdn = "m",
                         .transport = SAEF_DB_TLS,
                         .node_id = "n",
                         .handshake_us = 1};

    assert_true(db_text_ok("abc ~", 5, false));
    assert_false(db_text_ok("abcdef", 5, false));
    assert_false(db_text_ok("a\tb", 5, false));
    assert_false(db_text_ok("a\x7f", 5, false));
    assert_false(db_text_ok("\xc3\xa9", 5, false));
    assert_false(db_text_ok("", 5, false));
    assert_true(db_text_ok("", 5, true));
    assert_true(db_text_ok(NULL, 5, true));
    assert_false(db_text_ok(NULL, 5, false));

    assert_int_equal(saef_db_assoc_check(&a), SAEF_OK);
    memset(s256, 'x', 256);
    s256[256] = '\0';
    a.peer_id = s256;
    assert_int_equal(saef_db_assoc_check(&a), SAEF_E_INVALID_ARG);
    s256[255] = '\0';
    assert_int_equal(saef_db_assoc_check(&a), SAEF_OK);
    a.key_id = "k@";
    assert_int_equal(saef_db_assoc_check(&a), SAEF_E_INVALID_ARG);
    a.key_id = "k@m";
    a.transport = 3;
    assert_int_equal(saef_db_assoc_check(&a), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_db_assoc_check(NULL), SAEF_E_INVALID_ARG);

    assert_int_equal(saef_db_assoc_state_parse("revoked"), SAEF_DB_REVOKED);
    assert_int_equal(saef_db_assoc_state_parse("Revoked"), 0);
    assert_int_equal(saef_db_assoc_state_parse(NULL), 0);
    assert_string_equal(saef_db_assoc_state_name(SAEF_DB_EXPIRED), "expired");
    assert_string_equal(saef_db_assoc_state_name(9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlstate_table),
        cmocka_unit_test(test_schema_check),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_text_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
