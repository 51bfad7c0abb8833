/* m2m:timestamp parsing and formatting.  timegm()/gmtime_r() convert without consulting TZ. */
#include <string.h>

#include "saef_time.h"

#define TS_BASE_LEN 15 /* YYYYMMDDThhmmss */
#define TS_FRAC_MAX 6
#define TS_YEAR_MIN 1970
#define TS_YEAR_MAX 9999
#define TS_NSEC_PER_SEC 1000000000L

static bool digits_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* Only called on ranges digits_at() accepted, of at most 6 digits. */
static long number_at(const char *s, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static long days_in_month(long y, long m)
{
    static const long days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

saef_rc_t saef_ts_parse(const char *s, size_t len, struct timespec *out)
{
    if ((s == NULL && len > 0) || out == NULL)
        return SAEF_E_INVALID_ARG;
    if (len < TS_BASE_LEN || !digits_at(s, 8) || s[8] != 'T' || !digits_at(s + 9, 6))
        return SAEF_E_TS_FORMAT;

    long nsec = 0;
    if (len > TS_BASE_LEN) {
        size_t nf = len - TS_BASE_LEN - 1;
        if (s[TS_BASE_LEN] != ',' || nf < 1 || nf > TS_FRAC_MAX ||
            !digits_at(s + TS_BASE_LEN + 1, nf))
            return SAEF_E_TS_FORMAT;
        nsec = number_at(s + TS_BASE_LEN + 1, nf);
        for (size_t i = nf; i < 9; i++)
            nsec *= 10;
    }

    long year = number_at(s, 4), mon = number_at(s + 4, 2), day = number_at(s + 6, 2);
    long hour = number_at(s + 9, 2), min = number_at(s + 11, 2), sec = number_at(s + 13, 2);
    if (year < TS_YEAR_MIN || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hour > 23 || min > 59 || sec > 59)
        return SAEF_E_TS_RANGE;

    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int)(year - 1900);
    tm.tm_mon = (int)(mon - 1);
    tm.tm_mday = (int)day;
    tm.tm_hour = (int)hour;
    tm.tm_min = (int)min;
    tm.tm_sec = (int)sec;
    /* Every accepted date is after the Epoch, so -1 only means time_t is too narrow. */
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return SAEF_E_TS_RANGE;
    out->tv_sec = t;
    out->tv_nsec = nsec;
    return SAEF_OK;
}

static char *put_digits(char *p, long v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

saef_rc_t saef_ts_format(const struct timespec *ts, bool with_fraction, char *buf, size_t buflen)
{
    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    if (ts == NULL || ts->tv_nsec < 0 || ts->tv_nsec >= TS_NSEC_PER_SEC)
        return SAEF_E_INVALID_ARG;
    if (ts->tv_sec < 0)
        return SAEF_E_TS_RANGE;
    struct tm tm;
    if (gmtime_r(&ts->tv_sec, &tm) == NULL)
        return SAEF_E_TS_RANGE;
    long year = (long)tm.tm_year + 1900;
    if (year > TS_YEAR_MAX)
        return SAEF_E_TS_RANGE;
    size_t need = TS_BASE_LEN + (with_fraction ? 1 + TS_FRAC_MAX : 0);
    if (buf == NULL || buflen <= need)
        return SAEF_E_BUFFER_TOO_SMALL;

    char *p = put_digits(buf, year, 4);
    p = put_digits(p, tm.tm_mon + 1, 2);
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2);
    p = put_digits(p, tm.tm_min, 2);
    p = put_digits(p, tm.tm_sec, 2);
    if (with_fraction) {
        *p++ = ',';
        p = put_digits(p, ts->tv_nsec / 1000, TS_FRAC_MAX);
    }
    *p = '\0';
    return SAEF_OK;
}

saef_rc_t saef_ts_from_time(time_t t, char *buf, size_t buflen)
{
    struct timespec ts = {.tv_sec = t, .tv_nsec = 0};
    return saef_ts_format(&ts, false, buf, buflen);
}

void saef_ts_add_ms(struct timespec *ts, uint64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

struct timespec saef_clock_after_ms(clockid_t clock, uint64_t ms)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    saef_ts_add_ms(&ts, ms);
    return ts;
}

bool saef_clock_passed(clockid_t clock, const struct timespec *ts)
{
    struct timespec now;

    clock_gettime(clock, &now);
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}
