/*
 * saef-csed, the reference host CSE: shared declarations.
 *
 * The daemon is split by concern:
 *   saef-csed.c    main, configuration, host PSK table, module loading, signals, shutdown
 *   csed_tls.c     TCP listener and the TLS handshake driver (SSL_MODE_ASYNC aware)
 *   csed_http.c    the oneM2M HTTP binding over an established TLS connection (http-parser)
 *   csed_coap.c    the oneM2M CoAP binding over DTLS (libcoap), in its own thread
 *   csed_onem2m.c  what both bindings share: From enforcement, CSEBase, the admin mount
 *
 * Threads: the libevent loop (main thread) runs csed_tls.c and csed_http.c; the CoAP thread
 * runs csed_coap.c.  csed_onem2m.c, csed_log() and the counters are called from both.
 * The module is reached only through include/saef/module.h.
 */
#ifndef CSED_H
#define CSED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "saef/module.h"

struct event_base;
struct csed_tls;
struct csed_coap;

#define CSED_IDENTITY_MAX 128 /* longest PSK identity we accept in the host table */
#define CSED_PSK_MAX 64       /* longest host PSK in bytes */

/* One line of host_psk_file.  Keys are wiped before they are freed. */
typedef struct csed_psk_entry {
    char *identity; /* owned */
    uint8_t *key;   /* owned, secret */
    size_t key_len;
} csed_psk_entry_t;

typedef struct csed_psk_table {
    csed_psk_entry_t *entries; /* owned */
    size_t n;
} csed_psk_table_t;

/* Find identity (len bytes, not NUL-terminated) in the table; NULL when absent. */
const csed_psk_entry_t *csed_psk_find(const csed_psk_table_t *t, const char *identity, size_t len);

/* The [cse] section.  Every string is owned. */
typedef struct csed_config {
    char *cse_id;        /* as configured: "/in-cse" or "//sp.example.test/in-cse" */
    char *sp_id;         /* "sp.example.test", or NULL for an SP-relative cse_id */
    char *csi;           /* SP-relative CSE-ID "/in-cse" (the CSEBase csi attribute) */
    char *cse_stem;      /* "in-cse" */
    char *resource_name; /* CSEBase rn */
    char *resource_id;   /* CSEBase ri (default: cse_stem) */
    int cse_type;        /* cst: 1 IN, 2 MN, 3 ASN */
    char *http_listen;   /* addr:port */
    char *coap_listen;   /* addr:port or NULL */
    char *module;        /* path of maf_saef.so */
    char *host_psk_file; /* or NULL */
    char *poa;           /* comma-separated pointOfAccess override, or NULL */
    char *tls_ciphers;   /* TLS 1.2 cipher list override, or NULL */
    saef_log_level_t log_level;
    unsigned handshake_timeout_s;
    unsigned idle_timeout_s;
    unsigned max_connections;
} csed_config_t;

/* Counters, updated from both threads under one lock (a few increments per request). */
#define CSED_RSC_SLOTS 48
typedef struct csed_counters {
    pthread_mutex_t lock;
    unsigned long tls_ok, tls_failed, tls_timeout, tls_refused;
    unsigned long dtls_ok, dtls_failed;
    struct {
        int rsc;
        unsigned long n;
    } rsc[CSED_RSC_SLOTS];
    size_t n_rsc;
    unsigned long rsc_other; /* requests whose RSC did not fit in rsc[] */
} csed_counters_t;

typedef enum csed_counter {
    CSED_CNT_TLS_OK,
    CSED_CNT_TLS_FAILED,
    CSED_CNT_TLS_TIMEOUT,
    CSED_CNT_TLS_REFUSED,
    CSED_CNT_DTLS_OK,
    CSED_CNT_DTLS_FAILED,
} csed_counter_t;

