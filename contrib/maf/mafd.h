/*
 * saef-mafd, the reference MAF of docs/maf-binding.md: declarations shared by its files.
 * Single-threaded: everything runs on one libevent loop, so nothing here locks.
 */
#ifndef MAFD_H
#define MAFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "mafd_store.h"
#include "saef_rc.h"

struct bufferevent;
struct event;
struct event_base;
struct evhttp;
struct evhttp_request;

#define MAFD_MAF_FQDN_MAX 190    /* binding section 2: Key Identifiers stay <= 255 bytes */
#define MAFD_BODY_MAX 8192       /* request body limit (5.4) */
#define MAFD_BODY_HARD_MAX 65536 /* above this evhttp answers 413 itself (5.4 allows it) */
#define MAFD_HEADERS_MAX 8192    /* request header section (5.4) */
#define MAFD_IDLE_TIMEOUT 130    /* seconds; clients reuse idle connections for <= 110 s (8) */
#define MAFD_KM_MIN 16           /* Km length range (3.3) */
#define MAFD_KM_MAX 64
#define MAFD_ORIGIN_MAX 255 /* X-M2M-Origin (5.4) */
#define MAFD_DBG_MAX 256    /* m2m:dbg characters (5.2) */
#define MAFD_EXPORTER_LABEL "EXPORTER-oneM2M-Connection"
#define MAFD_EXPORTER_LEN 48

/* Test-only fault modes (--fault): they change key retrieval answers and nothing else. */
typedef enum mafd_fault {
    MAFD_FAULT_NONE = 0,
    MAFD_FAULT_STALL,          /* never answer */
    MAFD_FAULT_GARBAGE,        /* 200/2000 with a body that is not JSON */
    MAFD_FAULT_WRONG_SUID,     /* suid 12 */
    MAFD_FAULT_SHORT_KEY,      /* keyValue of 16 bytes */
    MAFD_FAULT_EXPIRED,        /* expirationTime in the past */
    MAFD_FAULT_DUPLICATE_KEYS, /* a member twice */
    MAFD_FAULT_BAD_SOURCE_ID,  /* sourceMAFClientID neither CSE-ID/AE-ID nor KmID */
    MAFD_FAULT_NO_ADMIN_FQDN,  /* adminFQDN absent */
} mafd_fault_t;

/* mafd_fault.c: the --fault names; false for an unknown name. */
bool mafd_fault_parse(const char *name, mafd_fault_t *out);
const char *mafd_fault_name(mafd_fault_t f);

/* A [client.<name>] section: a PSK client, a certificate record, or both. */
typedef struct mafd_client {
    char *name;    /* owned: the part after "client." */
    char *kmid;    /* owned; NULL when the client has no PSK */
    char *km_file; /* owned */
    uint8_t *km;   /* owned, secret: wiped on free */
    size_t km_len;
    char *id;       /* owned; MAF Client ID on record, NULL: the KmID is the MAF Client ID */
    bool has_fp;    /* cert_sha256 given */
    uint8_t fp[32]; /* SHA-256 of the client certificate's DER encoding */
} mafd_client_t;

/* Where the state lives ([maf] store). */
typedef enum mafd_store_kind {
    MAFD_STORE_MEMORY = 0, /* default: a restart forgets everything */
    MAFD_STORE_POSTGRESQL, /* mafd_store_pg.c: survives restarts */
} mafd_store_kind_t;

#define MAFD_DB_SCHEMA_MAX 63 /* PostgreSQL identifier length (NAMEDATALEN - 1) */

typedef struct mafd_config {
    char *fqdn;               /* owned; lower case, no trailing dot */
    char *listen_host;        /* owned */
    uint16_t listen_port;     /* 0: any free port (printed when listening) */
    char *base_path;          /* owned; "" or "/seg[/seg...]" */
    char *cert, *key, *ca;    /* owned paths; NULL when not configured */
    long max_key_lifetime;    /* seconds */
    long max_client_lifetime; /* seconds */
    long purge_interval;      /* seconds */
    mafd_store_kind_t store;
    char *db_conninfo;      /* owned; libpq conninfo without password ("" = PG* environment) */
    char *db_schema;        /* owned; [a-z_][a-z0-9_]{0,62}; set when store is postgresql */
    mafd_client_t *clients; /* owned array */
    size_t n_clients;
} mafd_config_t;

