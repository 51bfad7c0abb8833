/*
 * The MAF client of Entity B (TS-0003 8.2.2.3 steps 9-11, 8.8.2.8 Key Retrieval, 8.8.2.3 Client
 * Registration), speaking the binding of docs/maf-binding.md.
 *
 * One saef_maf_client_t serves every configured MAF of one module instance.  It owns one worker
 * thread that does all network I/O: one kept-alive TLS connection per MAF, on which concurrent
 * retrievals queue (a cold key costs one request, not a TLS handshake), the client registration
 * and its renewals.  Callers submit retrievals from any thread and get the result either
 * blocking, through a callback run on the worker thread, or from a completion queue signalled on
 * a pollable file descriptor (for a host event loop or an OpenSSL ASYNC job).
 *
 * Nothing here logs or reads global state: every function returns a saef_rc_t and, where a
 * human needs more, writes one detail line into a caller buffer (never key material; values
 * that came from the MAF are shown with control characters replaced).
 *
 * Process-wide initialisation: the first saef_maf_client_new() of the process initialises
 * libcurl (curl_global_init) exactly once under pthread_once, and never cleans it up, because
 * other users of libcurl in the host process may rely on it.  No other process-global setter is
 * called (no allocator hooks, no OpenSSL configuration, no signal handlers).
 *
 * Key material: every buffer of ours that held a key (response body, decoded key, the string
 * inside the parsed JSON tree) is overwritten before it is released.  Residue we cannot reach:
 * libcurl's receive buffer, OpenSSL's record buffers and jansson's lexer buffer hold the
 * response text until they are reused or freed; wiping them would need process-global allocator
 * hooks, which a module must not install.
 */
#ifndef SAEF_MAF_H
#define SAEF_MAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_id.h"
#include "saef_rc.h"

/* Size of the key a MAF of this binding distributes (keyValue decodes to exactly this). */
#define SAEF_MAF_KEY_MAX 32
/* Bytes of a detail line, including the NUL. */
#define SAEF_MAF_DETAIL_MAX 256
/* labels of a key: at most 16 labels of 1..128 visible ASCII characters, space-separated. */
#define SAEF_MAF_LABELS_MAX 16
#define SAEF_MAF_LABELS_BUF (SAEF_MAF_LABELS_MAX * 129)
/* Default proposed lifetime of a client registration (docs/maf-binding.md section 8). */
#define SAEF_MAF_REG_LIFETIME_DEFAULT_S 86400u

typedef enum saef_maf_auth {
    SAEF_MAF_AUTH_CERT = 1, /* our certificate and key; MAF verified against ca_file */
    SAEF_MAF_AUTH_PSK = 2,  /* TLS-PSK: psk_identity = KmID, psk = Km */
} saef_maf_auth_t;

/*
 * One trusted MAF.  Every pointer is borrowed for the duration of saef_maf_client_new() only:
 * the client keeps its own copies (Km in a buffer it wipes), so the caller may wipe and free
 * its Km as soon as saef_maf_client_new() returned.
 */
typedef struct saef_maf_endpoint {
    const char *fqdn;                    /* borrowed: MAF-FQDN (certificate name, allow-list) */
    const char *key_retrieval_uri;       /* borrowed: https://FQDN[:port]/base/keyRetrieval */
    const char *client_registration_uri; /* borrowed, optional: .../clientRegistrations */
    bool register_client;                /* register Entity B with this MAF at start */
    const char *admin_fqdn;              /* borrowed: adminFQDN; required to register */
    uint32_t registration_lifetime_s;    /* proposed lifetime; 0 = 24 h */
    saef_maf_auth_t auth;
    const char *ca_file;     /* borrowed, cert mode: PEM trust anchors for the MAF, only these */
    const char *client_cert; /* borrowed, cert mode: PEM certificate (chain) we present */
    const char *client_key;  /* borrowed, cert mode: path of our PEM private key (secret file) */
    const char *kmid;        /* borrowed, PSK mode: KmID, also our X-M2M-Origin */
    const uint8_t *km;       /* borrowed, PSK mode: Km bytes as read from the Km file */
    size_t km_len;           /* 16..64 */
    /* borrowed, optional: "HOST:PORT" to connect to instead of the URI's host and port; TLS still
     * sends SNI and verifies the certificate against fqdn.  For loopback tests and addresses
     * pinned outside DNS.  HOST may be a bracketed IPv6 literal. */
    const char *connect_to;
    uint32_t connect_timeout_ms;  /* TCP + TLS connect, bounded by request_timeout_ms */
    uint32_t request_timeout_ms;  /* whole retrieval from submission (queueing included) */
    uint32_t max_inflight;        /* distinct retrievals in flight to this MAF */
    uint32_t breaker_threshold;   /* consecutive "unavailable" failures that open it; 0 = off */
    uint32_t breaker_cooldown_ms; /* open time before one probe is let through */
    uint32_t psk_length;          /* 32 (whole key) or 16 (first half, TS-0003 8.8.1) */
    unsigned accepted_suid;       /* 32 */
} saef_maf_endpoint_t;

