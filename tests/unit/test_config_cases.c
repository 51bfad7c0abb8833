/* Case tables of test_config.c: inputs and what the configuration must make of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_config_cases.h"

const char del_marker[] = "<delete>";

#define X16(c) c c c c c c c c c c c c c c c c

#define G(key, value)                                                                              \
    {                                                                                              \
        "", key, value                                                                             \
    }
#define M(key, value)                                                                              \
    {                                                                                              \
        "maf.m1", key, value                                                                       \
    }
#define M2(key, value)                                                                             \
    {                                                                                              \
        "maf.m2", key, value                                                                       \
    }
#define NO_CERT M("client_cert", DEL), M("client_key", DEL), M("ca_file", DEL)
#define PSK NO_CERT, M("kmid", "km1@maf.example.com"), M("km_file", "/etc/saef/km")

const kv_t base[] = {
    G("cse_id", "//sp.example.com/cse-in"),
    M("fqdn", "maf.example.com"),
    M("key_retrieval_uri", "https://maf.example.com/maf/keyRetrieval"),
    M("ca_file", "/etc/saef/maf-ca.pem"),
    M("client_cert", "/etc/saef/cse.pem"),
    M("client_key", "/etc/saef/private/cse-secret-key.pem"),
    {NULL, NULL, NULL},
};

const kv_t psk_example[] = {
    G("cse_id", "//sp.example.com/cse-in"),
    G("node_id", "node-1"),
    G("suid", "32"),
    G("psk_length", "16"),
    G("cache_size", "1000"),
    G("negative_ttl", "60"),
    G("max_inflight", "100"),
    G("coap_fetch_timeout_ms", "500"),
    G("resumption", "bounded"),
    G("expiry_action", "close"),
    G("admin_originators", "/cse-in/CAdmin, //sp.example.com/cse-ops, Cx"),
    G("db_conninfo", "host=/run/postgresql dbname=cse user=saef"),
    G("db_schema", "saef_test"),
    G("db_queue_size", "1000"),
    G("key_vault", "true"),
    G("kek_file", "/etc/saef/kek"),
    M("fqdn", "MAF.example.com."),
    M("key_retrieval_uri", "https://maf.example.com:8443/maf/keyRetrieval"),
    M("client_registration_uri", "https://maf.example.com:8443/maf/clientRegistrations"),
    M("register", "yes"),
    M("admin_fqdn", "admin.example.com"),
    M("kmid", "km1@maf.example.com"),
    M("km_file", "/etc/saef/km1"),
    M("connect_timeout_ms", "1000"),
    M("request_timeout_ms", "2000"),
    M("max_inflight", "10"),
    M("breaker_threshold", "3"),
    M("breaker_cooldown_ms", "5000"),
    M("connect_to", "127.0.0.1:8443"),
    M("registration_lifetime", "7200"),
    M2("fqdn", "maf2.example.com"),
    M2("key_retrieval_uri", "https://maf2.example.com/keyRetrieval"),
    M2("ca_file", "/etc/saef/ca2.pem"),
    M2("client_cert", "/etc/saef/cert2.pem"),
    M2("client_key", "/etc/saef/key2.pem"),
    {NULL, NULL, NULL},
};

#define GF(key, kind, member)                                                                      \
    {                                                                                              \
        key, false, kind, offsetof(saef_cfg_t, member)                                             \
    }
#define MF(key, kind, member)                                                                      \
    {                                                                                              \
        key, true, kind, offsetof(saef_cfg_maf_t, member)                                          \
    }

const field_t fields[] = {
    GF("cse_id", K_STR, cse_id),
    GF("node_id", K_STR, node_id),
    GF("suid", K_U16, suid),
    GF("psk_length", K_U32, psk_length),
    GF("cache_size", K_U32, cache_size),
    GF("negative_ttl", K_U32, negative_ttl_s),
    GF("max_inflight", K_U32, max_inflight),
    GF("coap_fetch_timeout_ms", K_U32, coap_fetch_timeout_ms),
    GF("resumption", K_ENUM, resumption),
    GF("expiry_action", K_ENUM, expiry_action),
    GF("db_conninfo", K_STR, db_conninfo),
    GF("db_schema", K_STR, db_schema),
    GF("db_queue_size", K_U32, db_queue_size),
    GF("key_vault", K_BOOL, key_vault),
    GF("kek_file", K_STR, kek_file),
    MF("fqdn", K_STR, fqdn),
    MF("key_retrieval_uri", K_STR, key_retrieval_uri),
    MF("client_registration_uri", K_STR, client_registration_uri),
    MF("register", K_BOOL, register_client),
    MF("admin_fqdn", K_STR, admin_fqdn),
    MF("ca_file", K_STR, ca_file),
    MF("client_cert", K_STR, client_cert),
    MF("client_key", K_STR, client_key),
    MF("kmid", K_STR, kmid),
    MF("km_file", K_STR, km_file),
    MF("connect_timeout_ms", K_U32, connect_timeout_ms),
    MF("request_timeout_ms", K_U32, request_timeout_ms),
    MF("max_inflight", K_U32, max_inflight),
    MF("breaker_threshold", K_U32, breaker_threshold),
    MF("breaker_cooldown_ms", K_U32, breaker_cooldown_ms),
    MF("connect_to", K_STR, connect_to),
    MF("registration_lifetime", K_U32, registration_lifetime_s),
    {NULL, false, K_STR, 0},
};

#define HS(kv, s)                                                                                  \
    {                                                                                              \
        .set = {kv}, .exp_s = s                                                                    \
    }
#define HU(kv, u)                                                                                  \
    {                                                                                              \
        .set = {kv}, .exp_u = u                                                                    \
    }

const happy_t happy[] = {
    HS(G("cse_id", "//sp.example.com/cse-x"), "//sp.example.com/cse-x"),
    {.set = {G("cse_id", "/cse-x"), PSK}, .exp_s = "/cse-x"},
    HS(G("node_id", "node-1.a_B"), "node-1.a_B"),
    HS(G("node_id", X16("n") X16("n") X16("n") X16("n")), X16("n") X16("n") X16("n") X16("n")),
    HU(G("suid", "32"), 32),
    HU(G("psk_length", "16"), 16),
    HU(G("psk_length", "32"), 32),
    HU(G("cache_size", "16"), 16),
    HU(G("cache_size", "4194304"), 4194304),
    HU(G("negative_ttl", "1"), 1),
    HU(G("negative_ttl", "3600"), 3600),
    HU(G("max_inflight", "1"), 1),
    HU(G("max_inflight", "65536"), 65536),
    HU(G("coap_fetch_timeout_ms", "50"), 50),
    HU(G("coap_fetch_timeout_ms", "5000"), 5000),
    HU(G("resumption", "bounded"), SAEF_CFG_RESUMPTION_BOUNDED),
    HU(G("resumption", "OFF"), SAEF_CFG_RESUMPTION_OFF),
    HU(G("expiry_action", "close"), SAEF_CFG_EXPIRY_CLOSE),
    HU(G("expiry_action", "Keep"), SAEF_CFG_EXPIRY_KEEP),
    HS(G("db_conninfo", "host=/run/postgresql dbname=cse"), "host=/run/postgresql dbname=cse"),
    HS(G("db_conninfo", "postgresql://saef@db.example.com:5432/cse"),
       "postgresql://saef@db.example.com:5432/cse"),
    HS(G("db_schema", "saef_2"), "saef_2"),
    HS(G("db_schema", "_x"), "_x"),
#define S63 X16("s") X16("s") X16("s") "sssssssssssssss"
    HS(G("db_schema", S63), S63),
    HU(G("db_queue_size", "64"), 64),
    HU(G("db_queue_size", "1048576"), 1048576),
    {.set = {G("key_vault", "yes"), G("db_conninfo", "dbname=cse"),
             G("kek_file", "/etc/saef/keyRetrieval")},
     .exp_u = true},
    HU(G("key_vault", "0"), false),
    HU(G("key_vault", "FALSE"), false),
    HS(G("kek_file", "/etc/saef/private/kek.bin"), "/etc/saef/private/kek.bin"),
    HS(M("fqdn", "MAF.Example.COM."), "maf.example.com"),
    HS(M("key_retrieval_uri", "https://maf.example.com:8443/a/b/keyRetrieval"),
       "https://maf.example.com:8443/a/b/keyRetrieval"),
    HS(M("key_retrieval_uri", "HTTPS://MAF.EXAMPLE.COM./keyRetrieval"),
       "HTTPS://MAF.EXAMPLE.COM./keyRetrieval"),
    HS(M("key_retrieval_uri", "https://maf.example.com:65535/keyRetrieval"),
       "https://maf.example.com:65535/keyRetrieval"),
    HS(M("key_retrieval_uri", "https://maf.example.com:1/a.b_c~d-e/keyRetrieval"),
       "https://maf.example.com:1/a.b_c~d-e/keyRetrieval"),
    HS(M("client_registration_uri", "https://maf.example.com/reg/clientRegistrations"),
       "https://maf.example.com/reg/clientRegistrations"),
    {.set = {M("register", "TRUE"),
             M("client_registration_uri", "https://maf.example.com/clientRegistrations"),
             M("admin_fqdn", "admin.example.com")},
     .exp_u = true},
    {.set = {M("register", "On"),
             M("client_registration_uri", "https://maf.example.com/clientRegistrations"),
             M("admin_fqdn", "admin.example.com")},
     .exp_u = true},
    {.set = {M("register", "1"),
             M("client_registration_uri", "https://maf.example.com/clientRegistrations"),
             M("admin_fqdn", "admin.example.com")},
     .exp_u = true},
    HU(M("register", "off"), false),
    HU(M("register", "No"), false),
    HS(M("admin_fqdn", "Admin.Example.com"), "admin.example.com"),
    HS(M("ca_file", "/etc/ssl/certs/maf ca.pem"), "/etc/ssl/certs/maf ca.pem"),
    HS(M("client_cert", "/etc/saef/cse-chain.pem"), "/etc/saef/cse-chain.pem"),
    HS(M("client_key", "/etc/saef/private/k.pem"), "/etc/saef/private/k.pem"),
    {.set = {M("kmid", "KM_01.x-y@MAF.example.com"), M("km_file", "/etc/saef/km"), NO_CERT},
     .exp_s = "KM_01.x-y@MAF.example.com"},
    {.set = {M("km_file", "/etc/saef/private/km.bin"), M("kmid", "k@maf.example.com"), NO_CERT},
     .exp_s = "/etc/saef/private/km.bin"},
    HU(M("connect_timeout_ms", "100"), 100),
    HU(M("connect_timeout_ms", "3000"), 3000),
    {.set = {M("connect_timeout_ms", "60000"), M("request_timeout_ms", "60000")}, .exp_u = 60000},
    HU(M("request_timeout_ms", "60000"), 60000),
    HU(M("request_timeout_ms", "2000"), 2000),
    HU(M("max_inflight", "1"), 1),
    HU(M("max_inflight", "4096"), 4096),
    HU(M("breaker_threshold", "1"), 1),
    HU(M("breaker_threshold", "1000"), 1000),
    HU(M("breaker_cooldown_ms", "100"), 100),
    HU(M("breaker_cooldown_ms", "600000"), 600000),
    HS(M("connect_to", "127.0.0.1:8443"), "127.0.0.1:8443"),
    HS(M("connect_to", "[::1]:1"), "[::1]:1"),
    HS(M("connect_to", "[2001:db8::7]:65535"), "[2001:db8::7]:65535"),
    HS(M("connect_to", "maf-lb.internal.example.com:443"), "maf-lb.internal.example.com:443"),
    HS(M("connect_to", "localhost:8443"), "localhost:8443"),
    HU(M("registration_lifetime", "3600"), 3600),
    HU(M("registration_lifetime", "31622400"), 31622400),
};
const size_t n_happy = sizeof(happy) / sizeof(happy[0]);

#define MAL SAEF_E_CFG_MALFORMED
#define RNG SAEF_E_CFG_RANGE
#define BAD(kv, code, w)                                                                           \
    {                                                                                              \
        .set = {kv}, .rc = code, .want = w                                                         \
    }
/* A bad value of option key in section sec: the message names it and shows the value. */
#define BADV(sec, key, value, code, reason)                                                        \
    {                                                                                              \
        .set = {{sec, key, value}}, .rc = code, .want = reason                                     \
    }

