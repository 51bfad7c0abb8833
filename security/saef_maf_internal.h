/*
 * Inside the MAF client (security/maf_*.c).  Not part of the security/ interface: other code
 * includes saef_maf.h only; the unit tests and fuzz targets include this too.
 *
 *   maf_b64.c       strict base64 (RFC 4648 section 4)
 *   maf_breaker.c   circuit breaker state machine, time passed in
 *   maf_register.c  client registration schedule, time passed in
 *   maf_answer.c    validation of an HTTP/JSON answer (pure)
 *   maf_client.c    the generic client: bounds, single flight, breaker, worker thread
 *   maf_http.c      the HTTP/TLS binding (libcurl), behind saef_maf_binding_ops_t
 */
#ifndef SAEF_MAF_INTERNAL_H
#define SAEF_MAF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_maf.h"

/* Limits of the binding (docs/maf-binding.md 5.4). */
#define SAEF_MAF_BODY_MAX 16384      /* response body a client reads */
#define SAEF_MAF_RI_MAX 128          /* X-M2M-RI */
#define SAEF_MAF_ORIGIN_MAX 255      /* X-M2M-Origin, CSE-ID, AE-ID, KmID */
#define SAEF_MAF_KEY_B64_LEN 44      /* base64 of 32 bytes */
#define SAEF_MAF_REG_BACKOFF_MIN_S 1 /* client registration retry back-off */
#define SAEF_MAF_REG_BACKOFF_MAX_S 300
#define SAEF_MAF_MAX_ENDPOINTS 64
#define SAEF_MAF_INFLIGHT_LIMIT 65536u

/* printf into a detail buffer (either may be NULL/0); returns rc, so `return detail_set(...)`. */
saef_rc_t saef_maf_detail(saef_rc_t rc, char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copy untrusted text (from the MAF) for a detail line: at most max_show bytes, bytes outside
 * 0x20..0x7E shown as '?', "..." appended when cut.  dst is always NUL-terminated. */
void saef_maf_sanitize(char *dst, size_t dst_len, const char *src, size_t src_len, size_t max_show);

/* ---- maf_endpoint.c ------------------------------------------------------------------------ */

/* Check what the generic client understands of an endpoint (FQDN, credentials present, KmID of
 * this MAF, Km length, timeouts, bounds, psk_length, SUID; origin for certificate mode).
 * Returns SAEF_OK or SAEF_E_INVALID_ARG / SAEF_E_CFG_CONFLICT with a detail naming the MAF. */
saef_rc_t saef_maf_endpoint_check(const saef_maf_endpoint_t *e, const char *origin, char *detail,
                                  size_t detail_len);

/* Deep copy: every string and Km owned by dst (free with saef_maf_endpoint_free(), which wipes
 * Km).  Returns SAEF_OK or SAEF_E_NOMEM (dst then holds nothing). */
saef_rc_t saef_maf_endpoint_copy(const saef_maf_endpoint_t *src, saef_maf_endpoint_t *dst);
void saef_maf_endpoint_free(saef_maf_endpoint_t *e);

/* ---- maf_b64.c ---------------------------------------------------------------------------- */

/*
 * Decode standard base64 with padding (RFC 4648 section 4), strictly: length a multiple of 4,
 * only A-Z a-z 0-9 + /, '=' only as the last one or two characters, unused bits of the last
 * group zero (canonical, RFC 4648 3.5), no whitespace.  The alphabet lookup does not branch on
 * the data, because the input is key material.
 *   out, out_cap  receives the bytes; out_len their number.
 * Returns SAEF_OK; SAEF_E_MAF_KEY_LENGTH for malformed input (detail names the offset and the
 * defect, never the characters); SAEF_E_BUFFER_TOO_SMALL when the result would exceed out_cap;
 * SAEF_E_INVALID_ARG.  On error out is wiped.  Thread-safe.
 */
saef_rc_t saef_maf_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                              size_t *out_len, char *detail, size_t detail_len);