/* Client-wide parameters.  Pointers borrowed for the duration of saef_maf_client_new(). */
typedef struct saef_maf_client_params {
    /* borrowed: our Absolute CSE-ID (or AE-ID), the X-M2M-Origin of certificate-mode MAFs; may
     * be NULL when every MAF is in PSK mode (whose origin is the KmID). */
    const char *origin;
    uint32_t max_inflight; /* distinct retrievals in flight over all MAFs; 0 = sum of the MAFs' */
    /* Submissions attached to an already running retrieval of the same RelativeKeyID (single
     * flight), over all MAFs.  They cost no request, only a small record each.  0 = 8 times
     * max_inflight. */
    uint32_t max_waiters;
} saef_maf_client_params_t;

/* What the Source MAF Client ID of a key is (docs/maf-binding.md 6.8 check 10). */
typedef enum saef_maf_source_kind {
    SAEF_MAF_SOURCE_NONE = 0,
    SAEF_MAF_SOURCE_CSE_ID = 1, /* Absolute CSE-ID: bind directly */
    SAEF_MAF_SOURCE_AE_ID = 2,  /* Absolute AE-ID: bind directly */
    SAEF_MAF_SOURCE_KMID = 3,   /* KmID: bind through the Credential-ID "11-<KmID>" */
} saef_maf_source_kind_t;

/* The kind of a Source MAF Client ID as the answer validation sees it ("//..." an Absolute
 * CSE-ID or AE-ID, otherwise a KmID), e.g. for one read back from the key vault.  Returns
 * SAEF_OK or SAEF_E_MAF_SOURCE_ID (neither). */
saef_rc_t saef_maf_source_classify(const char *s, size_t len, saef_maf_source_kind_t *kind);

/*
 * A validated Key Retrieval answer.  Self-contained (no pointers): copy it by value, and call
 * saef_maf_key_clear() on every copy when done, because key[] is secret.
 */
typedef struct saef_maf_key {
    uint8_t key[SAEF_MAF_KEY_MAX]; /* owned, secret: the PSK, key_len bytes */
    size_t key_len;                /* the endpoint's psk_length: 32, or 16 (first half) */
    struct timespec expires;       /* Kc lifetime (expirationTime), UTC; strictly in the future
                                    * when validated */
    unsigned suid;                 /* the accepted SUID (32) */
    saef_maf_source_kind_t source_kind;
    char source_id[SAEF_ID_MAX];      /* sourceMAFClientID as received */
    char admin_fqdn[SAEF_FQDN_MAX];   /* adminFQDN, trailing dot removed, case as received */
    char labels[SAEF_MAF_LABELS_BUF]; /* labels separated by one space; "" when none */
    size_t n_labels;
} saef_maf_key_t;

/* Overwrite a key record (all of it).  NULL-safe.  Thread-safe for distinct records. */
void saef_maf_key_clear(saef_maf_key_t *key);

