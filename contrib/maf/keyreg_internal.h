/*
 * saef-keyreg internals: Entity A's MAF client (docs/maf-binding.md, docs/entity-a.md).
 *
 * keyreg_maf.c speaks the binding: one session is one libcurl easy handle, so the requests of
 * one run share one kept-alive, mutually authenticated TLS connection, and a key derived from
 * the TLS exporter is computed on the connection that carried its registration request.
 * keyreg_cli.c reads the command line and formats what the tool prints; saef-keyreg.c runs the
 * commands.  Single-threaded; nothing here logs.
 */
#ifndef SAEF_KEYREG_INTERNAL_H
#define SAEF_KEYREG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "saef_id.h"
#include "saef_rc.h"

#define KR_EXPORTER_LABEL "EXPORTER-oneM2M-Connection"
#define KR_EXPORTER_LEN 48 /* KcID (16) followed by Kc (32), binding 6.5.1 */
#define KR_KCID_LEN 16
#define KR_KC_LEN 32
#define KR_ERR_MAX 768 /* size of every error-text buffer */
#define KR_DBG_MAX 256 /* m2m:dbg is at most 256 characters (binding 5.2) */

typedef enum kr_tls {
    KR_TLS_ANY = 0, /* TLS 1.2 or 1.3, whichever both sides prefer */
    KR_TLS_12,
    KR_TLS_13,
} kr_tls_t;

/* How to reach and authenticate to the MAF.  Every pointer is borrowed for the life of the
 * session that uses it. */
typedef struct kr_conf {
    const char *maf_uri;    /* base URI {B}: https://MAF-FQDN[:port][/path], no trailing '/' */
    const char *maf_fqdn;   /* the URI's host; the MAF certificate is checked against it */
    const char *connect_to; /* "HOST:PORT" to connect to instead of the URI's; NULL: the URI */
    /* Certificate mode (kmid == NULL): */
    const char *ca_file;    /* the MAF's trust anchors; the system store is never used */
    const char *cert_file;  /* our certificate (PEM) */
    const uint8_t *key_pem; /* our private key (PEM text), secret */
    size_t key_pem_len;
    /* PSK mode: */
    const char *kmid;  /* psk_identity */
    const uint8_t *km; /* the PSK, secret */
    size_t km_len;
    const char *origin; /* X-M2M-Origin */
    kr_tls_t tls;
    long timeout_s; /* connect and whole-request timeout */
    FILE *trace;    /* non-NULL: one line per exchange (never a body or a key) */
} kr_conf_t;

typedef struct kr_session kr_session_t;

/* The parts of a MAF response the tool uses.  Fill with kr_response_clear() before use. */
typedef struct kr_response {
    long http_status;
    int rsc;                  /* X-M2M-RSC */
    json_t *body;             /* owned; the response's JSON object, NULL without a body */
    char dbg[KR_DBG_MAX + 1]; /* m2m:dbg, control characters replaced; "" when absent */
    char tls_version[16];     /* "TLSv1.3", from the connection that carried the request */
    char cipher[64];
    bool exported;                /* ekm holds the connection's exporter output */
    const char *exporter_error;   /* static text: why exported is false after want_exporter */
    uint8_t ekm[KR_EXPORTER_LEN]; /* owned secret: wiped by kr_response_clear() */
} kr_response_t;

/*
 * Open a session (no network traffic yet).  err receives the reason on failure.
 * Returns SAEF_OK, SAEF_E_NOMEM or SAEF_E_INTERNAL.  *out is owned by the caller:
 * kr_session_free().
 */
saef_rc_t kr_session_new(const kr_conf_t *conf, kr_session_t **out, char *err, size_t errlen);

/* Close the connection and free the session; NULL is a no-op. */
void kr_session_free(kr_session_t *s);

/*
 * One request/response exchange.
 *   method         "POST", "PUT" or "DELETE"
 *   path           appended to the base URI, e.g. "/keyRegistrations"
 *   body           JSON object to send, or NULL (borrowed; may hold a key value: the serialised
 *                  copy is wiped after the exchange)
 *   want_exporter  compute the TLS exporter (binding 6.5.1) on the connection that carried
 *                  this request, into resp->ekm
 *   resp           filled on SAEF_OK, and with whatever arrived on SAEF_E_MAF_* (owned by the
 *                  caller: kr_response_clear())
 * Returns SAEF_OK when a well-formed response arrived, whatever its RSC: the caller judges the
 * RSC.  Otherwise: SAEF_E_MAF_AUTH (TLS handshake or the first read failed with an alert: our
 * credentials, or the MAF's certificate, were refused), SAEF_E_MAF_UNREACHABLE,
 * SAEF_E_MAF_TIMEOUT, SAEF_E_MAF_HTTP_STATUS (protocol error: missing or inconsistent
 * X-M2M-RSC, wrong X-M2M-RI or RVI, 3xx, wrong media type, oversized body),
 * SAEF_E_MAF_JSON (body not one strict JSON object) or SAEF_E_INTERNAL.  err says why.
 */
saef_rc_t kr_request(kr_session_t *s, const char *method, const char *path, const json_t *body,
                     bool want_exporter, kr_response_t *resp, char *err, size_t errlen);

/* Wipe and release what a response holds and reset it to empty; call once before first use
 * too (it does not read the old content when init is true). */
void kr_response_clear(kr_response_t *resp, bool init);

