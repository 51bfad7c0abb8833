/*
 * When to (re-)register Entity B with a MAF (TS-0003 8.8.2.3 / 8.8.2.5, docs/maf-binding.md
 * 6.3 and 8).  Pure: time comes in, so the schedule is tested without waiting.  The worker
 * thread asks saef_maf_reg_due() on every turn and reports with saef_maf_reg_done().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "saef_maf_internal.h"

#define RENEW_LATEST_S 300 /* renew at the latest 5 minutes before expiry (6.3) */

static struct timespec ts_of(time_t t)
{
    return (struct timespec){.tv_sec = t, .tv_nsec = 0};
}

void saef_maf_reg_init(saef_maf_reg_t *r, bool enabled, uint32_t lifetime_s, time_t now)
{
    memset(r, 0, sizeof(*r));
    r->lifetime_s = lifetime_s != 0 ? lifetime_s : SAEF_MAF_REG_LIFETIME_DEFAULT_S;
    r->backoff_s = SAEF_MAF_REG_BACKOFF_MIN_S;
    r->view.status = enabled ? SAEF_MAF_REG_PENDING : SAEF_MAF_REG_OFF;
    r->view.last_rc = SAEF_OK;
    r->next_s = now;
    r->view.next_attempt = ts_of(enabled ? now : 0);
}

/* Is the registration we hold still valid at now? */
static bool holds_valid(const saef_maf_reg_t *r, time_t now)
{
    return r->view.reg_id[0] != '\0' && r->view.expires.tv_sec > now;
}

saef_maf_reg_action_t saef_maf_reg_due(saef_maf_reg_t *r, time_t now, time_t *proposed)
{
    if (r->view.status == SAEF_MAF_REG_OFF || r->in_flight || now < r->next_s)
        return SAEF_MAF_REG_ACT_NONE;
    if (r->view.status == SAEF_MAF_REG_ACTIVE && !holds_valid(r, now)) {
        /* Expired while renewals failed: the MAF treats it as gone (5.5), so start over. */
        r->view.status = SAEF_MAF_REG_RETRYING;
        r->view.reg_id[0] = '\0';
    }
    r->sent = holds_valid(r, now) ? SAEF_MAF_REG_ACT_UPDATE : SAEF_MAF_REG_ACT_CREATE;
    r->in_flight = true;
    r->view.last_attempt = ts_of(now);
    *proposed = now + (time_t)r->lifetime_s;
    return r->sent;
}

int64_t saef_maf_reg_wait_s(const saef_maf_reg_t *r, time_t now)
{
    if (r->view.status == SAEF_MAF_REG_OFF || r->in_flight)
        return INT32_MAX;
    return r->next_s > now ? (int64_t)(r->next_s - now) : 0;
}

/* Renewal time for a registration granted at `at` until `until`: when a third of the lifetime
 * is left, but at the latest 5 minutes before expiry, and never before half-way (a MAF that
 * grants only seconds must not make us renew in a loop). */
static time_t renew_at(time_t at, time_t until)
{
    int64_t life = (int64_t)until - (int64_t)at;
    if (life <= 1)
        return at + 1;
    int64_t margin = life / 3;
    int64_t latest = RENEW_LATEST_S < life / 2 ? RENEW_LATEST_S : life / 2;
    if (margin < latest)
        margin = latest;
    return until - (time_t)margin;
}

void saef_maf_reg_done(saef_maf_reg_t *r, time_t now, saef_rc_t rc, int rsc,
                       const saef_maf_reg_answer_t *ans, const char *origin, const char *detail)
{
    saef_maf_reg_action_t sent = r->sent;

    r->in_flight = false;
    r->sent = SAEF_MAF_REG_ACT_NONE;
    r->view.last_rc = rc;
    snprintf(r->view.last_detail, sizeof(r->view.last_detail), "%s", detail ? detail : "");
    if (rc == SAEF_OK && ans != NULL) {
        r->view.status = SAEF_MAF_REG_ACTIVE;
        snprintf(r->view.reg_id, sizeof(r->view.reg_id), "%s", ans->reg_id);
        snprintf(r->view.maf_client_id, sizeof(r->view.maf_client_id), "%s", ans->maf_client_id);
        r->view.client_id_mismatch = origin != NULL && strcmp(origin, ans->maf_client_id) != 0;
        r->view.expires = ans->expires;
        r->view.failures = 0;
        r->granted_at = now;
        r->backoff_s = SAEF_MAF_REG_BACKOFF_MIN_S;
        r->next_s = renew_at(now, ans->expires.tv_sec);
        r->view.next_attempt = ts_of(r->next_s);
        return;
    }
    r->view.failures++;
    if (sent == SAEF_MAF_REG_ACT_UPDATE && rc == SAEF_E_MAF_REFUSED && rsc == 4004) {
        /* The MAF lost or purged it (6.3): register anew at once. */
        r->view.reg_id[0] = '\0';
        r->view.status = SAEF_MAF_REG_RETRYING;
        r->next_s = now;
        r->view.next_attempt = ts_of(now);
        return;
    }
    if (!holds_valid(r, now)) {
        r->view.status = SAEF_MAF_REG_RETRYING;
        r->view.reg_id[0] = '\0';
    }
    r->next_s = now + (time_t)r->backoff_s;
    /* An update must still reach the MAF before the registration runs out. */
    if (holds_valid(r, now) && r->next_s >= r->view.expires.tv_sec)
        r->next_s = r->view.expires.tv_sec - 1 > now ? r->view.expires.tv_sec - 1 : now + 1;
    r->view.next_attempt = ts_of(r->next_s);
    r->backoff_s = r->backoff_s >= SAEF_MAF_REG_BACKOFF_MAX_S / 2 ? SAEF_MAF_REG_BACKOFF_MAX_S
                                                                  : r->backoff_s * 2;
}

const char *saef_maf_reg_status_name(saef_maf_reg_status_t s)
{
    switch (s) {
    case SAEF_MAF_REG_OFF:
        return "off";
    case SAEF_MAF_REG_PENDING:
        return "pending";
    case SAEF_MAF_REG_ACTIVE:
        return "active";
    case SAEF_MAF_REG_RETRYING:
        return "retrying";
    }
    return "unknown";
}
