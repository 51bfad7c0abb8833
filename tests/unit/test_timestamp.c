/*
 * Unit tests of security/saef_time.h (m2m:timestamp, TS-0004 6.3.3).  Expected Epoch seconds
 * were worked out independently of this code (proleptic Gregorian calendar, UTC).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "saef_time.h"

#define S(lit) lit, (sizeof(lit) - 1)
#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

struct parse_row {
    const char *in;
    size_t len;
    saef_rc_t rc;
    time_t sec;
    long nsec;
};

static const struct parse_row parse_rows[] = {
    {S("19700101T000000"), SAEF_OK, 0, 0},
    {S("20141003T112032"), SAEF_OK, 1412335232, 0}, /* the TS-0004 example */
    {S("20141003T112032,5"), SAEF_OK, 1412335232, 500000000},
    {S("20141003T112032,05"), SAEF_OK, 1412335232, 50000000},
    {S("20141003T112032,123456"), SAEF_OK, 1412335232, 123456000},
    {S("20141003T112032,000001"), SAEF_OK, 1412335232, 1000},
    {S("20000229T120000"), SAEF_OK, 951825600, 0},  /* 2000: divisible by 400, leap */
    {S("20240229T000000"), SAEF_OK, 1709164800, 0}, /* 2024: divisible by 4, leap */
    {S("19720630T235959"), SAEF_OK, 78796799, 0},
    {S("20380119T031408"), SAEF_OK, 2147483648, 0}, /* past 32-bit time_t */
    {S("99991231T235959"), SAEF_OK, 253402300799, 0},
    {S("99991231T235959,999999"), SAEF_OK, 253402300799, 999999000},
    /* range */
    {S("21000229T000000"), SAEF_E_TS_RANGE, 0, 0}, /* 2100: divisible by 100, not leap */
    {S("19000229T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230229T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230431T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20231131T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230132T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230100T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20231301T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230001T000000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230101T240000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230101T006000"), SAEF_E_TS_RANGE, 0, 0},
    {S("20230101T000060"), SAEF_E_TS_RANGE, 0, 0}, /* no leap seconds */
    {S("19691231T235959"), SAEF_E_TS_RANGE, 0, 0},
    {S("00000101T000000"), SAEF_E_TS_RANGE, 0, 0},
    /* format */
    {S(""), SAEF_E_TS_FORMAT, 0, 0},
    {S("2014"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T11203"), SAEF_E_TS_FORMAT, 0, 0},
    {S("2014100T112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S("201410031120320"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003t112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003 112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S("2014-10-03T11:20:32"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032Z"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032+0100"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032-01"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032.5"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032,"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032,1234567"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032,12a"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032,5Z"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T112032\0"), SAEF_E_TS_FORMAT, 0, 0},
    {S("2014\000003T112032"), SAEF_E_TS_FORMAT, 0, 0}, /* NUL for the 5th digit */
    {S("+0141003T112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S(" 20141003T112032"), SAEF_E_TS_FORMAT, 0, 0},
    {S("20141003T11203\xd9"), SAEF_E_TS_FORMAT, 0, 0},
};

static void run_parse_table(void)
{
    for (size_t i = 0; i < ROWS(parse_rows); i++) {
        const struct parse_row *r = &parse_rows[i];
        struct timespec ts = {.tv_sec = 42, .tv_nsec = 43};
        saef_rc_t rc = saef_ts_parse(r->in, r->len, &ts);
        if (rc != r->rc) {
            print_error("parse row %zu: got %d (%s), want %d (%s)\n", i, (int)rc, saef_strerror(rc),
                        (int)r->rc, saef_strerror(r->rc));
            fail();
        }
        if (rc == SAEF_OK) {
            assert_int_equal(ts.tv_sec, r->sec);
            assert_int_equal(ts.tv_nsec, r->nsec);
        } else {
            assert_int_equal(ts.tv_sec, 42);
            assert_int_equal(ts.tv_nsec, 43);
        }
    }
}

static void test_parse_table(void **state)
{
    (void)state;
    run_parse_table();
}

/* The result must not follow the process's time zone (timestamps are always UTC). */
static void test_parse_ignores_tz(void **state)
{
    (void)state;
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;
    assert_int_equal(setenv("TZ", "EST5EDT", 1), 0);
    tzset();
    run_parse_table();

    char buf[SAEF_TS_BUF_SIZE];
    assert_int_equal(saef_ts_from_time(1412335232, buf, sizeof(buf)), SAEF_OK);
    assert_string_equal(buf, "20141003T112032");

    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
}

struct format_row {
    time_t sec;
    long nsec;
    bool fraction;
    size_t buflen;
    saef_rc_t rc;
    const char *out; /* "" on every error */
};

static const struct format_row format_rows[] = {
    {0, 0, false, SAEF_TS_BUF_SIZE, SAEF_OK, "19700101T000000"},
    {0, 0, true, SAEF_TS_BUF_SIZE, SAEF_OK, "19700101T000000,000000"},
    {1412335232, 0, false, SAEF_TS_BUF_SIZE, SAEF_OK, "20141003T112032"},
    {1412335232, 500000000, true, SAEF_TS_BUF_SIZE, SAEF_OK, "20141003T112032,500000"},
    {1412335232, 500000000, false, SAEF_TS_BUF_SIZE, SAEF_OK, "20141003T112032"},
    {1412335232, 123456789, true, SAEF_TS_BUF_SIZE, SAEF_OK, "20141003T112032,123456"},
    {1412335232, 999, true, SAEF_TS_BUF_SIZE, SAEF_OK, "20141003T112032,000000"},
    {951825600, 0, false, SAEF_TS_BUF_SIZE, SAEF_OK, "20000229T120000"},
    {253402300799, 999999999, true, SAEF_TS_BUF_SIZE, SAEF_OK, "99991231T235959,999999"},
    {1412335232, 0, false, 16, SAEF_OK, "20141003T112032"},
    {1412335232, 0, false, 15, SAEF_E_BUFFER_TOO_SMALL, ""},
    {1412335232, 0, true, 23, SAEF_OK, "20141003T112032,000000"},
    {1412335232, 0, true, 22, SAEF_E_BUFFER_TOO_SMALL, ""},
    {1412335232, 0, true, 16, SAEF_E_BUFFER_TOO_SMALL, ""},
    {-1, 0, false, SAEF_TS_BUF_SIZE, SAEF_E_TS_RANGE, ""},
    {253402300800, 0, false, SAEF_TS_BUF_SIZE, SAEF_E_TS_RANGE, ""}, /* year 10000 */
    {0, -1, true, SAEF_TS_BUF_SIZE, SAEF_E_INVALID_ARG, ""},
    {0, 1000000000, true, SAEF_TS_BUF_SIZE, SAEF_E_INVALID_ARG, ""},
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(format_rows); i++) {
        const struct format_row *r = &format_rows[i];
        char buf[64];
        memset(buf, 'X', sizeof(buf));
        struct timespec ts = {.tv_sec = r->sec, .tv_nsec = r->nsec};
        saef_rc_t rc = saef_ts_format(&ts, r->fraction, buf, r->buflen);
        if (rc != r->rc) {
            print_error("format row %zu: got %d, want %d\n", i, (int)rc, (int)r->rc);
            fail();
        }
        assert_string_equal(buf, r->out);
        assert_int_equal(buf[r->buflen], 'X');
    }
}

static void test_from_time(void **state)
{
    (void)state;
    char buf[SAEF_TS_BUF_SIZE];
    assert_int_equal(saef_ts_from_time(0, buf, sizeof(buf)), SAEF_OK);
    assert_string_equal(buf, "19700101T000000");
    assert_int_equal(saef_ts_from_time(1709164800, buf, sizeof(buf)), SAEF_OK);
    assert_string_equal(buf, "20240229T000000");
    assert_int_equal(saef_ts_from_time(78796799, buf, sizeof(buf)), SAEF_OK);
    assert_string_equal(buf, "19720630T235959");
    assert_int_equal(saef_ts_from_time(-1, buf, sizeof(buf)), SAEF_E_TS_RANGE);
    assert_string_equal(buf, "");
    assert_int_equal(saef_ts_from_time(0, buf, 15), SAEF_E_BUFFER_TOO_SMALL);
    assert_int_equal(saef_ts_from_time(0, NULL, 0), SAEF_E_BUFFER_TOO_SMALL);
}

/* Text -> time -> text gives the same text for the two canonical shapes. */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "19700101T000000",        "20141003T112032",        "20000229T235959",
        "20240229T120000,000001", "20991231T235959,999999", "99991231T235959",
        "20380119T031408,500000", "19721231T235959",
    };
    for (size_t i = 0; i < ROWS(texts); i++) {
        struct timespec ts;
        char buf[SAEF_TS_BUF_SIZE];
        size_t len = strlen(texts[i]);
        assert_int_equal(saef_ts_parse(texts[i], len, &ts), SAEF_OK);
        assert_int_equal(saef_ts_format(&ts, len > 15, buf, sizeof(buf)), SAEF_OK);
        assert_string_equal(buf, texts[i]);
    }
}

static void test_null_arguments(void **state)
{
    (void)state;
    struct timespec ts;
    char buf[SAEF_TS_BUF_SIZE];
    assert_int_equal(saef_ts_parse(NULL, 15, &ts), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_ts_parse(S("20141003T112032"), NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_ts_parse(NULL, 0, &ts), SAEF_E_TS_FORMAT);
    assert_int_equal(saef_ts_format(NULL, false, buf, sizeof(buf)), SAEF_E_INVALID_ARG);
    assert_int_equal(SAEF_TS_BUF_SIZE, sizeof("YYYYMMDDThhmmss,ffffff"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_parse_ignores_tz),
        cmocka_unit_test(test_format_table), cmocka_unit_test(test_from_time),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests_name("saef_time", tests, NULL, NULL);
}