/* oneM2M name of an RSC (TS-0004 6.6.3), e.g. "ORIGINATOR_HAS_NO_PRIVILEGE"; "" when unknown. */
const char *kr_rsc_name(int rsc);

/* --- keyreg_cli.c: text helpers and output --- */

/* Lower/upper-case hex of len bytes into out (2 * len + 1 bytes). */
void kr_hex(const uint8_t *in, size_t len, bool upper, char *out);

/* Decode exactly outlen bytes from hex text of exactly 2 * outlen characters.  Returns false on
 * any other length or a non-hex character; out is wiped then. */
bool kr_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);

/* True when s is a RelativeKeyID or MAF-issued ID: [A-Za-z0-9._-]{1,64}, not "." or "..". */
bool kr_rel_id_ok(const char *s);

/* Where stock clients reach Entity B: host (as given, IPv6 in brackets) and port text. */
typedef struct kr_endpoint {
    char host[256];
    char port[8];
} kr_endpoint_t;

/* Parse "HOST:PORT" (HOST may be "[v6]").  Returns false when malformed. */
bool kr_endpoint_parse(const char *s, kr_endpoint_t *out);

/* What a registered key looks like to the printer. */
typedef struct kr_key_info {
    const char *key_id; /* Key Identifier RelativeKeyID@MAF-FQDN */
    const char *rel_id;
    const char *maf_fqdn;
    const uint8_t *kc;    /* KR_KC_LEN bytes, secret */
    const char *kcid_hex; /* exporter only, else NULL */
    const char *expires;  /* granted m2m:timestamp */
    long expires_in;      /* seconds from now */
    const char *target;
    const char *source;  /* sourceMAFClientID */
    const char *key_src; /* "exporter", "generated" or "given" */
    const char *tls;     /* TLS version of the MAF connection */
} kr_key_info_t;

/* Print the registered key: human-readable with ready-to-paste client command lines for
 * Entity B at tls_ep / dtls_ep (NULL: "127.0.0.1:PORT" placeholders), or env lines. */
void kr_print_key(FILE *f, const kr_key_info_t *k, const kr_endpoint_t *tls_ep,
                  const kr_endpoint_t *dtls_ep, bool env);

/* Print NAME=VALUE, quoting VALUE for sh only when it needs it. */
void kr_print_env(FILE *f, const char *name, const char *value);

/* --- keyreg_cli.c: the command line --- */

/* Exit codes (documented in --help and docs/entity-a.md). */
#define KR_EXIT_MAF 1   /* the MAF refused, answered with an error, or could not be reached */
#define KR_EXIT_USAGE 2 /* bad command line, or unusable local files */

#define KR_LABELS_MAX 16
#define KR_KM_MAX 64
#define KR_OPT_SLOTS 32

typedef enum kr_cmd {
    CMD_REGISTER = 1,
    CMD_KEY = 2,
    CMD_UPDATE = 4,
    CMD_DELETE = 8,
} kr_cmd_t;

typedef enum kr_key_src {
    KS_NONE = 0,
    KS_GENERATE,
    KS_EXPORTER,
    KS_HEX,
} kr_key_src_t;

/* The command line, parsed and checked.  Strings are borrowed from argv. */
typedef struct kr_opts {
    unsigned cmd;
    const char *id_arg; /* update/delete: RelativeKeyID or Key Identifier (borrowed: argv) */
    const char *maf, *connect_to, *ca, *cert, *key, *kmid, *km_file, *origin; /* argv */
    kr_tls_t tls;
    long timeout_s;
    bool env, verbose;
    const char *admin_fqdn, *target; /* argv */
    long lifetime;
    const char *labels[KR_LABELS_MAX]; /* argv */
    size_t nlabels;
    bool clear_labels;
    kr_key_src_t key_src;
    uint8_t given_kc[KR_KC_LEN]; /* --key-hex, decoded; secret */
    bool do_register;
    kr_endpoint_t entity_b, entity_b_dtls;
    bool have_entity_b, have_entity_b_dtls;
    bool lifetime_set;       /* --lifetime given */
    bool seen[KR_OPT_SLOTS]; /* keyreg_cli.c: which options were given */
} kr_opts_t;

/* One run: options, the MAF configuration derived from them, secrets read from files. */
typedef struct kr_run {
    kr_opts_t *o;
    kr_conf_t conf;
    char base_uri[1024];
    char maf_fqdn[SAEF_ID_FQDN_LEN_MAX + 1];
    uint8_t *key_pem; /* owned: saef_secret_free() */
    size_t key_pem_len;
    uint8_t km[KR_KM_MAX]; /* secret */
    size_t km_len;
    kr_session_t *sess; /* owned */
} kr_run_t;

/*
 * Parse and check the command line into r (zeroed by the caller, r->o set), read the key or
 * Km file and fill r->conf.  Prints --help/--version and exits 0 for them.  Returns 0, or
 * KR_EXIT_USAGE after printing the reason.  Secrets end up in r: kr_run_wipe().
 */
int kr_cli_setup(int argc, char **argv, kr_run_t *r);

/* Wipe and release the secrets kr_cli_setup() read. */
void kr_run_wipe(kr_run_t *r);

/* Print "saef-keyreg: <message> (see saef-keyreg --help)" to stderr; returns KR_EXIT_USAGE. */
int kr_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SAEF_KEYREG_INTERNAL_H */
