/*
 * m2m:timestamp (TS-0004 6.3.3): ISO 8601 basic format "YYYYMMDDThhmmss" with an optional
 * fraction ",f" of 1 to 6 digits, always UTC, never a zone designator.  Used for the MAF's
 * expirationTime.  No allocation, no logging, no dependence on TZ or the locale; thread-safe.
 */
#ifndef SAEF_TIME_H
#define SAEF_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_rc.h"

/* Buffer size for any formatted timestamp: "YYYYMMDDThhmmss,ffffff" and the NUL. */
#define SAEF_TS_BUF_SIZE 23

/*
 * Parse an m2m:timestamp.
 *   s, len  the bytes (not NUL-terminated; an embedded NUL is SAEF_E_TS_FORMAT).
 *   out     receives seconds since the Epoch and the fraction in nanoseconds.
 * Returns SAEF_OK; SAEF_E_TS_FORMAT for anything but the exact shape (no sign, 'T' upper case,
 * ',' not '.', 1..6 fraction digits, no 'Z' or offset); SAEF_E_TS_RANGE for year outside
 * 1970..9999, month outside 1..12, day not in the month (Gregorian leap years), hour > 23,
 * minute > 59 or second > 59 (no leap seconds), or a time time_t cannot hold;
 * SAEF_E_INVALID_ARG for a NULL out or a NULL s with len > 0.  out is untouched on error.
 */
saef_rc_t saef_ts_parse(const char *s, size_t len, struct timespec *out);

/*
 * Format ts as an m2m:timestamp into buf (NUL-terminated).  With with_fraction the fraction is
 * written as 6 digits (microseconds, truncated from tv_nsec).
 * Returns SAEF_OK; SAEF_E_TS_RANGE when ts is before 1970 or after 9999; SAEF_E_INVALID_ARG for
 * a NULL ts or tv_nsec outside 0..999999999; SAEF_E_BUFFER_TOO_SMALL (16 bytes are needed
 * without fraction, SAEF_TS_BUF_SIZE with).  buf holds "" on every error (when buflen > 0).
 */
saef_rc_t saef_ts_format(const struct timespec *ts, bool with_fraction, char *buf, size_t buflen);

/* saef_ts_format() of t without fraction. */
saef_rc_t saef_ts_from_time(time_t t, char *buf, size_t buflen);

/* Add ms milliseconds to *ts (a CLOCK_* reading), keeping tv_nsec normalised. */
void saef_ts_add_ms(struct timespec *ts, uint64_t ms);

/* clock (CLOCK_REALTIME, CLOCK_MONOTONIC, ...) now plus ms milliseconds: a deadline. */
struct timespec saef_clock_after_ms(clockid_t clock, uint64_t ms);

/* Whether the clock has reached *ts. */
bool saef_clock_passed(clockid_t clock, const struct timespec *ts);

#endif /* SAEF_TIME_H */
