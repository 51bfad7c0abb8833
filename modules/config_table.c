/*
 * The option table: the one place that says which options exist, their types, defaults,
 * ranges and meaning.  saef_cfg_parse() validates against it and saef_cfg_write_markdown()
 * turns it into docs/configuration.md, so the two cannot drift apart.  Descriptions are
 * Markdown and say why a default was chosen: an operator changing it should know what it
 * trades.
 */
#include <stddef.h>
#include <string.h>

#include "config_internal.h"

#define XSTR(x) #x
#define STR(x) XSTR(x)

/* Offset and width of a field of the global or the per-MAF struct. */
#define GLOBAL(field)                                                                              \
    .scope = CFG_SCOPE_GLOBAL, .offset = offsetof(saef_cfg_t, field),                              \
    .size = sizeof(((saef_cfg_t *)0)->field)
#define MAF(field)                                                                                 \
    .scope = CFG_SCOPE_MAF, .offset = offsetof(saef_cfg_maf_t, field),                             \
    .size = sizeof(((saef_cfg_maf_t *)0)->field)

static const cfg_choice_t psk_length_choices[] = {{"32", 32}, {"16", 16}, {NULL, 0}};
static const cfg_choice_t resumption_choices[] = {
    {"off", SAEF_CFG_RESUMPTION_OFF}, {"bounded", SAEF_CFG_RESUMPTION_BOUNDED}, {NULL, 0}};
static const cfg_choice_t expiry_choices[] = {
    {"keep", SAEF_CFG_EXPIRY_KEEP}, {"close", SAEF_CFG_EXPIRY_CLOSE}, {NULL, 0}};

