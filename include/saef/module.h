/*
 * maf-saef: the host <-> module ABI.
 *
 * A oneM2M CSE ("the host") loads maf_saef.so with dlopen() and resolves exactly one symbol,
 * saef_module_entry().  Everything else crosses the boundary through the versioned structs and
 * function tables declared here.  The module never calls a host symbol: the host hands it a
 * saef_host_api_t with callbacks and a context pointer.
 *
 * Versioning rules
 *   - Every struct that crosses the boundary starts with saef_abi_hdr_t {abi_major, abi_minor,
 *     struct_size}.  Structs only grow at the end; a reader touches a field only when the
 *     writer's struct_size covers it (SAEF_HAS_FIELD()).
 *   - A different major is incompatible: saef_module_entry() returns NULL.
 *   - A different minor is fine in both directions: the module fills what both know and
 *     reports its own minor; the host checks struct_size before it uses later slots.
 *   - Result codes only ever get new values; a value never changes meaning.
 *
 * Threading
 *   Unless a function says otherwise: create/start/stop/destroy are called by one thread at a
 *   time for a given instance; the handshake hooks, psk_lookup, binding queries and
 *   admin_request are thread-safe once start() returned, until stop() is called: the host
 *   stops its handshakes and its management requests before stop().  Two instances in one
 *   process are independent: the module keeps no mutable global state.
 *
 * What stays the host's
 *   The module never touches the app_data of the host's SSL_CTX and SSL objects, nor libcoap's
 *   context/session app_data or event handler: it keeps its state in ex_data slots of its own.
 *
 * Ownership
 *   Pointers the host passes in are borrowed for the duration of the call unless stated
 *   otherwise.  Memory the module returns is either written into caller buffers or released
 *   with the matching *_free function of the table.
 */
#ifndef SAEF_MODULE_H
#define SAEF_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header. */
#define SAEF_ABI_MAJOR 1
#define SAEF_ABI_MINOR 0

/* The OpenSSL major version and libcoap version the module was built against.  Host and module
 * share the process's libssl and libcoap, so saef_module_entry() refuses (returns NULL) when
 * the libraries loaded at run time have another OpenSSL major or libcoap major.minor. */
#define SAEF_BUILT_OPENSSL_MAJOR 3
#define SAEF_BUILT_LIBCOAP_VERSION "4.3"

/* Name of the one exported symbol, for dlsym(). */
#define SAEF_MODULE_ENTRY_SYMBOL "saef_module_entry"

/* Header of every struct that crosses the boundary. */
typedef struct saef_abi_hdr {
    uint16_t abi_major;  /* SAEF_ABI_MAJOR of the writer */
    uint16_t abi_minor;  /* SAEF_ABI_MINOR of the writer */
    uint32_t struct_size; /* sizeof the struct as the writer knows it */
} saef_abi_hdr_t;

/* Initialise the header of a struct the caller is about to hand over. */
#define SAEF_ABI_HDR_INIT(type) {SAEF_ABI_MAJOR, SAEF_ABI_MINOR, (uint32_t)sizeof(type)}

/* True when the struct at p (whose first member is a saef_abi_hdr_t named hdr) is large enough
 * to contain member. */