/* The daemon.  One per process, owned by main(); no globals. */
typedef struct csed {
    csed_config_t cfg;
    csed_psk_table_t psk; /* host's own PSK table (may be empty) */

    void *dl;                 /* dlopen handle */
    const saef_module_t *mod; /* borrowed from the module until dlclose */
    saef_instance_t *inst;    /* owned, module->destroy */
    saef_host_api_t api;      /* must outlive inst */
    int module_tls;           /* attach_openssl succeeded */
    int module_coap;          /* attach_coap succeeded */

    struct event_base *base;    /* main loop */
    struct ssl_ctx_st *ssl_ctx; /* owned */
    struct csed_tls *tls;       /* owned */
    struct csed_coap *coap;     /* owned, NULL without coap_listen */

    char ct[32];        /* CSEBase creationTime: start of the daemon */
    char http_addr[80]; /* bound HTTP address "ADDR:PORT" */
    char coap_addr[80]; /* bound CoAP address, or "" */
    char poa_http[96];  /* pointOfAccess of the HTTP binding */
    char poa_coap[96];  /* pointOfAccess of the CoAP binding, or "" */

    csed_counters_t counters;
    int stopping; /* a signal arrived (loop thread only) */
} csed_t;

/* ---- csed_config.c: the [cse] section and the host PSK table ---- */

/* Read the [cse] section of path (the module's sections are left to ini_pairs_load).  On
 * failure returns -1 with "path:line: ..." or "path: ..." in err; cfg is then empty. */
int csed_config_load(const char *path, csed_config_t *cfg, char *err, size_t errlen);
void csed_config_free(csed_config_t *cfg);

/* Read host_psk_file: "identity hexkey" per line, '#' comments; the file must be a regular
 * file without group/other permissions.  On failure -1 with "path:line: ..." in err. */
int csed_psk_load(const char *path, csed_psk_table_t *t, char *err, size_t errlen);

/* The value of one hex digit [0-9A-Fa-f], or -1 (csed_config.c). */
int csed_hex_value(int c);
/* Wipe the keys and free the table; NULL-safe. */
void csed_psk_free(csed_psk_table_t *t);

