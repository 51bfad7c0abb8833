/*
 * The circuit breaker of one MAF.  Pure: the caller passes the time and serialises access, so
 * every transition can be tested with an injected clock.
 *
 * Only "the MAF is unavailable" outcomes (connect failure, timeout, 5xxx) count.  A refusal, an
 * invalid answer or a TLS authentication failure proves that the MAF is there and answering:
 * opening the breaker would not spare it any load and would hide the real error behind
 * SAEF_E_MAF_CIRCUIT_OPEN, so those reset the count instead.
 */
#include "saef_maf_internal.h"

void saef_maf_breaker_init(saef_maf_breaker_t *b, uint32_t threshold, uint32_t cooldown_ms)
{
    *b = (saef_maf_breaker_t){
        .state = SAEF_MAF_BREAKER_CLOSED, .threshold = threshold, .cooldown_ms = cooldown_ms};
}

saef_rc_t saef_maf_breaker_admit(saef_maf_breaker_t *b, uint64_t now_ms, bool *probe)
{
    *probe = false;
    switch (b->state) {
    case SAEF_MAF_BREAKER_CLOSED:
        return SAEF_OK;
    case SAEF_MAF_BREAKER_OPEN:
        /* A clock that went backwards (it is monotonic, but be safe) keeps it open until the
         * cool-down has been measured forward. */
        if (now_ms < b->opened_ms || now_ms - b->opened_ms < b->cooldown_ms)
            return SAEF_E_MAF_CIRCUIT_OPEN;
        b->state = SAEF_MAF_BREAKER_HALF_OPEN;
        b->probe_out = false;
        break;
    case SAEF_MAF_BREAKER_HALF_OPEN:
        break;
    }
    if (b->probe_out)
        return SAEF_E_MAF_CIRCUIT_OPEN;
    b->probe_out = true;
    *probe = true;
    return SAEF_OK;
}

static void trip(saef_maf_breaker_t *b, uint64_t now_ms)
{
    b->state = SAEF_MAF_BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->probe_out = false;
    b->failures = 0;
    b->trips++;
}

void saef_maf_breaker_record(saef_maf_breaker_t *b, uint64_t now_ms, saef_maf_outcome_t outcome,
                             bool probe)
{
    if (probe) {
        /* The probe is only meaningful in the half-open state it was admitted in. */
        if (b->state != SAEF_MAF_BREAKER_HALF_OPEN)
            return;
        switch (outcome) {
        case SAEF_MAF_OUTCOME_ANSWERED:
            b->state = SAEF_MAF_BREAKER_CLOSED;
            b->failures = 0;
            b->probe_out = false;
            break;
        case SAEF_MAF_OUTCOME_UNAVAILABLE:
            trip(b, now_ms);
            break;
        case SAEF_MAF_OUTCOME_ABORTED:
            b->probe_out = false;
            break;
        }
        return;
    }
    /* A request admitted while closed that finishes after the breaker opened (it was already in
     * flight) must neither close it nor extend the cool-down. */
    if (b->state != SAEF_MAF_BREAKER_CLOSED)
        return;
    switch (outcome) {
    case SAEF_MAF_OUTCOME_ANSWERED:
        b->failures = 0;
        break;
    case SAEF_MAF_OUTCOME_UNAVAILABLE:
        if (b->threshold == 0)
            break;
        if (++b->failures >= b->threshold)
            trip(b, now_ms);
        break;
    case SAEF_MAF_OUTCOME_ABORTED:
        break;
    }
}

saef_maf_outcome_t saef_maf_outcome_of(saef_rc_t rc, int rsc, long http_status)
{
    switch (rc) {
    case SAEF_E_MAF_UNREACHABLE:
    case SAEF_E_MAF_TIMEOUT:
        return SAEF_MAF_OUTCOME_UNAVAILABLE;
    case SAEF_E_MAF_RSC:
        return rsc >= 5000 && rsc <= 5999 ? SAEF_MAF_OUTCOME_UNAVAILABLE
                                          : SAEF_MAF_OUTCOME_ANSWERED;
    case SAEF_E_MAF_HTTP_STATUS:
        /* A 5xx without a usable X-M2M-RSC comes from something in front of the MAF (a load
         * balancer with no MAF behind it): unavailable as well. */
        return http_status >= 500 && http_status <= 599 ? SAEF_MAF_OUTCOME_UNAVAILABLE
                                                        : SAEF_MAF_OUTCOME_ANSWERED;
    case SAEF_E_STATE:
    case SAEF_E_NOMEM:
    case SAEF_E_INTERNAL:
        /* Our own trouble says nothing about the MAF. */
        return SAEF_MAF_OUTCOME_ABORTED;
    default:
        return SAEF_MAF_OUTCOME_ANSWERED;
    }
}

const char *saef_maf_breaker_state_name(saef_maf_breaker_state_t s)
{
    switch (s) {
    case SAEF_MAF_BREAKER_CLOSED:
        return "closed";
    case SAEF_MAF_BREAKER_OPEN:
        return "open";
    case SAEF_MAF_BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "unknown";
}