const cfg_option_t saef_cfg_table[] = {
    /* ---- global: [saef] ---- */
    {.name = "cse_id",
     GLOBAL(cse_id),
     .type = CFG_T_CSE_ID,
     .flags = CFG_F_COND,
     .def_doc = "the host's CSE-ID",
     .desc = "Our own CSE-ID (IdB), SP-relative `/cse-id` or absolute `//sp-domain/cse-id`. "
             "TS-0003 8.2.1 requires Entity B to be configured with it, and the MAF authorises "
             "Key Retrieval against it. Required unless the host passes its CSE-ID through the "
             "host API; when both are present they must name the same CSE, and the absolute "
             "form is kept."},
    {.name = "node_id",
     GLOBAL(node_id),
     .type = CFG_T_NAME,
     .def_doc = "the system host name",
     .desc = "Name of this host node in the tables that several nodes share (associations, "
             "audit events). Defaults to the host name so that a cluster needs no per-node "
             "setting; set it where host names are not stable (containers)."},
    {.name = "suid",
     GLOBAL(suid),
     .type = CFG_T_UINT,
     .def = "32",
     .min = 32,
     .max = 32,
     .desc = "Security Usage Identifier that every retrieved Kc must carry. Only 32 (key "
             "distributed by a MAF for the SAEF, TS-0004 m2m:suid) is accepted: a key the MAF "
             "issued for another purpose must never authenticate a TLS peer. The option exists "
             "so that a configuration can state it."},
    {.name = "psk_length",
     GLOBAL(psk_length),
     .type = CFG_T_ENUM,
     .def = "32",
     .choices = psk_length_choices,
     .unit = "bytes",
     .desc = "Bytes of Kc used as the (D)TLS PSK. 32: the whole Kc, as TS-0003 8.2.2.3 says "
             "(psk = Kc). 16: its first half, the key-split rule of TS-0003 8.8.1; choose it "
             "only when the Entity A implementations do the same, since a mismatch fails every "
             "handshake like a wrong key."},
    {.name = "cache_size",
     GLOBAL(cache_size),
     .type = CFG_T_UINT,
     .def = "16384",
     .min = 16,
     .max = 4194304,
     .unit = "entries",
     .desc = "Keys held in memory, refusals included. A miss costs one MAF request, never a "
             "failure. An entry takes under 1 KiB, so the default bounds the cache to about "
             "16 MiB; size it to the devices that connect within one Kc lifetime."},
    {.name = "negative_ttl",
     GLOBAL(negative_ttl_s),
     .type = CFG_T_UINT,
     .def = "30",
     .min = 1,
     .max = 3600,
     .unit = "s",
     .desc = "How long a MAF refusal (unknown RelativeKeyID, not authorised) is remembered. A "
             "device retrying with a bad identity then costs one MAF request per period "
             "instead of one per handshake. Short, so that a key registered right after a "
             "refusal soon becomes usable."},
    {.name = "max_inflight",
     GLOBAL(max_inflight),
     .type = CFG_T_UINT,
     .def = "256",
     .min = 1,
     .max = 65536,
     .unit = "requests",
     .desc = "Key Retrievals in flight over all MAFs together. Handshakes beyond it fail at "
             "once (like a wrong key) instead of queueing, so a flood of cold identities cannot "
             "exhaust threads or sockets. Each MAF has its own, smaller bound as well."},
    {.name = "coap_fetch_timeout_ms",
     GLOBAL(coap_fetch_timeout_ms),
     .type = CFG_T_UINT,
     .def = "1000",
     .min = 50,
     .max = 5000,
     .unit = "ms",
     .desc = "Longest a DTLS handshake inside libcoap's PSK callback waits for a key. libcoap "
             "cannot pause a handshake, so every other session of that CoAP context stalls "
             "meanwhile. A handshake that runs out of time fails like a wrong key while the "
             "fetch completes in the background, so the client's next attempt finds the key "
             "cached; 1 s matches the initial DTLS retransmission timer, which hides shorter "
             "waits from the client."},
    {.name = "resumption",
     GLOBAL(resumption),
     .type = CFG_T_ENUM,
     .def = "off",
     .choices = resumption_choices,
     .desc = "TLS session resumption for SAEF identities. `off`: every connection makes a full "
             "PSK handshake, which costs about 0.1-0.2 ms of CPU without certificates, and the "
             "binding is always derived from a live key. `bounded`: session tickets and the "
             "session cache are allowed, with each session's lifetime capped at its Kc expiry "
             "so that a resumed session never outlives Kc."},
    {.name = "expiry_action",
     GLOBAL(expiry_action),
     .type = CFG_T_ENUM,
     .def = "keep",
     .choices = expiry_choices,
     .desc = "What happens to live connections when their Kc lifetime ends. TS-0003 8.2.2.3 "
             "only requires new handshakes to fail, which `keep` does. `close` also asks the "
             "host to close the connections; it needs the host API's close_connection hook."},
    {.name = "admin_originators",
     GLOBAL(admin_originators),
     .type = CFG_T_ORIGINATORS,
     .count_offset = offsetof(saef_cfg_t, n_admin_originators),
     .def_doc = "empty",
     .desc = "Comma-separated CSE-IDs and AE-IDs (at most " STR(
         CFG_MAX_ADMINS) ") that may use the module's management resources (status, cached keys, "
                         "revocation, associations, credential map: docs/operations.md). Each is "
                         "compared exactly with the From the host authenticated. Empty by "
                         "default: the resources refuse everyone (4103) until an operator is "
                         "named."},
    {.name = "db_conninfo",
     GLOBAL(db_conninfo),
     .type = CFG_T_CONNINFO,
     .flags = CFG_F_NO_ECHO,
     .desc = "libpq connection string (`key=value ...` or a `postgresql://` URI) of the host "
             "CSE's database. Without it associations live only in memory: no audit trail, no "
             "key vault, nothing shared between nodes. It must not contain a password: use "
             "`passfile=`, `~/.pgpass` or peer authentication so that the secret stays in a "
             "file. Error messages never repeat this value."},
    {.name = "db_schema",
     GLOBAL(db_schema),
     .type = CFG_T_SQL_IDENT,
     .def = "saef",
     .desc = "Schema that holds the module's tables, beside the host CSE's own data. Restricted "
             "to lower-case unquoted identifiers so that it never needs quoting in SQL."},
    {.name = "db_queue_size",
     GLOBAL(db_queue_size),
     .type = CFG_T_UINT,
     .def = "65536",
     .min = 64,
     .max = 1048576,
     .unit = "records",
     .desc = "Bound of the database writer's queue. The default absorbs a database outage of "
             "about a minute at 1000 handshakes/s; when it is full, new associations are "
             "refused (fail closed) rather than silently dropped."},
    {.name = "key_vault",
     GLOBAL(key_vault),
     .type = CFG_T_BOOL,
     .def = "false",
     .desc = "Keep each retrieved Kc in the database, sealed with AES-256-GCM under the KEK, so "
             "that other nodes sharing the database use it without asking the MAF again. Off "
             "by default because it puts (sealed) keys into the database: an operator's "
             "decision. Needs `db_conninfo` and `kek_file`."},
    {.name = "kek_file",
     GLOBAL(kek_file),
     .type = CFG_T_PATH,
     .flags = CFG_F_SECRET | CFG_F_COND,
     .desc = "File holding the key vault's 256-bit key-encryption key. Read at start; it must "
             "be a regular file that neither group nor others can read. Required when "
             "`key_vault = true`."},

    /* ---- per MAF: [saef.maf.<label>] ---- */
    {.name = "fqdn",
     MAF(fqdn),
     .type = CFG_T_FQDN,
     .flags = CFG_F_REQUIRED,
     .desc = "MAF-FQDN: the part after the last `@` of the Key Identifiers this MAF issues. "
             "Only identities naming a configured MAF-FQDN are looked up; any other identity "
             "fails like a wrong key without contacting anyone. Compared case-insensitively, a "
             "trailing dot ignored; unique across sections."},
    {.name = "key_retrieval_uri",
     MAF(key_retrieval_uri),
     .type = CFG_T_HTTPS_URI,
     .suffix = "/keyRetrieval",
     .flags = CFG_F_REQUIRED,
     .desc = "URI of MAF Key Retrieval (TS-0003 8.8.2.8): the MAF's base URI followed by "
             "`/keyRetrieval` (docs/maf-binding.md section 4). Its host must be this section's "
             "`fqdn`: an identity can then only ever make the module contact the MAF it names, "
             "never another host."},
    {.name = "client_registration_uri",
     MAF(client_registration_uri),
     .type = CFG_T_HTTPS_URI,
     .suffix = "/clientRegistrations",
     .flags = CFG_F_COND,
     .desc = "URI of MAF Client Registration (TS-0003 8.8.2.3): the base URI followed by "
             "`/clientRegistrations`; its host must be `fqdn`, for the same reason. Required "
             "when `register = true`."},
    {.name = "register",
     MAF(register_client),
     .type = CFG_T_BOOL,
     .def = "false",
     .desc = "Register Entity B with this MAF at start (TS-0003 8.8.2.3). Off by default: "
             "MAF clients are usually registered by the MAF's own provisioning. Needs "
             "`client_registration_uri` and `admin_fqdn`."},
    {.name = "registration_lifetime",
     MAF(registration_lifetime_s),
     .type = CFG_T_UINT,
     .def = "86400",
     .min = 3600,
     .max = 31622400,
     .unit = "s",
     .desc = "Lifetime Entity B proposes when it registers (the MAF may shorten it), at most "
             "366 days. A day keeps the registration of a client that is taken out of service "
             "short-lived without renewing often. Used only with `register = true`."},
    {.name = "admin_fqdn",
     MAF(admin_fqdn),
     .type = CFG_T_FQDN,
     .flags = CFG_F_COND,
     .desc = "adminFQDN sent in Client Registration: the administrating stakeholder under "
             "whose authorisation the module uses this MAF. Required when `register = true`."},
    {.name = "ca_file",
     MAF(ca_file),
     .type = CFG_T_PATH,
     .flags = CFG_F_COND,
     .desc = "PEM trust anchors for the MAF's server certificate in certificate mode; that "
             "certificate must also name `fqdn`. Certificate mode is `client_cert` + "
             "`client_key` + `ca_file`."},
    {.name = "client_cert",
     MAF(client_cert),
     .type = CFG_T_PATH,
     .flags = CFG_F_COND,
     .desc = "PEM certificate (chain) Entity B presents to the MAF in certificate mode: a "
             "CSE-ID or Node-ID certificate (TS-0003 8.8.3.1)."},
    {.name = "client_key",
     MAF(client_key),
     .type = CFG_T_PATH,
     .flags = CFG_F_SECRET | CFG_F_COND,
     .desc = "PEM private key of `client_cert`. Read at start; it must be a regular file that "
             "neither group nor others can read."},
    {.name = "kmid",
     MAF(kmid),
     .type = CFG_T_KMID,
     .flags = CFG_F_COND,
     .desc = "KmID (`MAF_RELATIVE_KmID@MAF-FQDN`, TS-0003 10.6), the psk_identity of the MAF "
             "handshake in PSK mode. Its FQDN part must be `fqdn`. PSK mode is `kmid` + "
             "`km_file`."},
    {.name = "km_file",
     MAF(km_file),
     .type = CFG_T_PATH,
     .flags = CFG_F_SECRET | CFG_F_COND,
     .desc = "File holding Km, the PSK shared with the MAF in PSK mode. Read at start; it must "
             "be a regular file that neither group nor others can read."},
    {.name = "connect_timeout_ms",
     MAF(connect_timeout_ms),
     .type = CFG_T_UINT,
     .def = "2000",
     .min = 100,
     .max = 60000,
     .unit = "ms",
     .desc = "TCP and TLS connect timeout towards the MAF. Connections are kept alive, so it is "
             "rarely paid; short, because handshakes wait on it and a MAF that does not accept "
             "within 2 s is better treated as down."},
    {.name = "request_timeout_ms",
     MAF(request_timeout_ms),
     .type = CFG_T_UINT,
     .def = "3000",
     .min = 100,
     .max = 60000,
     .unit = "ms",
     .desc = "Whole-request timeout of one Key Retrieval, connect included, so it must not be "
             "shorter than `connect_timeout_ms`. A peer's handshake waits at most this long for "
             "its key; TLS clients give up after a few seconds anyway."},
    {.name = "max_inflight",
     MAF(max_inflight),
     .type = CFG_T_UINT,
     .def = "64",
     .min = 1,
     .max = 4096,
     .unit = "requests",
     .desc = "Key Retrievals in flight to this MAF. Handshakes waiting for one Key Identifier "
             "share one request, so this bounds distinct cold identities; beyond it handshakes "
             "fail at once instead of piling up on a slow MAF."},
    {.name = "breaker_threshold",
     MAF(breaker_threshold),
     .type = CFG_T_UINT,
     .def = "5",
     .min = 1,
     .max = 1000,
     .unit = "failures",
     .desc = "Consecutive failures (connect error, timeout, 5xx) that open the circuit breaker. "
             "While it is open, handshakes needing this MAF fail at once instead of each "
             "waiting for a timeout."},
    {.name = "connect_to",
     MAF(connect_to),
     .type = CFG_T_HOST_PORT,
     .desc = "Address to connect to instead of the URI's host and port, as `HOST:PORT` (an FQDN, "
             "an IPv4 address or a bracketed IPv6 address). TLS still sends `fqdn` as SNI and "
             "checks the MAF's certificate against it. For a MAF whose address is pinned "
             "outside DNS, and for tests on one machine; unset, DNS decides."},
    {.name = "breaker_cooldown_ms",
     MAF(breaker_cooldown_ms),
     .type = CFG_T_UINT,
     .def = "10000",
     .min = 100,
     .max = 600000,
     .unit = "ms",
     .desc = "How long the breaker stays open before one trial request is let through. Long "
             "enough not to hammer a MAF that is restarting, short enough that keys flow again "
             "soon after it is back."},
};