/* Encode len bytes as padded base64 into buf (NUL-terminated); needs 4 * ceil(len / 3) + 1
 * bytes.  Returns SAEF_OK, SAEF_E_BUFFER_TOO_SMALL or SAEF_E_INVALID_ARG. */
saef_rc_t saef_maf_b64_encode(const uint8_t *in, size_t len, char *buf, size_t buflen);

/* ---- maf_breaker.c ------------------------------------------------------------------------ */

/* One MAF's breaker.  Plain data; the caller serialises access.  Times are milliseconds of a
 * monotonic clock. */
typedef struct saef_maf_breaker {
    saef_maf_breaker_state_t state;
    uint32_t threshold;   /* consecutive unavailable failures that open it; 0 = never opens */
    uint32_t cooldown_ms; /* open -> half-open */
    uint32_t failures;    /* consecutive unavailable failures so far */
    uint64_t opened_ms;   /* when it last opened */
    bool probe_out;       /* half-open: the one probe is in flight */
    uint64_t trips;       /* transitions to open */
} saef_maf_breaker_t;

/* What a finished request tells the breaker. */
typedef enum saef_maf_outcome {
    SAEF_MAF_OUTCOME_ANSWERED = 0,    /* the MAF answered (key, refusal, bad answer, auth) */
    SAEF_MAF_OUTCOME_UNAVAILABLE = 1, /* connect failure, timeout, 5xxx */
    SAEF_MAF_OUTCOME_ABORTED = 2,     /* never decided (client shutting down) */
} saef_maf_outcome_t;

void saef_maf_breaker_init(saef_maf_breaker_t *b, uint32_t threshold, uint32_t cooldown_ms);

/*
 * May a new request go out at now_ms?  Open -> half-open once the cool-down has passed; in
 * half-open exactly one request (the probe: *probe = true) is admitted until it is recorded.
 * Returns SAEF_OK or SAEF_E_MAF_CIRCUIT_OPEN.
 */
saef_rc_t saef_maf_breaker_admit(saef_maf_breaker_t *b, uint64_t now_ms, bool *probe);

/*
 * Record a finished request.  probe tells whether it was the request admitted as the probe.
 * Closed: UNAVAILABLE counts a failure (threshold reached -> open), ANSWERED resets the count.
 * Half-open probe: ANSWERED -> closed, UNAVAILABLE -> open again (new cool-down), ABORTED ->
 * half-open with the probe slot free.  Results of requests admitted before the breaker opened
 * do not change an open breaker.
 */
void saef_maf_breaker_record(saef_maf_breaker_t *b, uint64_t now_ms, saef_maf_outcome_t outcome,
                             bool probe);

/* Classify a completed request's result for the breaker. */
saef_maf_outcome_t saef_maf_outcome_of(saef_rc_t rc, int rsc, long http_status);

/* ---- maf_answer.c ------------------------------------------------------------------------- */

/* One response header as the binding saw it: its value (the last occurrence) and how often it
 * occurred (0 = absent). */
typedef struct saef_maf_hdr {
    const char *value; /* borrowed; NUL-terminated; NULL when count is 0 */
    unsigned count;
} saef_maf_hdr_t;

/* A received HTTP response, reduced to what the binding checks.  All borrowed. */
typedef struct saef_maf_response {
    long status; /* HTTP status code */
    saef_maf_hdr_t rsc, ri, rvi, content_type, content_encoding, content_location;
    const char *body; /* may hold key material: the caller wipes it afterwards */
    size_t body_len;
} saef_maf_response_t;

/* What the answer must match. */
typedef struct saef_maf_expect {
    const char *ri;         /* borrowed: our X-M2M-RI */
    struct timespec now;    /* UTC "now" for expirationTime */
    unsigned accepted_suid; /* 32 */
    size_t psk_len;         /* 32 or 16 */
} saef_maf_expect_t;

