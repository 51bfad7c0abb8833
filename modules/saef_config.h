/*
 * The module's configuration: one declarative option table (name, type, default, required,
 * secret, range, description; modules/config_table.c) that validates the key/value pairs the
 * host passes to create() and generates docs/configuration.md.  Parsing does no I/O: secret
 * options hold file paths, which start() reads.  Field comments name the option when it is
 * spelled differently from the field.
 */
#ifndef SAEF_CONFIG_H
#define SAEF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "saef/module.h"

#define SAEF_CFG_MAX_MAFS 32

typedef enum saef_cfg_auth {
    SAEF_CFG_AUTH_CERT = 1, /* client certificate + key, MAF verified against ca_file */
    SAEF_CFG_AUTH_PSK = 2,  /* TLS-PSK with psk_identity = KmID, psk = Km (from km_file) */
} saef_cfg_auth_t;

typedef enum saef_cfg_resumption {
    SAEF_CFG_RESUMPTION_OFF = 0,     /* no tickets, no session cache for SAEF identities */
    SAEF_CFG_RESUMPTION_BOUNDED = 1, /* allowed, session timeout bounded by Kc expiry */
} saef_cfg_resumption_t;

typedef enum saef_cfg_expiry_action {
    SAEF_CFG_EXPIRY_KEEP = 0,  /* live sessions continue; new handshakes fail */
    SAEF_CFG_EXPIRY_CLOSE = 1, /* ask the host to close live sessions at Kc expiry */
} saef_cfg_expiry_action_t;

/* One trusted MAF (a "maf.<label>" section).  Strings owned by the saef_cfg_t; an optional
 * string is NULL when its option was not given.  Exactly one of the two credential sets is
 * present, as auth says. */
typedef struct saef_cfg_maf {
    char *label;                 /* section label after "maf." */
    char *fqdn;                  /* MAF-FQDN, lower case, no trailing dot */
    char *key_retrieval_uri;     /* https URI of Key Retrieval (8.8.2.8); its host is fqdn */
    char *client_registration_uri; /* https URI of Client Registration (8.8.2.3), or NULL */
    bool register_client;        /* option "register": register Entity B at start (8.8.2.3) */
    char *admin_fqdn;            /* adminFQDN for client registration (lower case), or NULL */
    saef_cfg_auth_t auth;        /* derived: cert when client_cert given, psk when kmid given */
    char *ca_file;               /* trust anchors for the MAF's certificate (cert mode) */
    char *client_cert;           /* our certificate chain (cert mode) */
    char *client_key;            /* SECRET path: our private key (cert mode) */
    char *kmid;                  /* KmID (psk mode), as written; its FQDN part is fqdn */
    char *km_file;               /* SECRET path: Km (psk mode) */
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms; /* whole request, connect included: >= connect_timeout_ms */
    uint32_t max_inflight;       /* Key Retrievals in flight to this MAF */
    uint32_t breaker_threshold;  /* consecutive failures that open the breaker */
    uint32_t breaker_cooldown_ms;
    char *connect_to;            /* "HOST:PORT" to connect to instead of the URI's, or NULL */
    uint32_t registration_lifetime_s; /* option "registration_lifetime": proposed, s */
} saef_cfg_maf_t;

/* The parsed configuration of one instance.  Owns every string; the defaults of options not
 * given are filled in. */
typedef struct saef_cfg {
    char *cse_id;                /* our CSE-ID (the option or the host's; the absolute form
                                    when either is absolute).  Never NULL. */
    char *node_id;               /* this host node's ID in shared tables; default: the host
                                    name.  Never NULL. */
    uint16_t suid;               /* accepted SUID: 32 */
    uint32_t psk_length;         /* 32 (full Kc) or 16 (first half, TS-0003 8.8.1) */
    uint32_t cache_size;         /* key cache entries */
    uint32_t negative_ttl_s;     /* option "negative_ttl": lifetime of a cached refusal, s */
    uint32_t max_inflight;       /* retrievals in flight over all MAFs */
    uint32_t coap_fetch_timeout_ms; /* bound of a fetch inside libcoap's callback */
    saef_cfg_resumption_t resumption;
    saef_cfg_expiry_action_t expiry_action;
    char **admin_originators;    /* NULL-terminated list, never NULL itself; may be empty */
    size_t n_admin_originators;
    char *db_conninfo;           /* libpq conninfo, or NULL: no database */
    char *db_schema;             /* schema name, default "saef" */
    uint32_t db_queue_size;      /* bound of the writer queue */
    bool key_vault;              /* store sealed Kc in the database */
    char *kek_file;              /* SECRET path: key-encryption key (key_vault) */
    saef_cfg_maf_t mafs[SAEF_CFG_MAX_MAFS];
    size_t n_mafs;
} saef_cfg_t;

/*
 * Parse and validate the host's pairs.
 *   host_cse_id  the CSE-ID from the host API, or NULL; when both it and cse_id are set they
 *                must be equal.
 *   out          receives a new configuration (owned by the caller: saef_cfg_free()).
 *   err, errlen  optional buffer for one line naming the option ("maf.m1.fqdn"), the value (not
 *                for secret options, nor for db_conninfo) and the reason; truncated to fit,
 *                always NUL-terminated when errlen > 0, "" on success.
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_CFG_*; *out is NULL on error.
 * No I/O, thread-safe.
 */
saef_rc_t saef_cfg_parse(const saef_config_pair_t *pairs, size_t npairs,
                         const char *host_cse_id, saef_cfg_t **out, char *err, size_t errlen);

/* Free a configuration; NULL-safe. */
void saef_cfg_free(saef_cfg_t *cfg);

/* Find a configured MAF by FQDN (fqdn is len bytes, need not be NUL-terminated;
 * case-insensitive, trailing dot ignored); NULL if none or if cfg or fqdn is NULL. */
const saef_cfg_maf_t *saef_cfg_find_maf(const saef_cfg_t *cfg, const char *fqdn, size_t len);

/* Write docs/configuration.md (Markdown, generated from the option table) to f.
 * Returns SAEF_OK, SAEF_E_IO (a write or the final flush failed) or SAEF_E_INVALID_ARG. */
saef_rc_t saef_cfg_write_markdown(FILE *f);

#endif /* SAEF_CONFIG_H */