const size_t saef_cfg_table_len = sizeof(saef_cfg_table) / sizeof(saef_cfg_table[0]);

const char *const saef_cfg_rules[] = {
    "Either `cse_id` or the host's CSE-ID must be present; when both are, they must name the "
    "same CSE (same CSE-ID, and the same SP domain when both are absolute).",
    "At least one and at most " STR(
        SAEF_CFG_MAX_MAFS) " `maf.<label>` sections; a label is 1 "
                           "to " STR(CFG_LABEL_MAX) " characters of `A-Z a-z 0-9 _ -`.",
    "No two MAF sections may have the same `fqdn` (compared case-insensitively, a trailing dot "
    "ignored).",
    "Each MAF uses exactly one authentication mode: certificate (`client_cert`, `client_key` and "
    "`ca_file`) or PSK (`kmid` and `km_file`). Options of both modes, or an incomplete mode, are "
    "a conflict; neither mode is a missing option.",
    "The host of `key_retrieval_uri` and of `client_registration_uri` must be the section's "
    "`fqdn`, and so must the FQDN part of `kmid`.",
    "A MAF in certificate mode needs an absolute CSE-ID (`//sp-domain/cse-id`, from `cse_id` or "
    "the host): the module sends it to the MAF as `X-M2M-Origin`.",
    "`register = true` needs `client_registration_uri` and `admin_fqdn`.",
    "`request_timeout_ms` must not be shorter than `connect_timeout_ms`.",
    "`key_vault = true` needs `db_conninfo` and `kek_file`.",
    NULL,
};

const cfg_option_t *saef_cfg_option_find(cfg_scope_t scope, const char *name, size_t *index)
{
    size_t i;

    for (i = 0; i < saef_cfg_table_len; i++) {
        if (saef_cfg_table[i].scope == scope && strcmp(saef_cfg_table[i].name, name) == 0) {
            if (index != NULL)
                *index = i;
            return &saef_cfg_table[i];
        }
    }
    return NULL;
}