/* mafd_config.c.  Parse path into cfg (zeroed first); on error *cfg is freed and err holds a
 * line naming the file, line, section and option.  Returns SAEF_OK or SAEF_E_CFG_*. */
saef_rc_t mafd_config_load(const char *path, mafd_config_t *cfg, char *err, size_t errlen);
/* "host:port" or "[v6]:port" into cfg's listen fields; SAEF_E_CFG_MALFORMED. */
saef_rc_t mafd_config_set_listen(mafd_config_t *cfg, const char *value, char *err, size_t errlen);
void mafd_config_free(mafd_config_t *cfg);

/* Procedures, for routing and the per-procedure counters of GET {B}/stats. */
typedef enum mafd_proc_id {
    MAFD_P_HEALTH = 0,
    MAFD_P_CREG,
    MAFD_P_CREG_UPDATE,
    MAFD_P_CREG_DELETE,
    MAFD_P_KREG,
    MAFD_P_KREG_UPDATE,
    MAFD_P_KREG_DELETE,
    MAFD_P_KRETRIEVE,
    MAFD_P_COUNT
} mafd_proc_id_t;

typedef struct mafd_stats {
    uint64_t requests[MAFD_P_COUNT];  /* routed to the procedure (path and method matched) */
    uint64_t succeeded[MAFD_P_COUNT]; /* answered 2xxx */
    uint64_t unrouted;                /* 4004 for the path or 4005 for the method */
} mafd_stats_t;

/* The daemon instance. */
typedef struct mafd {
    mafd_config_t cfg;
    mafd_fault_t fault;
    struct event_base *base; /* owned */
    struct evhttp *http;     /* owned */
    SSL_CTX *ssl_ctx;        /* owned */
    int conn_idx;            /* SSL ex_data index of mafd_conn_t, -1 when unset */
    mafd_store_t *store;     /* owned */
    mafd_stats_t stats;
} mafd_t;

/* Per-TLS-connection state, hung off the SSL as ex_data (freed with the SSL). */
typedef struct mafd_conn {
    mafd_t *d;                           /* borrowed */
    SSL *ssl;                            /* borrowed: owns this struct */
    const mafd_client_t *psk;            /* borrowed: PSK client the handshake looked up */
    bool identified;                     /* the fields below are valid */
    bool is_psk;                         /* authenticated by PSK, else by certificate */
    bool mapped;                         /* client_id is set (false: unmappable certificate) */
    char client_id[MAFD_M2M_ID_MAX + 1]; /* MAF Client ID */
    bool exporter_used;                  /* an exporter-derived key was registered here (6.5.1) */
} mafd_conn_t;

/* mafd_tls.c */
saef_rc_t mafd_tls_init(mafd_t *d, char *err, size_t errlen);
void mafd_tls_free(mafd_t *d);
/* evhttp_set_bevcb() callback: a TLS server bufferevent for a new connection. */
struct bufferevent *mafd_tls_bevcb(struct event_base *base, void *arg);
/* The connection state of req (identity resolved on first use); NULL if it has none. */
mafd_conn_t *mafd_conn_of(mafd_t *d, struct evhttp_request *req);
/* RFC 5705 exporter of the binding (6.5.1).  SAEF_E_STATE: TLS 1.2 without extended master
 * secret; SAEF_E_INTERNAL: the exporter failed.  out is wiped on error. */
saef_rc_t mafd_tls_export(const mafd_conn_t *c, uint8_t out[MAFD_EXPORTER_LEN]);

/* The outcome of a procedure, turned into an HTTP response by mafd_http.c. */
typedef struct mafd_resp {
    int rsc;      /* oneM2M Response Status Code */
    json_t *body; /* owned; success body or NULL (errors: dbg) */
    char *raw;    /* owned; a prepared body (fault modes), wins over body */
    size_t raw_len;
    char dbg[MAFD_DBG_MAX + 1]; /* error text */
    char location[512];         /* Content-Location on 2001, "" otherwise */
    bool stall;                 /* fault mode: never answer */
} mafd_resp_t;