/*
 * Validate a Key Retrieval answer (docs/maf-binding.md 6.8 "What Entity B validates", checks
 * 2-11) and fill *out.  The first failing check decides:
 *   1. HTTP_STATUS: 3xx; X-M2M-RSC absent, repeated or not a 4-digit number; HTTP status not
 *      the one TS-0009 assigns to the RSC; X-M2M-RI absent, repeated or not ours; X-M2M-RVI
 *      not "3".
 *   2. error RSCs: 4004/4103 REFUSED, 4106 AUTH, other RSC (MAF_RSC); the body's m2m:dbg, if
 *      any, is quoted (sanitised) in the detail.  A success RSC other than 2000: HTTP_STATUS.
 *   3. JSON: Content-Encoding other than identity; Content-Type not application/json
 *      [;charset=utf-8]; body larger than 16384 bytes; not strict JSON (duplicates, trailing
 *      data, invalid UTF-8, \u0000); not an object; a known member null or of the wrong type.
 *   4. SUID (missing, unknown, not accepted), EXPIRED (missing, malformed, not after now),
 *      KEY_LENGTH (missing, not canonical base64, not 32 bytes), SOURCE_ID (missing, not an
 *      Absolute CSE-ID/AE-ID or a KmID), ADMIN_FQDN (missing or not an FQDN), JSON (labels:
 *      more than 16, or one not 1..128 visible ASCII).
 * Unknown members are ignored.  *rsc_out (optional) receives the RSC (0 when unparseable).
 * out is cleared on every error; the copy of keyValue inside the parsed tree is wiped before
 * the tree is freed.  Returns SAEF_OK or the code above; SAEF_E_NOMEM, SAEF_E_INVALID_ARG.
 * Thread-safe.
 */
saef_rc_t saef_maf_answer_key(const saef_maf_response_t *resp, const saef_maf_expect_t *exp,
                              saef_maf_key_t *out, int *rsc_out, char *detail, size_t detail_len);

/* A validated Client Registration answer (6.2, 6.3). */
typedef struct saef_maf_reg_answer {
    char reg_id[SAEF_ID_REL_MAX + 1];
    struct timespec expires;
    char maf_client_id[SAEF_ID_MAX];
    char admin_fqdn[SAEF_FQDN_MAX];
} saef_maf_reg_answer_t;

/*
 * Validate a Client Registration (expected_rsc 2001, HTTP 201) or Update (2004, HTTP 200)
 * answer: the status/RSC/RI/RVI and content checks of saef_maf_answer_key(), then
 * mafClientRegID (MAF-issued ID: [A-Za-z0-9._-]{1,64}, not "." or ".."; JSON),
 * expirationTime (EXPIRED when malformed or not after now), mafClientID (a CSE-ID, AE-ID or
 * KmID; SOURCE_ID), adminFQDN (ADMIN_FQDN).  Error RSCs map as for key retrieval.
 */
saef_rc_t saef_maf_answer_registration(const saef_maf_response_t *resp,
                                       const saef_maf_expect_t *exp, int expected_rsc,
                                       saef_maf_reg_answer_t *out, int *rsc_out, char *detail,
                                       size_t detail_len);

/* The HTTP status TS-0009 Table 6.3.2-1 assigns to rsc, 0 when the table has none. */
long saef_maf_rsc_http_status(int rsc);

/* ---- maf_register.c ----------------------------------------------------------------------- */

/* What the scheduler wants sent next. */
typedef enum saef_maf_reg_action {
    SAEF_MAF_REG_ACT_NONE = 0,
    SAEF_MAF_REG_ACT_CREATE = 1, /* POST {B}/clientRegistrations */
    SAEF_MAF_REG_ACT_UPDATE = 2, /* PUT {B}/clientRegistrations/{reg_id} */
} saef_maf_reg_action_t;

/* The registration schedule of one MAF.  Plain data; the caller serialises access.  Times are
 * UTC seconds (registrations expire by the wall clock). */