/* The outcome of one retrieval, as handed to its submitter. */
typedef struct saef_maf_result {
    uint64_t ticket; /* the ticket saef_maf_retrieve_submit() returned */
    void *user;      /* borrowed: the submitter's pointer, passed through untouched */
    size_t endpoint; /* MAF index */
    char relative_key_id[SAEF_ID_REL_MAX + 1];
    saef_rc_t rc;     /* SAEF_OK or why there is no key (see saef_maf_retrieve_submit()) */
    int rsc;          /* X-M2M-RSC of the answer, 0 when there was none */
    long http_status; /* HTTP status of the answer, 0 when there was none */
    bool unavailable; /* counted as "MAF unavailable" by the circuit breaker */
    char detail[SAEF_MAF_DETAIL_MAX];
    saef_maf_key_t key; /* owned, secret: valid when rc == SAEF_OK */
} saef_maf_result_t;

/* saef_maf_key_clear() of res->key and clear the rest.  NULL-safe. */
void saef_maf_result_clear(saef_maf_result_t *res);

/*
 * Completion callback of an asynchronous retrieval.  Called exactly once per successful
 * submission (unless cancelled first), on the client's worker thread, never under a client lock.
 * res is borrowed for the call and wiped afterwards: copy what you keep.  The callback must be
 * short and must not block (it delays every other MAF exchange); it may call
 * saef_maf_retrieve_submit() and saef_maf_cancel(), but not the blocking saef_maf_retrieve()
 * nor saef_maf_client_free().
 */
typedef void (*saef_maf_done_fn)(void *user, const saef_maf_result_t *res);

typedef struct saef_maf_client saef_maf_client_t;

/*
 * Create a client for n MAFs and start its worker thread; client registrations that the
 * endpoints ask for start at once, in the background.
 *   eps, n   the MAFs (1..64; FQDNs unique).  Validated here: FQDN, URIs (https, host equal to
 *            the FQDN, no userinfo/query/fragment/'%', path ending in /keyRetrieval resp.
 *            /clientRegistrations), credentials (readable trust anchors, certificate and key
 *            that match; key file a secret file; KmID whose FQDN is the MAF's; Km 16..64 bytes),
 *            connect_to syntax, timeouts (100..600000 ms, connect <= request), psk_length,
 *            accepted_suid (a known m2m:suid), max_inflight 1..65536, breaker_cooldown_ms
 *            100..600000 when the breaker is on, registration_lifetime_s at most 366 days.
 *   params   client-wide parameters (see above).
 *   out      receives the client (owned by the caller: saef_maf_client_free()).
 *   detail   optional: names the endpoint (by FQDN) and the field at fault.
 * Returns SAEF_OK; SAEF_E_INVALID_ARG (NULL, n out of range, a field out of range or
 * malformed); SAEF_E_CFG_DUPLICATE (two MAFs with one FQDN); SAEF_E_CFG_CONFLICT (URI host is
 * not the FQDN, KmID of another MAF, origin missing for a certificate-mode MAF, certificate and
 * key do not match); SAEF_E_CFG_SECRET_FILE (client key file unfit); SAEF_E_IO (a PEM file
 * unreadable); SAEF_E_NOT_SUPPORTED (libcurl without the OpenSSL backend); SAEF_E_NOMEM;
 * SAEF_E_INTERNAL (libcurl, eventfd or the thread could not be set up).
 * Thread-safe (clients are independent).
 */
saef_rc_t saef_maf_client_new(const saef_maf_endpoint_t *eps, size_t n,
                              const saef_maf_client_params_t *params, saef_maf_client_t **out,
                              char *detail, size_t detail_len);

/*
 * Stop the worker thread and free the client.  Retrievals still pending complete with
 * SAEF_E_STATE before it returns (callbacks run, blocked saef_maf_retrieve() calls return);
 * results nobody collected are wiped.  Km and every key are wiped.  NULL-safe.  Must not be
 * called from a completion callback, and no other call on c may run concurrently or follow.
 */
void saef_maf_client_free(saef_maf_client_t *c);

/* Number of MAFs of the client. */
size_t saef_maf_client_count(const saef_maf_client_t *c);

