/*
 * Fuzz target for the m2m:timestamp parser and formatter (expirationTime comes from the MAF).
 * A parsed time must format and parse back to itself; a canonical input must come back byte for
 * byte; arbitrary times must either format and parse back or fail cleanly.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "saef_time.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define NSEC_PER_USEC 1000L

static void check_text(const char *s, size_t len)
{
    struct timespec ts;
    if (saef_ts_parse(s, len, &ts) != SAEF_OK)
        return;
    CHECK(ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    CHECK(ts.tv_nsec % NSEC_PER_USEC == 0);

    char buf[SAEF_TS_BUF_SIZE];
    for (int fraction = 0; fraction < 2; fraction++) {
        CHECK(saef_ts_format(&ts, fraction, buf, sizeof(buf)) == SAEF_OK);
        size_t blen = strlen(buf);
        struct timespec back;
        CHECK(saef_ts_parse(buf, blen, &back) == SAEF_OK);
        CHECK(back.tv_sec == ts.tv_sec && back.tv_nsec == (fraction ? ts.tv_nsec : 0));
        if (blen == len)
            CHECK(memcmp(buf, s, len) == 0);
    }
    char plain[SAEF_TS_BUF_SIZE];
    CHECK(saef_ts_from_time(ts.tv_sec, plain, sizeof(plain)) == SAEF_OK);
    CHECK(strncmp(plain, buf, strlen(plain)) == 0);
}

static void check_time(const uint8_t *data, size_t size)
{
    time_t t;
    long ns;
    if (size < sizeof(t) + sizeof(ns))
        return;
    memcpy(&t, data, sizeof(t));
    memcpy(&ns, data + sizeof(t), sizeof(ns));
    struct timespec ts = {.tv_sec = t, .tv_nsec = ns};
    char buf[SAEF_TS_BUF_SIZE];
    saef_rc_t rc = saef_ts_format(&ts, true, buf, sizeof(buf));
    if (rc != SAEF_OK) {
        CHECK((rc == SAEF_E_TS_RANGE || rc == SAEF_E_INVALID_ARG) && buf[0] == '\0');
        return;
    }
    struct timespec back;
    CHECK(saef_ts_parse(buf, strlen(buf), &back) == SAEF_OK);
    CHECK(back.tv_sec == t && back.tv_nsec == ns / NSEC_PER_USEC * NSEC_PER_USEC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_text((const char *)data, size);
    check_time(data, size);
    return 0;
}