/* A routed request, checked up to step 6 of 5.5 (body parsed when it has one). */
typedef struct mafd_req {
    mafd_t *d;             /* borrowed */
    mafd_conn_t *conn;     /* borrowed */
    const char *client_id; /* borrowed: MAF Client ID; NULL only for health (unmappable) */
    const char *path_id;   /* borrowed: the ID segment of the path, or NULL */
    json_t *body;          /* borrowed: the JSON object of POST/PUT, NULL otherwise */
    time_t now;
} mafd_req_t;

/* mafd_http.c */
void mafd_http_handle(struct evhttp_request *req, void *arg);
/* Set an error outcome; the text is truncated to MAFD_DBG_MAX. */
void mafd_resp_error(mafd_resp_t *r, int rsc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copy s for a log or dbg line: bytes outside 0x20-0x7E become '?', at most max bytes. */
void mafd_sanitize(const char *s, size_t len, char *out, size_t max);

/* mafd_proc.c: one function per procedure; each fills out. */
void mafd_proc_health(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_creg(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_creg_update(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_creg_delete(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_kreg(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_kreg_update(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_kreg_delete(const mafd_req_t *r, mafd_resp_t *out);
void mafd_proc_kretrieve(const mafd_req_t *r, mafd_resp_t *out);
/* GET {B}/stats (reference-daemon extension). */
void mafd_proc_stats(const mafd_req_t *r, mafd_resp_t *out);

/* mafd_fault.c: the key retrieval answer of a fault mode (test-only). k is the registration
 * the requester may retrieve, or NULL (a synthetic one is used). */
void mafd_fault_answer(const mafd_req_t *r, const mafd_kreg_t *k, mafd_resp_t *out);

/* mafd_body.c: request member validation.  Each returns true when the member is acceptable and
 * otherwise sets a 4000 outcome in out.  "present" reports an optional member's presence. */
bool mafd_body_only(json_t *obj, const char *const *allowed, mafd_resp_t *out);
bool mafd_body_maf_fqdn(const mafd_req_t *r, mafd_resp_t *out);
bool mafd_body_expiration(const mafd_req_t *r, bool mandatory, bool *present, time_t *t,
                          mafd_resp_t *out);
bool mafd_body_labels(json_t *obj, bool *present, mafd_labels_t *labels, mafd_resp_t *out);
bool mafd_body_admin_fqdn(json_t *obj, char fqdn[MAFD_FQDN_MAX + 1], mafd_resp_t *out);
bool mafd_body_suid(json_t *obj, unsigned *suid, mafd_resp_t *out);
bool mafd_body_targets(json_t *obj, bool mandatory, bool *present, char target[MAFD_M2M_ID_MAX + 1],
                       mafd_resp_t *out);
bool mafd_body_key_value(json_t *obj, bool *present, uint8_t key[MAFD_KEY_LEN], mafd_resp_t *out);
bool mafd_body_rel_key_id(json_t *obj, const char **id, mafd_resp_t *out);
/* Overwrite every string inside v (request bodies may carry keyValue) before json_decref. */
void mafd_json_wipe(json_t *v);

/* MAF-issued IDs: 32 hex characters, matched case-insensitively.  false: not such an ID. */
bool mafd_id_parse(const char *s, size_t len, uint8_t id[MAFD_ID_LEN]);
void mafd_id_format(const uint8_t id[MAFD_ID_LEN], char out[2 * MAFD_ID_LEN + 1]);
/* [A-Za-z0-9._-]{1,64}, not "." or ".." (a RelativeKeyID / mafClientRegID on the wire). */
bool mafd_id_syntax_ok(const char *s, size_t len);
/* True for an Absolute CSE-ID or Absolute AE-ID. */
bool mafd_is_absolute_id(const char *s, size_t len);
/* Canonical padded base64 of len bytes into out (NUL-terminated); false if out is too small. */
bool mafd_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

#endif