/* Log one line to stderr with a UTC timestamp and the level; thread-safe (one write(2)). */
void csed_log(const csed_t *srv, saef_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void csed_count(csed_t *srv, csed_counter_t c);
void csed_count_rsc(csed_t *srv, int rsc);

/* ---- csed_onem2m.c: shared by both bindings ---- */

/* What the host knows about the peer of one connection (TLS) or session (DTLS). */
typedef enum csed_bind_state {
    CSED_BIND_UNKNOWN = 0, /* not asked yet */
    CSED_BIND_NONE,        /* no security association of the module: host PSK table peer */
    CSED_BIND_MODULE,      /* the module bound the connection: see binding */
    CSED_BIND_ERROR,       /* the module served the key but cannot tell the binding */
    CSED_BIND_EXPIRED,     /* the module bound it, but Kc's lifetime is over: close */
    CSED_BIND_REFUSED,     /* the module cannot record the association (SAEF_E_BUSY): close */
} csed_bind_state_t;

typedef struct csed_peer {
    const char *transport;                /* "tls" or "dtls", static */
    char addr[64];                        /* peer address for logs */
    char identity[CSED_IDENTITY_MAX + 1]; /* psk_identity when the host table served it */
    int host_psk;                         /* the host's own PSK table served the key */
    csed_bind_state_t state;
    saef_binding_t binding; /* valid when state == CSED_BIND_MODULE */
    int warned;             /* a per-connection warning was logged already */
} csed_peer_t;

/* Record the answer of module->binding_ssl/binding_coap for peer (once per connection). */
void csed_peer_set_binding(csed_t *srv, csed_peer_t *peer, saef_rc_t rc);

/* One oneM2M request primitive, as far as the host needs it.  All members borrowed. */
typedef struct csed_req {
    saef_operation_t op; /* 0 when the transport method maps to no operation */
    const char *to;      /* To, rebuilt from the path (CSE-, SP-relative or absolute form) */
    const char *query;   /* query without '?', or NULL */
    const char *from;    /* NULL when absent */
    const char *rqi;     /* NULL when absent */
    const char *rvi;     /* NULL when absent (Release 1) */
    const char *body;
    size_t body_len;
    int accept_ok; /* the peer accepts JSON (or sent no Accept) */
} csed_req_t;

typedef struct csed_rsp {
    int rsc;
    const char *rvi; /* release to answer with, or NULL (Release 1 peer) */
    char *body;      /* owned (malloc), NUL-terminated, or NULL */
    size_t body_len;
    const char *content_type; /* static */
} csed_rsp_t;

/* Serve req from peer: authenticate From against the binding, then the resource.  Always
 * fills rsp (release with csed_rsp_clear).  Thread-safe. */
void csed_onem2m_handle(csed_t *srv, csed_peer_t *peer, const csed_req_t *req, csed_rsp_t *rsp);
void csed_rsp_clear(csed_rsp_t *rsp);
/* Fill rsp with rsc and a {"m2m:dbg": text} body (for errors a binding detects itself). */
void csed_rsp_dbg(csed_rsp_t *rsp, int rsc, const char *text);

/* RSC -> HTTP status (TS-0009 Table 6.3.2-1) and CoAP code as class*100+detail (TS-0008 Table
 * 6.2.4-1); 0 from csed_rsc_coap means "no response" (1000). */
int csed_rsc_http(int rsc);
int csed_rsc_coap(int rsc, saef_operation_t op);

/* ---- csed_tls.c ---- */

/* Create the listener on srv->cfg.http_listen with srv->ssl_ctx; fills http_addr. */
int csed_tls_start(csed_t *srv);
/* Stop accepting and close every connection.  Handshakes paused inside the module are given
 * a grace period to resume (see csed_tls.c); the loop exits once none is left. */
void csed_tls_stop(csed_t *srv);
/* After the loop ended: free every connection (and its SSL) and the listener.  The close
 * request queue stays, since module threads may still use it until the module is stopped. */
void csed_tls_release(csed_t *srv);
/* Release, then free the rest.  NULL-safe. */
void csed_tls_free(csed_t *srv);
/* The module's close_connection hook for an SSL *: any thread. */
void csed_tls_request_close(csed_t *srv, void *ssl);

/* The TLS 1.2 (and, by OpenSSL's fallback, TLS 1.3) PSK server callback of the host table. */
unsigned int csed_tls_host_psk_cb(struct ssl_st *ssl, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len);

/* One accepted TCP connection: first the handshake (csed_tls.c), then HTTP (csed_http.c). */
typedef struct csed_conn csed_conn_t;
struct csed_conn {
    csed_t *srv;              /* borrowed */
    csed_conn_t *prev, *next; /* the live connections, for shutdown and close requests */
    int fd;                   /* owned until the bufferevent takes it */
    struct ssl_st *ssl;       /* owned until the bufferevent takes it */
    csed_peer_t peer;
    /* handshake driver (csed_tls.c) */
    struct event *io_ev;     /* owned: waits for the socket */
    struct event *timer;     /* owned: handshake timeout, then retry/grace timer */
    struct event **async_ev; /* owned: one per async fd of a paused handshake */
    size_t n_async;
    int paused;   /* SSL_do_handshake returned SSL_ERROR_WANT_ASYNC */
    int aborting; /* timed out while paused: resume once, then free */
    /* HTTP (csed_http.c) */
    struct bufferevent *bev; /* owned; owns ssl and fd once set */
    struct csed_http *http;  /* owned */
};

/* Unlink and free conn with everything it owns (csed_tls.c). */
void csed_conn_free(csed_conn_t *conn);

/* ---- csed_http.c: one HTTP/1.1 connection over an established TLS connection ---- */

/* Take over conn after its handshake: 0 on success, -1 when the caller must free conn. */
int csed_http_start(csed_conn_t *conn);
/* Release the HTTP state and the bufferevent (which closes the SSL and the socket). */
void csed_http_free(csed_conn_t *conn);

/* ---- csed_coap.c ---- */

/* Set up the CoAP context (host PSK, module attach, endpoint) and start the thread; fills
 * coap_addr.  Requires coap_startup() to have been called. */
int csed_coap_start(csed_t *srv);
/* Stop and join the thread (the module may still call csed_coap_request_close). */
void csed_coap_stop(csed_t *srv);
/* Stop, then free the endpoint and with it every session; the context stays (the module was
 * attached to it) and so does the close request queue.  NULL-safe on srv->coap. */
void csed_coap_release(csed_t *srv);
/* Release, then free the context and everything else.  NULL-safe on srv->coap. */
void csed_coap_free(csed_t *srv);
/* The module's close_connection hook for a coap_session_t *: any thread. */
void csed_coap_request_close(csed_t *srv, void *session);

/* ---- helpers in saef-csed.c ---- */

/* Parse "addr:port" / "[v6]:port" into a sockaddr; 0 on success. */
struct sockaddr_storage;
int csed_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *sslen);
/* "addr:port" (IPv6 in brackets) of sa. */
void csed_format_addr(const void *sa, char *buf, size_t len);

#endif