/*
 * Select the MAF whose MAF-FQDN is fqdn (case-insensitive, trailing dot ignored): the
 * allow-list step of the handshake (architecture step 2).
 * Returns SAEF_OK and *index, SAEF_E_MAF_UNKNOWN, or SAEF_E_INVALID_ARG.  Thread-safe.
 */
saef_rc_t saef_maf_client_find(const saef_maf_client_t *c, const char *fqdn, size_t len,
                               size_t *index);

/*
 * Submit a Key Retrieval of RelativeKeyID rel from MAF endpoint.  Fails fast (never blocks):
 *   done     callback (see saef_maf_done_fn), or NULL: the result then goes to the completion
 *            queue (saef_maf_collect()) and saef_maf_client_fd() becomes readable.
 *   user     passed back in the result.
 *   ticket   optional: receives the submission's ticket (non-zero), for saef_maf_cancel().
 * A submission for a RelativeKeyID (byte-equal) whose retrieval is already in flight on that
 * MAF is attached to it (single flight) and gets its own copy of the same result.
 * Returns SAEF_OK (the result will come); else nothing is queued and no callback will run:
 *   SAEF_E_INVALID_ARG (NULL, endpoint out of range), SAEF_E_ID_* (rel is not a RelativeKeyID,
 *   or rel@FQDN exceeds 255 bytes), SAEF_E_MAF_CIRCUIT_OPEN (breaker open, or half-open with
 *   its probe in flight), SAEF_E_BUSY (max_inflight of the MAF or of the client, or
 *   max_waiters, reached), SAEF_E_STATE (client shutting down), SAEF_E_NOMEM.
 * Result codes of the completed retrieval (res->rc):
 *   SAEF_OK; SAEF_E_MAF_UNREACHABLE (connect or TLS transport failure), SAEF_E_MAF_TIMEOUT
 *   (request_timeout_ms passed), SAEF_E_MAF_AUTH (TLS alert, rejected certificate, 4106),
 *   SAEF_E_MAF_REFUSED (4004, 4103), SAEF_E_MAF_RSC (any other error RSC), SAEF_E_MAF_HTTP_STATUS
 *   (protocol: status/RSC, RI, RVI), SAEF_E_MAF_JSON, SAEF_E_MAF_SUID, SAEF_E_MAF_EXPIRED,
 *   SAEF_E_MAF_KEY_LENGTH, SAEF_E_MAF_SOURCE_ID, SAEF_E_MAF_ADMIN_FQDN, SAEF_E_STATE (client
 *   freed first), SAEF_E_NOMEM, SAEF_E_INTERNAL.
 * Thread-safe.
 */
saef_rc_t saef_maf_retrieve_submit(saef_maf_client_t *c, size_t endpoint, const char *rel,
                                   size_t rel_len, saef_maf_done_fn done, void *user,
                                   uint64_t *ticket, char *detail, size_t detail_len);

/*
 * Blocking Key Retrieval: submit, wait (at most about request_timeout_ms) and return the
 * result's code; *out receives the key on SAEF_OK (the caller wipes it: saef_maf_key_clear())
 * and is cleared otherwise.  Result codes as saef_maf_retrieve_submit() and those of the
 * completed retrieval; SAEF_E_STATE when called on the worker thread (from a callback).
 * Thread-safe.
 */
saef_rc_t saef_maf_retrieve(saef_maf_client_t *c, size_t endpoint, const char *rel, size_t rel_len,
                            saef_maf_key_t *out, char *detail, size_t detail_len);

/*
 * Withdraw a submission: its callback will not run, its result will not be queued (or is
 * removed from the completion queue and wiped).  The retrieval itself continues for the other
 * submissions attached to it.  When the callback is running on the worker thread at that
 * moment, waits until it returned (unless called from the worker thread itself).
 * Returns SAEF_OK (withdrawn) or SAEF_E_NOT_FOUND (already delivered or collected, or an
 * unknown ticket).  Thread-safe.
 */
saef_rc_t saef_maf_cancel(saef_maf_client_t *c, uint64_t ticket);

/*
 * A descriptor (an eventfd) that is readable while the completion queue holds results.  Owned
 * by the client; poll it, never read or close it.  Thread-safe.
 */
int saef_maf_client_fd(const saef_maf_client_t *c);