#define SAEF_HAS_FIELD(p, type, member)                                                       \
    ((p)->hdr.struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * Result codes.  0 is success; every error is negative.  Values are stable ABI.  An allow/deny
 * decision is never a result code: any error means deny.  saef_module_t.strerror() names each.
 */
typedef enum saef_rc {
    SAEF_OK = 0,

    /* general: -1 .. -99 */
    SAEF_E_INVALID_ARG = -1,       /* a NULL or out-of-range argument */
    SAEF_E_NOMEM = -2,             /* allocation failed */
    SAEF_E_BUFFER_TOO_SMALL = -3,  /* caller buffer cannot hold the result */
    SAEF_E_NOT_SUPPORTED = -4,     /* slot exists but is not implemented in this version */
    SAEF_E_ABI = -5,               /* struct too small or from another ABI major */
    SAEF_E_STATE = -6,             /* call not allowed in the instance's current state */
    SAEF_E_INTERNAL = -7,          /* a library call failed unexpectedly */
    SAEF_E_NOT_FOUND = -8,         /* no such object (binding, key, resource) */
    SAEF_E_IO = -9,                /* reading a file or socket failed */
    SAEF_E_TIMEOUT = -10,          /* an operation ran out of time */
    SAEF_E_BUSY = -11,             /* a bound (queue, in-flight) is full */

    /* identifiers: -100 .. -199 */
    SAEF_E_ID_EMPTY = -100,            /* the whole identifier is empty */
    SAEF_E_ID_TOO_LONG = -101,         /* identifier longer than its maximum */
    SAEF_E_ID_NUL = -102,              /* embedded NUL byte */
    SAEF_E_ID_NON_ASCII = -103,        /* byte >= 0x80 or a control character */
    SAEF_E_ID_NO_AT = -104,            /* no '@' separating relative part and FQDN */
    SAEF_E_ID_REL_EMPTY = -105,        /* relative part (RelativeKeyID, ...) is empty */
    SAEF_E_ID_REL_TOO_LONG = -106,     /* relative part longer than 64 characters */
    SAEF_E_ID_REL_CHAR = -107,         /* relative part has a character outside [A-Za-z0-9._-] */
    SAEF_E_ID_FQDN_EMPTY = -108,       /* FQDN part is empty (or only a dot) */
    SAEF_E_ID_FQDN_TOO_LONG = -109,    /* FQDN longer than 253 characters */
    SAEF_E_ID_FQDN_LABEL_EMPTY = -110, /* empty label (leading dot or "..") */
    SAEF_E_ID_FQDN_LABEL_TOO_LONG = -111, /* label longer than 63 characters */
    SAEF_E_ID_FQDN_CHAR = -112,        /* character outside letters, digits and '-' */
    SAEF_E_ID_FQDN_HYPHEN = -113,      /* label starts or ends with '-' */
    SAEF_E_ID_FQDN_AT = -114,          /* a second '@' (only possible in an FQDN) */
    SAEF_E_ID_FQDN_IP_LITERAL = -115,  /* IPv4 or bracketed IPv6 literal instead of a name */
    SAEF_E_ID_FQDN_NUMERIC_TLD = -116, /* all-numeric top-level label */
    SAEF_E_ID_CREDID_TYPE = -117,      /* Credential-ID typeID missing, not a number, unknown */
    SAEF_E_ID_CREDID_VALUE = -118,     /* Credential-ID value empty or bad character */
    SAEF_E_ID_CSE_ID = -119,           /* not a valid CSE-ID */
    SAEF_E_ID_AE_ID = -120,            /* not a valid AE-ID */
    SAEF_E_ID_HEX = -121,              /* relative part must be hexBinary and is not */
    SAEF_E_ID_SP_ID = -122,            /* SP-ID (the //domain part) malformed */

    /* timestamps: -200 .. -219 */
    SAEF_E_TS_FORMAT = -200,       /* not YYYYMMDDThhmmss[,f{1,6}] */
    SAEF_E_TS_RANGE = -201,        /* a field out of range (month 13, Feb 30, hour 24, ...) */

    /* configuration: -300 .. -399 */
    SAEF_E_CFG_UNKNOWN = -300,     /* option or section not in the table */
    SAEF_E_CFG_MALFORMED = -301,   /* value does not parse as the option's type */
    SAEF_E_CFG_RANGE = -302,       /* value outside the option's range or choices */
    SAEF_E_CFG_MISSING = -303,     /* required option or section absent */
    SAEF_E_CFG_DUPLICATE = -304,   /* option given twice, or two MAFs with one FQDN */
    SAEF_E_CFG_CONFLICT = -305,    /* options that exclude each other, or a missing partner */
    SAEF_E_CFG_SECRET_FILE = -306, /* secret file missing, unreadable, too short or too open */

    /* MAF client and answers: -400 .. -499 (filled by the MAF issue) */
    SAEF_E_MAF_UNKNOWN = -400,     /* MAF-FQDN not on the configured allow-list */
    SAEF_E_MAF_UNREACHABLE = -401, /* connect/TLS failure, MAF down */
    SAEF_E_MAF_TIMEOUT = -402,     /* MAF did not answer in time */
    SAEF_E_MAF_CIRCUIT_OPEN = -403, /* breaker open after repeated failures */
    SAEF_E_MAF_HTTP_STATUS = -404, /* unexpected HTTP status */
    SAEF_E_MAF_RSC = -405,         /* MAF answered with a oneM2M error status */
    SAEF_E_MAF_JSON = -406,        /* body not JSON, duplicate key, wrong type */
    SAEF_E_MAF_SUID = -407,        /* SUID missing, unknown or not the accepted one */
    SAEF_E_MAF_EXPIRED = -408,     /* expirationTime unparseable or not in the future */
    SAEF_E_MAF_KEY_LENGTH = -409,  /* key value does not decode to the configured length */
    SAEF_E_MAF_SOURCE_ID = -410,   /* Source MAF Client ID is not a CSE-ID, AE-ID or KmID */
    SAEF_E_MAF_ADMIN_FQDN = -411,  /* adminFQDN missing or malformed */
    SAEF_E_MAF_REFUSED = -412,     /* MAF refused: unknown RelativeKeyID or not authorised */
    SAEF_E_MAF_AUTH = -413,        /* MAF rejected our credentials, or its certificate */

    /* handshake decisions and binding: -500 .. -599 (filled by the Entity B issue) */
    SAEF_E_KEY_EXPIRED = -500,     /* Kc lifetime over (TS-0003 8.2.2.3 step 15) */
    SAEF_E_NEGATIVE_CACHED = -501, /* a recent refusal for this Key Identifier is cached */
    SAEF_E_KEY_REVOKED = -502,     /* the Key Identifier was revoked by an operator */

    /* database: -600 .. -699 (filled by the PostgreSQL issue) */
    SAEF_E_DB = -600,              /* database error */
    SAEF_E_DB_SCHEMA_NEWER = -601, /* database schema newer than this module */
} saef_rc_t;

/* Log levels, most severe first (syslog order). */
typedef enum saef_log_level {
    SAEF_LOG_ERROR = 3,
    SAEF_LOG_WARNING = 4,
    SAEF_LOG_NOTICE = 5,
    SAEF_LOG_INFO = 6,
    SAEF_LOG_DEBUG = 7,
} saef_log_level_t;

/*
 * What the host offers the module.  Filled by the host, borrowed by the module for the whole
 * life of the instance created with it (the host keeps it alive until destroy() returned).
 * Minimum struct_size: up to and including `log`.  Later members are optional: the module
 * treats a member beyond struct_size, or a NULL one, as absent.
 */
typedef struct saef_host_api {
    saef_abi_hdr_t hdr;
    /* Passed back as the first argument of every callback.  Borrowed. */
    void *host_ctx;
    /* Log one line (no trailing newline, NUL-terminated, valid only during the call).  Called
     * from any module thread, so it must be thread-safe.  Never receives key material. */
    void (*log)(void *host_ctx, saef_log_level_t level, const char *line);
    /* The host's own CSE-ID (IdB), SP-relative "/cse-id" or absolute "//sp/cse-id".  Optional:
     * when absent the configuration option cse_id must be given; when both are given they must
     * agree. */
    const char *cse_id;
    /* Optional: ask the host to close a live connection whose Kc lifetime ended (used when the
     * configuration sets expiry_action = close).  conn is the SSL * or coap_session_t * the
     * binding belongs to; is_coap tells which.  Called from a module thread. */
    void (*close_connection)(void *host_ctx, void *conn, int is_coap);
} saef_host_api_t;

/* One configuration option as the host read it from its config file.  All strings are
 * borrowed for the duration of create() and must be NUL-terminated.  section is NULL or ""
 * for the module's global options, or "maf.<label>" for one trusted MAF. */
typedef struct saef_config_pair {
    const char *section;
    const char *key;
    const char *value;
} saef_config_pair_t;

/* Kind of identity a security association is bound to (TS-0003 8.2.1 a/b and Credential-ID). */
typedef enum saef_peer_kind {
    SAEF_PEER_NONE = 0,
    SAEF_PEER_CSE_ID = 1,
    SAEF_PEER_AE_ID = 2,
    SAEF_PEER_CREDENTIAL_ID = 3, /* unresolved Credential-ID "11-<KmID>" */
} saef_peer_kind_t;

#define SAEF_ID_MAX 256   /* buffer size for any identifier incl. NUL (identities <= 255 bytes) */
#define SAEF_FQDN_MAX 254 /* buffer size for an FQDN incl. NUL (<= 253 characters) */

/* The binding of one connection, written into a caller buffer.  The caller sets hdr (so a
 * newer module never writes past an older host's struct). */
typedef struct saef_binding {
    saef_abi_hdr_t hdr;
    saef_peer_kind_t kind;
    char peer_id[SAEF_ID_MAX];     /* CSE-ID, AE-ID or Credential-ID */
    char key_id[SAEF_ID_MAX];      /* Key Identifier RelativeKeyID@MAF-FQDN */
    int64_t kc_expiry;             /* Kc expirationTime, seconds since the Epoch (UTC) */
    uint16_t suid;                 /* SUID the MAF returned (32) */
    char admin_fqdn[SAEF_FQDN_MAX]; /* adminFQDN the MAF returned */
} saef_binding_t;

/* oneM2M operations (TS-0004 m2m:operation). */
typedef enum saef_operation {
    SAEF_OP_CREATE = 1,
    SAEF_OP_RETRIEVE = 2,
    SAEF_OP_UPDATE = 3,
    SAEF_OP_DELETE = 4,
    SAEF_OP_NOTIFY = 5,
} saef_operation_t;

/* A request to the module's management resources.  All members borrowed for the call. */
typedef struct saef_admin_request {
    saef_abi_hdr_t hdr;
    saef_operation_t operation;
    const char *path;       /* resource path below the mount point, e.g. "associations" */
    const char *query;      /* query string without '?', or NULL */
    const char *originator; /* the request's From, already authenticated by the host */
    const char *body;       /* request content (JSON), or NULL */
    size_t body_len;
} saef_admin_request_t;

/* The answer to an admin request.  Caller sets hdr; the module fills the rest.  body is owned
 * by the module's allocator: release it with saef_module_t.admin_response_free(). */
typedef struct saef_admin_response {
    saef_abi_hdr_t hdr;
    int rsc;            /* oneM2M Response Status Code, e.g. 2000, 4004 */
    char *body;         /* JSON, NUL-terminated, or NULL.  Owned: see above. */
    const char *content_type; /* static string, e.g. "application/json" */
} saef_admin_response_t;

typedef struct saef_instance saef_instance_t; /* opaque */

/* Forward declarations: the host includes OpenSSL's and libcoap's headers itself. */
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct coap_context_t;
struct coap_session_t;
struct coap_bin_const_t;

/*
 * The PSK callbacks a host had installed before attaching the module.  OpenSSL and libcoap have
 * no getters for installed callbacks, so the host hands them over; the module calls them for
 * every identity that is not a Key Identifier of a configured MAF (the host's own PSK table keeps
 * working).  Any member may be NULL: such identities then fail like a wrong key.  The signatures
 * are OpenSSL's SSL_psk_server_cb_func and SSL_psk_find_session_cb_func, and libcoap's
 * coap_dtls_id_callback_t.  Borrowed: function pointers and coap_arg must stay valid while the
 * SSL_CTX / coap_context_t is attached.
 */
typedef struct saef_psk_chain {
    saef_abi_hdr_t hdr;
    unsigned int (*psk_server)(struct ssl_st *ssl, const char *identity, unsigned char *psk,
                               unsigned int max_psk_len);
    int (*find_session)(struct ssl_st *ssl, const unsigned char *identity, size_t identity_len,
                        struct ssl_session_st **sess);
    const struct coap_bin_const_t *(*coap_validate_id)(struct coap_bin_const_t *identity,
                                                       struct coap_session_t *session,
                                                       void *coap_arg);
    void *coap_arg;
} saef_psk_chain_t;

/*
 * The module's function table.  Returned by saef_module_entry(); static, valid until dlclose().
 */
typedef struct saef_module {
    saef_abi_hdr_t hdr;       /* the module's own ABI version and sizeof(saef_module_t) */
    const char *name;         /* "maf_saef" */
    const char *version;      /* package version, e.g. "0.1.0" */
    int openssl_major;        /* SAEF_BUILT_OPENSSL_MAJOR the module was built with */
    const char *libcoap_version; /* libcoap version the module was built with, e.g. "4.3.1" */

    /* Static text for rc ("unknown result code" for values it does not know).  Thread-safe. */
    const char *(*strerror)(saef_rc_t rc);

    /*
     * Create an instance: validate host (header, required members) and parse the configuration.
     * No I/O: files, databases and MAFs are touched only by start().
     *   host   borrowed until destroy(); must outlive the instance.
     *   pairs  borrowed for the call; npairs may be 0 only when pairs is NULL.
     *   out    receives the new instance (owned by the caller, release with destroy()).
     *   err    optional caller buffer for a one-line reason naming the bad option and value
     *          (secret option values are never copied into it); errlen its size.
     * Returns SAEF_OK, SAEF_E_ABI, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or a SAEF_E_CFG_* code.
     */
    saef_rc_t (*create)(const saef_host_api_t *host, const saef_config_pair_t *pairs,
                        size_t npairs, saef_instance_t **out, char *err, size_t errlen);

    /* Start the instance: read secret files, open the database, reach the MAFs, start threads.
     * Returns SAEF_OK, SAEF_E_STATE (already started) or the failing subsystem's code; the
     * reason is also logged through the host's log callback. */
    saef_rc_t (*start)(saef_instance_t *inst);

    /* Stop threads and connections; the instance can be started again.  NULL-safe, idempotent.
     * The host first stops handshakes on attached contexts and frees their SSL objects and
     * coap sessions; after a restart it attaches its contexts again. */
    void (*stop)(saef_instance_t *inst);

    /* Stop if needed, wipe secrets, free everything.  NULL-safe. */
    void (*destroy)(saef_instance_t *inst);

    /*
     * Install the module's PSK callbacks on a host SSL_CTX (TLS 1.2, TLS 1.3, DTLS 1.2): the
     * TLS 1.2/DTLS PSK server callback, the TLS 1.3 find-session callback, the TS-0003 10.2.2
     * cipher suites plus ECDHE-PSK (never DHE-PSK), and the session-resumption bounds (with
     * resumption = bounded it turns tickets and the server session cache on).  When the
     * host sets SSL_MODE_ASYNC, a handshake whose key is being fetched pauses
     * (SSL_ERROR_WANT_ASYNC; wait on SSL_get_all_async_fds) instead of blocking.
     *   ctx   borrowed; must outlive the instance's use of it (detach by destroying the instance
     *         after the last SSL of ctx is freed).
     *   prev  the host's previous callbacks (see saef_psk_chain_t), or NULL.
     * Returns SAEF_OK, SAEF_E_STATE (instance not started), SAEF_E_INVALID_ARG, SAEF_E_INTERNAL.
     * Not thread-safe against handshakes on ctx: call before serving.
     */
    saef_rc_t (*attach_openssl)(saef_instance_t *inst, struct ssl_ctx_st *ctx,
                                const saef_psk_chain_t *prev);

    /* Install the module's DTLS-PSK identity validation on a libcoap context (borrowed): a key
     * fetch inside libcoap's callback is bounded by coap_fetch_timeout_ms, since libcoap cannot
     * pause a handshake.  prev as for attach_openssl (coap_validate_id and coap_arg). */
    saef_rc_t (*attach_coap)(saef_instance_t *inst, struct coap_context_t *ctx,
                             const saef_psk_chain_t *prev);

    /*
     * Transport-neutral lookup for other TLS stacks: give the psk_identity the peer sent,
     * receive the PSK.  identity is borrowed bytes (not NUL-terminated); psk is a caller buffer
     * of psk_cap bytes; *psk_len receives the length.  Returns SAEF_OK only when the handshake
     * may proceed with that key; any error means "fail like a wrong key".  Blocking.
     */
    saef_rc_t (*psk_lookup)(saef_instance_t *inst, const uint8_t *identity, size_t identity_len,
                            uint8_t *psk, size_t psk_cap, size_t *psk_len);

    /* The binding of a completed handshake (or of a resumed module session).  out is a caller
     * buffer whose hdr the caller set; only members its struct_size covers are written.
     * Returns SAEF_OK; SAEF_E_KEY_EXPIRED with out filled when Kc's lifetime is over (the host
     * should close the connection); SAEF_E_BUSY when the module cannot record the association
     * (db_queue_size records are waiting for the database: the host must close the connection,
     * as for an expired key); SAEF_E_NOT_FOUND (not a module-handled connection, or the
     * handshake is not finished); SAEF_E_ABI; SAEF_E_STATE (instance not started).  The first
     * successful call for a connection records its association (db_conninfo): call it once
     * the handshake completed. */
    saef_rc_t (*binding_ssl)(saef_instance_t *inst, const struct ssl_st *ssl,
                             saef_binding_t *out);
    saef_rc_t (*binding_coap)(saef_instance_t *inst, const struct coap_session_t *session,
                              saef_binding_t *out);

    /* Serve one request to the management resources (docs/operations.md lists them).  resp
     * is a caller struct whose hdr the caller set; on SAEF_OK resp->rsc and resp->body are
     * filled (release the body with admin_response_free).  Errors in the request itself are
     * SAEF_OK with a 4xxx rsc; SAEF_E_STATE before start, SAEF_E_ABI for structs too small.
     * May block for one query on the module's database: never call it from a handshake. */
    saef_rc_t (*admin_request)(saef_instance_t *inst, const saef_admin_request_t *req,
                               saef_admin_response_t *resp);

    /* Release what admin_request put into resp (the body); NULL-safe. */
    void (*admin_response_free)(saef_admin_response_t *resp);

    /*
     * Give up a handshake that is paused waiting for its key (SSL_ERROR_WANT_ASYNC), e.g. on the
     * host's handshake timeout or shutdown.  After this call the host calls SSL_do_handshake()
     * once more (it fails at once, which ends the paused job and frees its stack) and then
     * SSL_free().  Freeing a paused SSL without this leaks OpenSSL's job.  NULL-safe for ssl;
     * thread-safe.
     */
    void (*handshake_abort)(saef_instance_t *inst, struct ssl_st *ssl);
} saef_module_t;

/*
 * The entry point, the only symbol the module exports.
 *   host_abi_major  SAEF_ABI_MAJOR the host was compiled with; a different major returns NULL.
 *   host_abi_minor  the host's SAEF_ABI_MINOR; any value is accepted.
 * Also returns NULL when the process's libssl major or libcoap version differs from the ones
 * the module was built against.  Thread-safe; returns the same static table every time.
 */
typedef const saef_module_t *(*saef_module_entry_fn)(uint16_t host_abi_major,
                                                     uint16_t host_abi_minor);
const saef_module_t *saef_module_entry(uint16_t host_abi_major, uint16_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* SAEF_MODULE_H */