typedef struct saef_maf_reg {
    saef_maf_reg_state_t view;  /* what saef_maf_client_registration() reports */
    time_t granted_at;          /* when the current expiry was granted */
    time_t next_s;              /* when to act next */
    uint32_t backoff_s;         /* current retry back-off */
    uint32_t lifetime_s;        /* proposed lifetime */
    bool in_flight;             /* a POST/PUT is out */
    saef_maf_reg_action_t sent; /* what is out */
} saef_maf_reg_t;

/* enabled false: status OFF, never acts.  Otherwise the first POST is due at now. */
void saef_maf_reg_init(saef_maf_reg_t *r, bool enabled, uint32_t lifetime_s, time_t now);

/* Is an exchange due at now?  Returns the action (and marks it in flight) or NONE.  *proposed
 * receives the expirationTime to propose (now + lifetime). */
saef_maf_reg_action_t saef_maf_reg_due(saef_maf_reg_t *r, time_t now, time_t *proposed);

/* Seconds until the next action (0 when due or in flight is false and due now; INT32_MAX when
 * never). */
int64_t saef_maf_reg_wait_s(const saef_maf_reg_t *r, time_t now);

/*
 * Record the outcome of the exchange in flight.  Success: keep the answer, renew when a third
 * of the granted lifetime is left (at 2/3), at the latest 5 minutes before expiry but never
 * earlier than half-way; back-off reset.  An update answered with 4004 (REFUSED, rsc 4004):
 * register anew at once.  Other failures: retry after the back-off (1 s doubling to 5 min) with
 * an update while the registration is still valid, else with a new registration.
 * origin (may be NULL) is compared with the answer's mafClientID for client_id_mismatch.
 */
void saef_maf_reg_done(saef_maf_reg_t *r, time_t now, saef_rc_t rc, int rsc,
                       const saef_maf_reg_answer_t *ans, const char *origin, const char *detail);

/* ---- the binding interface (maf_client.c <-> maf_http.c) ---------------------------------- */

typedef enum saef_maf_op_kind {
    SAEF_MAF_OP_RETRIEVE = 0,
    SAEF_MAF_OP_REGISTER = 1,   /* POST registration */
    SAEF_MAF_OP_REREGISTER = 2, /* PUT registration update */
} saef_maf_op_kind_t;

typedef struct saef_maf_waiter saef_maf_waiter_t;

/* One exchange with a MAF.  Created by the client, handed to the binding with start(), handed
 * back through the environment's complete(). */
typedef struct saef_maf_op {
    /* inputs (client) */
    saef_maf_op_kind_t kind;
    size_t ep;                     /* endpoint index */
    char rel[SAEF_ID_REL_MAX + 1]; /* RETRIEVE: RelativeKeyID */
    size_t rel_len;
    char reg_id[SAEF_ID_REL_MAX + 1]; /* REREGISTER: mafClientRegID */
    time_t proposed_expiry;           /* REGISTER/REREGISTER */
    uint64_t submitted_ms;            /* monotonic */
    uint64_t deadline_ms;             /* monotonic: give up at */
    bool probe;                       /* admitted as the breaker's probe */
    /* outputs (binding) */
    saef_rc_t rc;
    int rsc;
    long http_status;
    long connects; /* connections this exchange opened */
    char detail[SAEF_MAF_DETAIL_MAX];
    saef_maf_key_t key;        /* RETRIEVE, rc == SAEF_OK; secret */
    saef_maf_reg_answer_t reg; /* REGISTER/REREGISTER, rc == SAEF_OK */
    /* bookkeeping */
    struct saef_maf_op *binding_next; /* owned by the binding while it holds the op */
    struct saef_maf_op *hash_next;    /* client: single-flight table */
    struct saef_maf_op *queue_next;   /* client: submission queue */
    saef_maf_waiter_t *waiters;       /* client: submissions waiting for this op */
} saef_maf_op_t;