const bad_t bad[] = {
    /* empty values, one per type */
    BAD(G("cache_size", ""), MAL, "cache_size = \"\": empty value"),
    BAD(G("psk_length", ""), MAL, "psk_length = \"\": empty value"),
    BAD(G("key_vault", ""), MAL, "key_vault = \"\": empty value"),
    BAD(G("node_id", ""), MAL, "node_id = \"\": empty value"),
    BAD(G("db_schema", ""), MAL, "db_schema = \"\": empty value"),
    BAD(G("cse_id", ""), MAL, "cse_id = \"\": empty value"),
    BAD(G("admin_originators", ""), MAL, "admin_originators = \"\": empty value"),
    BAD(G("db_conninfo", ""), MAL, "db_conninfo = <not shown>: empty value"),
    BAD(G("kek_file", ""), MAL, "kek_file = <secret>: empty value"),
    BAD(M("fqdn", ""), MAL, "maf.m1.fqdn = \"\": empty value"),
    BAD(M("key_retrieval_uri", ""), MAL, "maf.m1.key_retrieval_uri = \"\": empty value"),
    BAD(M("kmid", ""), MAL, "maf.m1.kmid = \"\": empty value"),
    BAD(M("ca_file", ""), MAL, "maf.m1.ca_file = \"\": empty value"),
    BAD(M("client_key", ""), MAL, "maf.m1.client_key = <secret>: empty value"),
    /* numbers */
    BAD(G("cache_size", "12abc"), MAL, "cache_size = \"12abc\": not a decimal number"),
    BAD(G("cache_size", "abc"), MAL, "cache_size = \"abc\": not a decimal number"),
    BAD(G("cache_size", "1e3"), MAL, "cache_size = \"1e3\": not a decimal number"),
    BAD(G("cache_size", "0x10"), MAL, "cache_size = \"0x10\": not a decimal number"),
    BAD(G("cache_size", "1 000"), MAL, "cache_size = \"1 000\": not a decimal number"),
    BAD(G("cache_size", "100.0"), MAL, "cache_size = \"100.0\": not a decimal number"),
    BAD(G("cache_size", " 100"), MAL, "cache_size = \" 100\": leading or trailing blank"),
    BAD(G("cache_size", "100\t"), MAL, "cache_size = \"100\\x09\": leading or trailing blank"),
    BAD(G("cache_size", "99999999999999999999"), RNG,
        "cache_size = \"99999999999999999999\": out of range 16..4194304"),
    BAD(M("connect_timeout_ms", "4294967296"), RNG, "maf.m1.connect_timeout_ms = \"4294967296\""),
    BAD(M("connect_timeout_ms", "4294967295"), RNG, "out of range 100..60000"),
    /* numbers that would wrap to a valid value in 32 or 64 bits */
    BAD(M("connect_timeout_ms", "4294967396"), RNG, "\"4294967396\": out of range 100..60000"),
    BAD(M("connect_timeout_ms", "18446744073709553616"), RNG, "out of range 100..60000"),
    BAD(G("negative_ttl", "-1"), MAL, "negative_ttl = \"-1\": not a decimal number"),
    BAD(G("negative_ttl", "+5"), MAL, "negative_ttl = \"+5\": not a decimal number"),
    BAD(G("negative_ttl", "010"), MAL, "negative_ttl = \"010\": not a decimal number"),
    BAD(M("connect_timeout_ms", "0"), RNG,
        "maf.m1.connect_timeout_ms = \"0\": out of range 100..60000"),
    BAD(M("connect_timeout_ms", "99"), RNG, "maf.m1.connect_timeout_ms = \"99\": out of range"),
    BAD(M("connect_timeout_ms", "60001"), RNG, "maf.m1.connect_timeout_ms = \"60001\": out of"),
    BAD(G("cache_size", "15"), RNG, "cache_size = \"15\": out of range 16..4194304"),
    BAD(G("cache_size", "4194305"), RNG, "cache_size = \"4194305\": out of range"),
    BAD(G("negative_ttl", "0"), RNG, "negative_ttl = \"0\": out of range 1..3600"),
    BAD(G("negative_ttl", "3601"), RNG, "negative_ttl = \"3601\": out of range 1..3600"),
    BAD(G("max_inflight", "0"), RNG, "max_inflight = \"0\": out of range 1..65536"),
    BAD(G("max_inflight", "65537"), RNG, "max_inflight = \"65537\": out of range"),
    BAD(G("coap_fetch_timeout_ms", "49"), RNG, "coap_fetch_timeout_ms = \"49\": out of range"),
    BAD(G("coap_fetch_timeout_ms", "5001"), RNG, "coap_fetch_timeout_ms = \"5001\": out of"),
    BAD(G("db_queue_size", "63"), RNG, "db_queue_size = \"63\": out of range 64..1048576"),
    BAD(G("db_queue_size", "1048577"), RNG, "db_queue_size = \"1048577\": out of range"),
    BAD(M("request_timeout_ms", "60001"), RNG, "maf.m1.request_timeout_ms = \"60001\": out of"),
    BAD(M("max_inflight", "0"), RNG, "maf.m1.max_inflight = \"0\": out of range 1..4096"),
    BAD(M("max_inflight", "4097"), RNG, "maf.m1.max_inflight = \"4097\": out of range"),
    BAD(M("breaker_threshold", "0"), RNG, "maf.m1.breaker_threshold = \"0\": out of range 1..1000"),
    BAD(M("breaker_threshold", "1001"), RNG, "maf.m1.breaker_threshold = \"1001\": out of"),
    BAD(M("breaker_cooldown_ms", "99"), RNG, "maf.m1.breaker_cooldown_ms = \"99\": out of range"),
    BAD(M("breaker_cooldown_ms", "600001"), RNG, "maf.m1.breaker_cooldown_ms = \"600001\": out"),
    BAD(G("suid", "16"), RNG, "suid = \"16\": out of range 32..32"),
    BAD(G("suid", "31"), RNG, "suid = \"31\": out of range 32..32"),
    /* enums and bools */
    BAD(G("psk_length", "24"), RNG, "psk_length = \"24\": not one of 32, 16"),
    BAD(G("psk_length", "016"), RNG, "psk_length = \"016\": not one of 32, 16"),
    BAD(G("resumption", "on"), RNG, "resumption = \"on\": not one of off, bounded"),
    BAD(G("expiry_action", "kill"), RNG, "expiry_action = \"kill\": not one of keep, close"),
    BAD(G("key_vault", "maybe"), MAL, "key_vault = \"maybe\": not a boolean"),
    BAD(M("register", "2"), MAL, "maf.m1.register = \"2\": not a boolean"),
    BAD(M("register", "tru"), MAL, "maf.m1.register = \"tru\": not a boolean"),
    BAD(M("register", "yes please"), MAL, "maf.m1.register = \"yes please\": not a boolean"),
    /* FQDNs */
    BAD(M("fqdn", "maf..example.com"), MAL, "maf.m1.fqdn = \"maf..example.com\": not an FQDN"),
    BAD(M("fqdn", "-maf.example.com"), MAL, "maf.m1.fqdn = \"-maf.example.com\": not an FQDN"),
    BAD(M("fqdn", "maf_x.example.com"), MAL, "maf.m1.fqdn = \"maf_x.example.com\": not an"),
    BAD(M("fqdn", "1.2.3.4"), MAL, "maf.m1.fqdn = \"1.2.3.4\": not an FQDN"),
    BAD(M("fqdn", "[::1]"), MAL, "maf.m1.fqdn = \"[::1]\": not an FQDN"),
    BAD(M("fqdn", "maf.example.123"), MAL, "maf.m1.fqdn = \"maf.example.123\": not an FQDN"),
    BAD(M("fqdn", X16("l") X16("l") X16("l") X16("l") ".example.com"), MAL,
        "maf.m1.fqdn = \"" X16("l")),
    BAD(M("fqdn", "maf.example.com/"), MAL, "maf.m1.fqdn = \"maf.example.com/\": not an FQDN"),
    BAD(M("fqdn", "user@maf.example.com"), MAL, "maf.m1.fqdn = \"user@maf.example.com\": not"),
    BAD(M("admin_fqdn", "admin example"), MAL, "maf.m1.admin_fqdn = \"admin example\": not an"),
    /* CSE-IDs and KmIDs */
    BAD(G("cse_id", "cse-in"), MAL, "cse_id = \"cse-in\": not a CSE-ID"),
    BAD(G("cse_id", "/cse-in/CAdmin"), MAL, "cse_id = \"/cse-in/CAdmin\": not a CSE-ID"),
    BAD(G("cse_id", "/cse in"), MAL, "cse_id = \"/cse in\": not a CSE-ID"),
    BAD(M("kmid", "nokmid"), MAL, "maf.m1.kmid = \"nokmid\": not a KmID"),
    BAD(M("kmid", "@maf.example.com"), MAL, "maf.m1.kmid = \"@maf.example.com\": not a KmID"),
    BAD(M("kmid", "k@"), MAL, "maf.m1.kmid = \"k@\": not a KmID"),
    BAD(M("kmid", "k m@maf.example.com"), MAL, "maf.m1.kmid = \"k m@maf.example.com\": not a"),
    /* URIs */
    BAD(M("key_retrieval_uri", "http://maf.example.com/keyRetrieval"), MAL,
        "maf.m1.key_retrieval_uri = \"http://maf.example.com/keyRetrieval\": not an https:// URI"),
    BAD(M("key_retrieval_uri", "ftp://maf.example.com/keyRetrieval"), MAL, "not an https:// URI"),
    BAD(M("key_retrieval_uri", "maf.example.com/keyRetrieval"), MAL, "not an https:// URI"),
    BAD(M("key_retrieval_uri", "https:/maf.example.com/keyRetrieval"), MAL, "not an https:// URI"),
    BAD(M("key_retrieval_uri", "https://user@maf.example.com/keyRetrieval"), MAL,
        "maf.m1.key_retrieval_uri = \"https://user@maf.example.com/keyRetrieval\": userinfo"),
    BAD(M("key_retrieval_uri", "https://u:pw@maf.example.com/keyRetrieval"), MAL, "userinfo"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/keyRetrieval?x=1"), MAL,
        "maf.m1.key_retrieval_uri = \"https://maf.example.com/keyRetrieval?x=1\": query or "
        "fragment"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/keyRetrieval?"), MAL, "query or fragment"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/keyRetrieval#frag"), MAL,
        "query or fragment"),
    BAD(M("key_retrieval_uri", "https://maf.example.com"), MAL, "no path"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:0/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:65536/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:+443/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:0443/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://maf.example.com:44a/keyRetrieval"), MAL,
        "port is not a number"),
    BAD(M("key_retrieval_uri", "https://1.2.3.4/keyRetrieval"), MAL, "host is not an FQDN"),
    BAD(M("key_retrieval_uri", "https://[::1]/keyRetrieval"), MAL, "host is not an FQDN"),
    BAD(M("key_retrieval_uri", "https:///keyRetrieval"), MAL, "host is not an FQDN"),
    BAD(M("key_retrieval_uri", "https://maf%2eexample.com/keyRetrieval"), MAL,
        "host is not an FQDN"),
    BAD(M("key_retrieval_uri", "https://maf.example.com\\k/x"), MAL, "host is not an FQDN"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/a b"), MAL, "space, control character"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/\xc3\xa9"), MAL, "non-ASCII"),
    {.set = {M("key_retrieval_uri", "https://evil.example.com/keyRetrieval")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.key_retrieval_uri = \"https://evil.example.com/keyRetrieval\": host must be "
             "maf.m1.fqdn (maf.example.com)"},
    {.set = {M("key_retrieval_uri", "https://maf.example.com.evil.com/keyRetrieval")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "host must be maf.m1.fqdn"},
    {.set = {M("key_retrieval_uri", "https://sub.maf.example.com/keyRetrieval")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.key_retrieval_uri"},
    {.set = {M("client_registration_uri", "https://evil.example.com/clientRegistrations")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.client_registration_uri = \"https://evil.example.com/clientRegistrations\": "
             "host must be"},
    /* the path of the MAF binding */
    BAD(M("key_retrieval_uri", "https://maf.example.com/maf/keys"), MAL,
        "maf.m1.key_retrieval_uri = \"https://maf.example.com/maf/keys\": path must end in "
        "/keyRetrieval"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/keyretrieval"), MAL,
        "path must end in /keyRetrieval"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/"), MAL, "path segment 1 is empty"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/maf/keyRetrieval/"), MAL,
        "path segment 3 is empty"),
    BAD(M("key_retrieval_uri", "https://maf.example.com//keyRetrieval"), MAL,
        "path segment 1 is empty"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/a%20b/keyRetrieval"), MAL,
        "path segment 1 is empty, \".\", \"..\" or not [A-Za-z0-9._~-]"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/x/../keyRetrieval"), MAL,
        "path segment 2 is"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/./keyRetrieval"), MAL, "path segment 1 is"),
    BAD(M("key_retrieval_uri", "https://maf.example.com/a\\b/keyRetrieval"), MAL,
        "path segment 1 is"),
    BAD(M("client_registration_uri", "https://maf.example.com/maf/keyRetrieval"), MAL,
        "maf.m1.client_registration_uri = \"https://maf.example.com/maf/keyRetrieval\": path "
        "must end in /clientRegistrations"),
    BAD(M("client_registration_uri", "http://maf.example.com/clientRegistrations"), MAL,
        "maf.m1.client_registration_uri = \"http://maf.example.com/clientRegistrations\": not an "
        "https:// URI"),
    /* host:port */
    BAD(M("connect_to", "127.0.0.1"), MAL, "maf.m1.connect_to = \"127.0.0.1\": not HOST:PORT"),
    BAD(M("connect_to", "127.0.0.1:0"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "127.0.0.1:65536"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "127.0.0.1:+1"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "127.0.0.1:"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", ":443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "::1:443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "[::1]443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "[zz]:443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "[127.0.0.1]:443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "1.2.3:443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "maf_x.example.com:443"), MAL, "not HOST:PORT"),
    BAD(M("connect_to", "user@maf.example.com:443"), MAL, "not HOST:PORT"),
    BAD(M("registration_lifetime", "3599"), RNG,
        "maf.m1.registration_lifetime = \"3599\": out of range 3600..31622400"),
    BAD(M("registration_lifetime", "31622401"), RNG, "out of range 3600..31622400"),
    /* names, SQL identifiers, paths */
    BAD(G("node_id", "a b"), MAL, "node_id = \"a b\": not a name"),
    BAD(G("node_id", X16("n") X16("n") X16("n") X16("n") "n"), MAL, "\": not a name"),
    BAD(G("node_id", "n\xc3\xa9"), MAL, "node_id = \"n\\xc3\\xa9\": not a name"),
    BAD(G("db_schema", "Saef"), MAL, "db_schema = \"Saef\": not an unquoted SQL identifier"),
    BAD(G("db_schema", "1abc"), MAL, "db_schema = \"1abc\": not an unquoted SQL identifier"),
    BAD(G("db_schema", "a-b"), MAL, "db_schema = \"a-b\": not an unquoted SQL identifier"),
    BAD(G("db_schema", "saef;drop"), MAL, "db_schema = \"saef;drop\": not an unquoted SQL"),
    BAD(G("db_schema", X16("s") X16("s") X16("s") X16("s")), MAL,
        "\": not an unquoted SQL identifier"),
    BAD(M("ca_file", "etc/ca.pem"), MAL, "maf.m1.ca_file = \"etc/ca.pem\": not an absolute"),
    BAD(M("ca_file", "/etc/saef/"), MAL, "maf.m1.ca_file = \"/etc/saef/\": not an absolute"),
    BAD(M("client_cert", "/etc/\x01x.pem"), MAL,
        "maf.m1.client_cert = \"/etc/\\x01x.pem\": control character"),
    /* secret paths: reported, never shown */
    {.set = {M("client_key", "relative/secret-key-path.pem")},
     .rc = MAL,
     .want = "maf.m1.client_key = <secret>: not an absolute file path",
     .never = "secret-key-path"},
    {.set = {M("client_key", "/etc/saef/\x01secret-key-path")},
     .rc = MAL,
     .want = "maf.m1.client_key = <secret>: control character",
     .never = "secret-key-path"},
    {.set = {M("km_file", "km-secret-file"), M("kmid", "k@maf.example.com"), NO_CERT},
     .rc = MAL,
     .want = "maf.m1.km_file = <secret>: not an absolute file path",
     .never = "km-secret-file"},
    {.set = {G("kek_file", "kek-secret-file")},
     .rc = MAL,
     .want = "kek_file = <secret>: not an absolute file path",
     .never = "kek-secret-file"},
    {.set = {M("client_key", "/etc/other-secret-key")},
     .append = true,
     .rc = SAEF_E_CFG_DUPLICATE,
     .want = "maf.m1.client_key: given twice",
     .never = "secret-key"},
    {.set = {M("kmid", "k@maf.example.com"), M("km_file", "/etc/saef/km-secret-file")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.client_cert and maf.m1.kmid",
     .never = "secret"},
    /* a conninfo may carry a password by mistake: never shown either */
    {.set = {G("db_conninfo", "host=db password=hunter2")},
     .rc = MAL,
     .want = "db_conninfo = <not shown>: contains a password",
     .never = "hunter2"},
    {.set = {G("db_conninfo", "postgresql://u:hunter2@db/cse")},
     .rc = MAL,
     .want = "db_conninfo = <not shown>: contains a password",
     .never = "hunter2"},
    {.set = {G("db_conninfo", "host=db passwrd hunter2")},
     .rc = MAL,
     .want = "db_conninfo = <not shown>: not a libpq connection string",
     .never = "hunter2"},
    BAD(G("db_conninfo", "bogus_option=1"), MAL, "db_conninfo = <not shown>: not a libpq"),
    /* lists of originators */
    BAD(G("admin_originators", "/cse-in,,Cfoo"), MAL,
        "admin_originators = \"/cse-in,,Cfoo\": entry 2 is empty"),
    BAD(G("admin_originators", "Cfoo,"), MAL, "admin_originators = \"Cfoo,\": entry 2 is empty"),
    BAD(G("admin_originators", ",Cfoo"), MAL, "entry 1 is empty"),
    BAD(G("admin_originators", "Cfoo, not valid!"), MAL, "entry 2 is not a CSE-ID or AE-ID"),
    {.set = {G("admin_originators", "Cfoo, /cse-in, Cfoo")},
     .rc = SAEF_E_CFG_DUPLICATE,
     .want = "admin_originators = \"Cfoo, /cse-in, Cfoo\": entry 3 repeats entry 1"},
    /* unknown options and sections */
    BAD(G("bogus", "1"), SAEF_E_CFG_UNKNOWN, "bogus: unknown option"),
    BAD(G("CSE_ID", "/x"), SAEF_E_CFG_UNKNOWN, "CSE_ID: unknown option"),
    BAD(M("fqnd", "maf.example.com"), SAEF_E_CFG_UNKNOWN, "maf.m1.fqnd: unknown option"),
    BAD(G("fqdn", "maf.example.com"), SAEF_E_CFG_UNKNOWN,
        "fqdn: unknown option (it belongs in a maf.<label> section)"),
    BAD(M("cse_id", "/cse-in"), SAEF_E_CFG_UNKNOWN,
        "maf.m1.cse_id: unknown option (it belongs in the global section)"),
    BADV("saef", "cse_id", "/x", SAEF_E_CFG_UNKNOWN, "section \"saef\": unknown section"),
    BADV("mafs.m1", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"mafs.m1\": unknown"),
    BADV("maf", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"maf\": unknown"),
    BADV("MAF.m1", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"MAF.m1\": unknown"),
    BADV("global", "cse_id", "/x", SAEF_E_CFG_UNKNOWN, "section \"global\": unknown section"),
    BADV("maf.", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"maf.\": unknown"),
    BADV("maf.a b", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"maf.a b\": unknown"),
    BADV("maf.a.b", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN, "section \"maf.a.b\": unknown"),
    BADV("maf." X16("a") X16("a") "a", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN,
         "section \"maf.aaaaaaaaaaaaaaaa"),
    BADV("maf.m\xc3\xa9", "fqdn", "x.example.com", SAEF_E_CFG_UNKNOWN,
         "section \"maf.m\\xc3\\xa9\": unknown section"),
    /* an option given twice */
    {.set = {M("fqdn", "maf.example.com")},
     .append = true,
     .rc = SAEF_E_CFG_DUPLICATE,
     .want = "maf.m1.fqdn: given twice"},
    {.set = {G("cache_size", "100"), G("cache_size", "100")},
     .append = true,
     .rc = SAEF_E_CFG_DUPLICATE,
     .want = "cache_size: given twice"},
/* two MAF sections, one MAF */
#define SECOND_MAF(f)                                                                              \
    {                                                                                              \
        .set = {M2("fqdn", f), M2("key_retrieval_uri", "https://maf.example.com/keyRetrieval"),    \
                M2("kmid", "k@maf.example.com"), M2("km_file", "/etc/saef/km2")},                  \
        .rc = SAEF_E_CFG_DUPLICATE,                                                                \
        .want = "maf.m2.fqdn = \"maf.example.com\": the same MAF as maf.m1.fqdn"                   \
    }
    SECOND_MAF("maf.example.com"),
    SECOND_MAF("MAF.EXAMPLE.COM"),
    SECOND_MAF("maf.example.com."),
    SECOND_MAF("Maf.Example.Com."),
    /* required options and sections */
    BAD(M("fqdn", DEL), SAEF_E_CFG_MISSING, "maf.m1.fqdn: required option missing"),
    BAD(M("key_retrieval_uri", DEL), SAEF_E_CFG_MISSING,
        "maf.m1.key_retrieval_uri: required option missing"),
    {.set = {M("fqdn", DEL), M("key_retrieval_uri", DEL), NO_CERT},
     .rc = SAEF_E_CFG_MISSING,
     .want = "maf.<label>: no MAF section"},
    BAD(G("cse_id", DEL), SAEF_E_CFG_MISSING, "cse_id: missing, and the host passes no CSE-ID"),
    {.set = {G("cse_id", DEL)}, .host = "", .rc = SAEF_E_CFG_MISSING, .want = "cse_id: missing"},
    /* authentication modes */
    {.set = {NO_CERT}, .rc = SAEF_E_CFG_MISSING, .want = "maf.m1: no credentials for the MAF"},
    {.set = {M("km_file", "/etc/saef/km")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.client_cert and maf.m1.km_file: choose one"},
    {.set = {M("client_cert", DEL), M("client_key", DEL), M("kmid", "k@maf.example.com"),
             M("km_file", "/etc/saef/km")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.ca_file and maf.m1.kmid"},
    BAD(M("ca_file", DEL), SAEF_E_CFG_CONFLICT,
        "maf.m1.ca_file: missing; certificate mode (maf.m1.client_cert) needs"),
    BAD(M("client_key", DEL), SAEF_E_CFG_CONFLICT, "maf.m1.client_key: missing; certificate"),
    BAD(M("client_cert", DEL), SAEF_E_CFG_CONFLICT,
        "maf.m1.client_cert: missing; certificate mode (maf.m1.client_key)"),
    {.set = {NO_CERT, M("kmid", "k@maf.example.com")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.km_file: missing; PSK mode (maf.m1.kmid) needs kmid and km_file"},
    {.set = {NO_CERT, M("km_file", "/etc/saef/km")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.kmid: missing; PSK mode (maf.m1.km_file)"},
    {.set = {NO_CERT, M("kmid", "k@other.example.com"), M("km_file", "/etc/saef/km")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.kmid = \"k@other.example.com\": its FQDN part must be maf.m1.fqdn"},
    /* partners */
    BAD(M("register", "true"), SAEF_E_CFG_CONFLICT,
        "maf.m1.register = true: needs maf.m1.client_registration_uri"),
    {.set = {M("register", "true"),
             M("client_registration_uri", "https://maf.example.com/clientRegistrations")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1.register = true: needs maf.m1.admin_fqdn"},
    BAD(G("key_vault", "true"), SAEF_E_CFG_CONFLICT, "key_vault = true: needs db_conninfo"),
    {.set = {G("key_vault", "true"), G("db_conninfo", "dbname=cse")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "key_vault = true: needs kek_file"},
    {.set = {G("key_vault", "true"), G("kek_file", "/etc/saef/kek")},
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "key_vault = true: needs db_conninfo"},
    BAD(M("request_timeout_ms", "1000"), SAEF_E_CFG_CONFLICT,
        "maf.m1.request_timeout_ms = 1000: shorter than maf.m1.connect_timeout_ms = 2000"),
    /* a certificate-mode MAF authenticates our absolute CSE-ID */
    BAD(G("cse_id", "/cse-in"), SAEF_E_CFG_CONFLICT,
        "maf.m1: certificate mode sends our CSE-ID to the MAF as X-M2M-Origin, which must be "
        "absolute (//sp-domain/cse-id); cse_id is \"/cse-in\""),
    {.set = {G("cse_id", DEL)},
     .host = "/cse-in",
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "maf.m1: certificate mode"},
    /* our CSE-ID and the host's */
    {.set = {G("cse_id", "/cse-in")},
     .host = "/cse-other",
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "cse_id = \"/cse-in\": differs from the host's CSE-ID \"/cse-other\""},
    {.set = {G("cse_id", "//sp-a.example.com/cse-in")},
     .host = "//sp-b.example.com/cse-in",
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "cse_id = \"//sp-a.example.com/cse-in\": differs from the host's CSE-ID"},
    {.set = {G("cse_id", "//sp.example.com/cse-a")},
     .host = "/cse-b",
     .rc = SAEF_E_CFG_CONFLICT,
     .want = "differs from the host's CSE-ID \"/cse-b\""},
    {.set = {G("cse_id", DEL)},
     .host = "not-a-cse",
     .rc = MAL,
     .want = "host CSE-ID \"not-a-cse\": not a CSE-ID"},
    {.set = {G("cse_id", "/cse-in")},
     .host = "/cse-in/CAdmin",
     .rc = MAL,
     .want = "host CSE-ID \"/cse-in/CAdmin\": not a CSE-ID"},
};
const size_t n_bad = sizeof(bad) / sizeof(bad[0]);

/* ---- INI files as the reference host reads them ---- */

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static const char *keep(ini_t *ini, const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    ini->strings = realloc(ini->strings, (ini->n_strings + 1) * sizeof(char *));
    assert_non_null(ini->strings);
    ini->strings[ini->n_strings++] = d;
    return d;
}

/* [saef] -> section "", [saef.X] -> section "X", any other section is the host's: skipped. */
void ini_load(const char *name, ini_t *ini)
{
    const char *dir = getenv("top_srcdir");
    char path[1024], line[1024];
    const char *section = NULL;
    FILE *f;

    memset(ini, 0, sizeof(*ini));
    snprintf(path, sizeof(path), "%s/contrib/examples/%s", dir != NULL ? dir : TOP_SRCDIR, name);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *l = trim(line), *eq;

        if (*l == '\0' || *l == ';' || *l == '#')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');

            assert_non_null(end);
            *end = '\0';
            l++;
            section = strcmp(l, "saef") == 0        ? keep(ini, "")
                      : strncmp(l, "saef.", 5) == 0 ? keep(ini, l + 5)
                                                    : NULL;
            continue;
        }
        if (section == NULL)
            continue;
        eq = strchr(l, '=');
        assert_non_null(eq);
        *eq = '\0';
        ini->pairs = realloc(ini->pairs, (ini->n + 1) * sizeof(saef_config_pair_t));
        assert_non_null(ini->pairs);
        ini->pairs[ini->n++] =
            (saef_config_pair_t){section, keep(ini, trim(l)), keep(ini, trim(eq + 1))};
    }
    fclose(f);
    assert_true(ini->n > 0);
}

void ini_free(ini_t *ini)
{
    size_t i;

    for (i = 0; i < ini->n_strings; i++)
        free(ini->strings[i]);
    free(ini->strings);
    free(ini->pairs);
    memset(ini, 0, sizeof(*ini));
}