/*
 * Take up to max completed results (submitted with done == NULL) in completion order.  out[]
 * becomes the caller's: saef_maf_result_clear() each.  Returns how many were written; the
 * descriptor stops being readable when the queue is empty.  Thread-safe.
 */
size_t saef_maf_collect(saef_maf_client_t *c, saef_maf_result_t *out, size_t max);

typedef enum saef_maf_breaker_state {
    SAEF_MAF_BREAKER_CLOSED = 0,    /* requests flow */
    SAEF_MAF_BREAKER_OPEN = 1,      /* failing fast until the cool-down ends */
    SAEF_MAF_BREAKER_HALF_OPEN = 2, /* one probe request decides */
} saef_maf_breaker_state_t;

/* Counters of one MAF since the client was created. */
typedef struct saef_maf_stats {
    uint64_t submitted;        /* accepted submissions */
    uint64_t coalesced;        /* ... of which attached to a running retrieval */
    uint64_t rejected_busy;    /* SAEF_E_BUSY at submission */
    uint64_t rejected_breaker; /* SAEF_E_MAF_CIRCUIT_OPEN at submission */
    uint64_t requests;         /* retrieval requests completed (any outcome) */
    uint64_t keys;             /* ... with a validated key */
    uint64_t refused;          /* ... SAEF_E_MAF_REFUSED */
    uint64_t auth_failures;    /* ... SAEF_E_MAF_AUTH */
    uint64_t unavailable;      /* ... counted by the breaker (connect, timeout, 5xxx) */
    uint64_t invalid;          /* ... protocol or validation failures */
    uint64_t connects;         /* new TCP/TLS connections opened (all exchanges) */
    uint64_t breaker_trips;    /* closed/half-open -> open transitions */
    uint64_t last_latency_us;  /* submission to completion of the last request */
    uint32_t inflight;         /* retrievals in flight now */
    saef_maf_breaker_state_t breaker;
} saef_maf_stats_t;

/* Copy the counters of MAF endpoint.  Returns SAEF_OK or SAEF_E_INVALID_ARG.  Thread-safe. */
saef_rc_t saef_maf_client_stats(saef_maf_client_t *c, size_t endpoint, saef_maf_stats_t *out);

typedef enum saef_maf_reg_status {
    SAEF_MAF_REG_OFF = 0,      /* not configured to register */
    SAEF_MAF_REG_PENDING = 1,  /* first registration not answered yet */
    SAEF_MAF_REG_ACTIVE = 2,   /* registered; expires is in the future */
    SAEF_MAF_REG_RETRYING = 3, /* no valid registration; retrying with back-off */
} saef_maf_reg_status_t;

/* The client registration with one MAF, for a health view. */
typedef struct saef_maf_reg_state {
    saef_maf_reg_status_t status;
    char reg_id[SAEF_ID_REL_MAX + 1]; /* mafClientRegID, "" when none */
    struct timespec expires;          /* granted expirationTime (UTC) */
    char maf_client_id[SAEF_ID_MAX];  /* mafClientID the MAF reported, "" when none */
    bool client_id_mismatch;          /* mafClientID is not params.origin: 4103 will follow */
    struct timespec last_attempt;     /* UTC, 0 when none */
    struct timespec next_attempt;     /* UTC of the next POST/PUT */
    uint32_t failures;                /* consecutive failed attempts */
    saef_rc_t last_rc;                /* outcome of the last attempt */
    char last_detail[SAEF_MAF_DETAIL_MAX];
} saef_maf_reg_state_t;

/* Copy the registration state of MAF endpoint.  Returns SAEF_OK or SAEF_E_INVALID_ARG.
 * Thread-safe. */
saef_rc_t saef_maf_client_registration(saef_maf_client_t *c, size_t endpoint,
                                       saef_maf_reg_state_t *out);

/* Static name of a breaker state / registration status; never NULL. */
const char *saef_maf_breaker_state_name(saef_maf_breaker_state_t s);
const char *saef_maf_reg_status_name(saef_maf_reg_status_t s);

#endif /* SAEF_MAF_H */