/* What the client hands its binding. */
typedef struct saef_maf_binding_env {
    const saef_maf_endpoint_t *eps; /* borrowed (owned by the client, valid until destroy) */
    size_t n_eps;
    const char *origin; /* borrowed, may be NULL (PSK-only) */
    /* Hand a finished op back; called on the worker thread from start(), run() or
     * cancel_all(); the op belongs to the client again afterwards. */
    void (*complete)(void *ctx, saef_maf_op_t *op);
    void *ctx;
} saef_maf_binding_env_t;

/*
 * A wire binding.  Every function except wakeup() runs on the client's worker thread (create
 * and destroy on the thread that creates/frees the client, before the worker starts or after it
 * stopped).  A new binding (CoAP, TS-0032) is one more table like this.
 */
typedef struct saef_maf_binding_ops {
    const char *name;
    /* Validate what only the binding understands (URIs, credentials) and set up.  No I/O
     * towards the MAF.  Returns SAEF_OK or a code with a detail naming the endpoint. */
    saef_rc_t (*create)(const saef_maf_binding_env_t *env, void **out, char *detail,
                        size_t detail_len);
    /* Free everything; every op was completed by cancel_all() before. */
    void (*destroy)(void *b);
    /* Take an op; it completes later (or at once) through env->complete. */
    void (*start)(void *b, saef_maf_op_t *op);
    /* Drive I/O for at most timeout_ms, or until wakeup(). */
    void (*run)(void *b, int timeout_ms);
    /* Make a running or the next run() return soon.  Any thread. */
    void (*wakeup)(void *b);
    /* Complete every op the binding holds with rc and why. */
    void (*cancel_all)(void *b, saef_rc_t rc, const char *why);
} saef_maf_binding_ops_t;

/* ---- maf_http_cfg.c ---------------------------------------------------------------------- */

#define SAEF_MAF_SUFFIX_RETRIEVAL "/keyRetrieval"
#define SAEF_MAF_SUFFIX_REGISTRATION "/clientRegistrations"

/*
 * A configured URI (section 4): https, host equal to e->fqdn (FQDN equality), no userinfo,
 * query, fragment or '%', only visible ASCII, path = basePath (zero or more /segment of
 * [A-Za-z0-9._~-], not . or ..) followed by suffix.  what names the option in the detail.
 *   host_out  receives the host as libcurl parsed it (owned by the caller: free()).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_CFG_CONFLICT (another host) or SAEF_E_NOMEM.
 */
saef_rc_t saef_maf_http_check_uri(const saef_maf_endpoint_t *e, const char *what, const char *uri,
                                  const char *suffix, char **host_out, char *detail,
                                  size_t detail_len);

/* "HOST:PORT": HOST a name, IPv4 literal or bracketed IPv6 literal; PORT 1..65535. */
bool saef_maf_http_connect_to_ok(const char *s);

/* Certificate mode: client_key is a secret file (saef_secret_check), ca_file loads as trust
 * anchors, client_cert as a PEM chain, client_key as its PEM key.  PSK mode: nothing to load.
 * Returns SAEF_OK, SAEF_E_CFG_SECRET_FILE, SAEF_E_IO, SAEF_E_CFG_CONFLICT, SAEF_E_NOMEM. */
saef_rc_t saef_maf_http_check_credentials(const saef_maf_endpoint_t *e, char *detail,
                                          size_t detail_len);

/* The HTTP/JSON binding of docs/maf-binding.md (maf_http.c). */
extern const saef_maf_binding_ops_t saef_maf_http_binding;

/* saef_maf_client_new() with another binding (tests use a fake one). */
saef_rc_t saef_maf_client_new_with(const saef_maf_binding_ops_t *ops,
                                   const saef_maf_endpoint_t *eps, size_t n,
                                   const saef_maf_client_params_t *params, saef_maf_client_t **out,
                                   char *detail, size_t detail_len);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t saef_maf_now_ms(void);

#endif /* SAEF_MAF_INTERNAL_H */
