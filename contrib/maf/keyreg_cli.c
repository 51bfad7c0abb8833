/*
 * saef-keyreg's command line: options in (parsed, checked, secrets read from their files), text
 * out (the registered key, ready-to-paste command lines of stock clients playing Entity A, env
 * lines), and the small text helpers behind both.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keyreg_internal.h"
#include "saef_ascii.h"
#include "saef_id.h"
#include "saef_secret.h"

#define KR_LABEL_LEN_MAX 128
#define KR_KM_MIN 16 /* Km length range (binding 3.3) */
#define KR_MAF_FQDN_MAX 190 /* so that every Key Identifier fits 255 bytes (binding 2) */
#define KR_LIFETIME_MAX (10L * 366 * 24 * 3600)
#define KR_TIMEOUT_MAX 600

enum kr_opt {
    OPT_MAF = 256,
    OPT_CONNECT_TO,
    OPT_CA,
    OPT_CERT,
    OPT_KEY,
    OPT_KMID,
    OPT_KM_FILE,
    OPT_ORIGIN,
    OPT_TLS12,
    OPT_TLS13,
    OPT_TIMEOUT,
    OPT_FORMAT,
    OPT_VERBOSE,
    OPT_ADMIN_FQDN,
    OPT_LIFETIME,
    OPT_LABEL,
    OPT_CLEAR_LABELS,
    OPT_TARGET,
    OPT_GENERATE,
    OPT_EXPORTER,
    OPT_KEY_HEX,
    OPT_REGISTER,
    OPT_ENTITY_B,
    OPT_ENTITY_B_DTLS,
    OPT_HELP,
    OPT_VERSION,
    OPT_END
};

/* Which commands each option applies to; any other use is a usage error. */
static const struct {
    int id;
    const char *name;
    unsigned cmds;
} opt_scope[] = {
    {OPT_ADMIN_FQDN, "--admin-fqdn", CMD_REGISTER | CMD_KEY},
    {OPT_LIFETIME, "--lifetime", CMD_REGISTER | CMD_KEY | CMD_UPDATE},
    {OPT_LABEL, "--label", CMD_REGISTER | CMD_KEY | CMD_UPDATE},
    {OPT_CLEAR_LABELS, "--clear-labels", CMD_UPDATE},
    {OPT_TARGET, "--target", CMD_KEY | CMD_UPDATE},
    {OPT_GENERATE, "--generate", CMD_KEY},
    {OPT_EXPORTER, "--exporter", CMD_KEY},
    {OPT_KEY_HEX, "--key-hex", CMD_KEY},
    {OPT_REGISTER, "--register", CMD_KEY},
    {OPT_ENTITY_B, "--entity-b", CMD_KEY},
    {OPT_ENTITY_B_DTLS, "--entity-b-dtls", CMD_KEY},
};

static const struct option long_opts[] = {
    {"maf", required_argument, NULL, OPT_MAF},
    {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
    {"ca", required_argument, NULL, OPT_CA},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"kmid", required_argument, NULL, OPT_KMID},
    {"km-file", required_argument, NULL, OPT_KM_FILE},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"tls1.2", no_argument, NULL, OPT_TLS12},
    {"tls1.3", no_argument, NULL, OPT_TLS13},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"admin-fqdn", required_argument, NULL, OPT_ADMIN_FQDN},
    {"lifetime", required_argument, NULL, OPT_LIFETIME},
    {"label", required_argument, NULL, OPT_LABEL},
    {"clear-labels", no_argument, NULL, OPT_CLEAR_LABELS},
    {"target", required_argument, NULL, OPT_TARGET},
    {"generate", no_argument, NULL, OPT_GENERATE},
    {"exporter", no_argument, NULL, OPT_EXPORTER},
    {"key-hex", required_argument, NULL, OPT_KEY_HEX},
    {"register", no_argument, NULL, OPT_REGISTER},
    {"entity-b", required_argument, NULL, OPT_ENTITY_B},
    {"entity-b-dtls", required_argument, NULL, OPT_ENTITY_B_DTLS},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

_Static_assert(OPT_END - OPT_MAF <= KR_OPT_SLOTS, "kr_opts_t.seen is too small");

static void usage(FILE *f)
{
    fputs(
        "usage: saef-keyreg COMMAND --maf URI (CERTIFICATE | PSK) [OPTIONS]\n"
        "\n"
        "Entity A's side of the MAF-based SAEF (oneM2M TS-0003 8.2.2.3): register with a MAF,\n"
        "register a key Kc for Entity B, and print what a client needs to open the SAEF\n"
        "handshake. This is a test and diagnostic tool: `key` PRINTS THE SECRET KEY Kc on\n"
        "standard output (and nowhere else) so that stock clients can play Entity A.\n"
        "\n"
        "Commands:\n"
        "  register          client registration (TS-0003 8.8.2.3); prints mafClientRegID\n"
        "                    and its expiry. Needs --admin-fqdn.\n"
        "  key               key registration (8.8.2.7) for one target; needs --target,\n"
        "                    --admin-fqdn and one of --generate, --exporter, --key-hex.\n"
        "                    Prints the Key Identifier, Kc, its expiry and client command lines.\n"
        "  update ID         key registration update (8.8.2.9): --lifetime, --target, --label,\n"
        "                    --clear-labels. ID is the RelativeKeyID or the Key Identifier.\n"
        "  delete ID         key de-registration (8.8.2.10).\n"
        "\n"
        "The MAF:\n"
        "  --maf URI         base URI https://MAF-FQDN[:PORT][/PATH] (a Key or Client\n"
        "                    Registration URI is accepted too); its host is the MAF-FQDN\n"
        "  --connect-to HOST:PORT  connect there instead; the MAF certificate is still\n"
        "                    checked against the MAF-FQDN (SNI too)\n"
        "  --tls1.2 | --tls1.3  use only this TLS version (default: 1.2 or 1.3)\n"
        "  --timeout SEC     connect and request timeout (default 10)\n"
        "  --origin ID       X-M2M-Origin: our CSE-ID/AE-ID; in PSK mode the default is the\n"
        "                    KmID\n"
        "CERTIFICATE mode (mutual TLS):\n"
        "  --ca FILE         the MAF's trust anchors (PEM); the system store is never used\n"
        "  --cert FILE       our certificate (PEM), --key FILE its private key (mode 0600)\n"
        "PSK mode (TLS-PSK; a MAF that presents a certificate is refused):\n"
        "  --kmid KMID       MAF_RELATIVE_KmID@MAF-FQDN\n"
        "  --km-file FILE    Km (mode 0600): 16..64 bytes, raw or as hex text\n"
        "\n"
        "register / key:\n"
        "  --admin-fqdn FQDN administrating stakeholder (adminFQDN)\n"
        "  --lifetime SEC    requested lifetime: expirationTime = now + SEC (default 86400\n"
        "                    for register, 3600 for key); the MAF may grant less\n"
        "  --label TEXT      a label (repeatable, at most 16)\n"
        "key:\n"
        "  --target ID       Absolute CSE-ID or AE-ID of Entity B (e.g. //sp.example/in-cse)\n"
        "  --generate        Kc = 32 random bytes, sent to the MAF as keyValue\n"
        "  --exporter        no keyValue: both sides derive Kc from the TLS exporter of the\n"
        "                    MAF connection; the MAF's relativeKeyID must equal our KcID,\n"
        "                    otherwise the registration is deleted and the command fails\n"
        "  --key-hex HEX     register this 32-byte key (64 hex digits). FOR TESTS ONLY: a\n"
        "                    key on a command line is visible to other local users; a\n"
        "                    printable key lets coap-client's -k option use it\n"
        "  --register        do the client registration first, on the same connection\n"
        "  --entity-b HOST:PORT       Entity B's TLS endpoint for the printed command lines\n"
        "  --entity-b-dtls HOST:PORT  its DTLS endpoint (default: as --entity-b)\n"
        "\n"
        "Output:\n"
        "  --format text|env text for humans (default), or NAME=VALUE lines for sh:\n"
        "                    key: KEY_ID REL_KEY_ID MAF_FQDN KC_HEX [KCID_HEX] EXPIRES TARGET\n"
        "                    SOURCE_ID KEY_SOURCE MAF_TLS; register: REG_ID EXPIRES\n"
        "                    MAF_CLIENT_ID ADMIN_FQDN; update: KEY_ID REL_KEY_ID EXPIRES\n"
        "                    TARGET; delete: DELETED\n"
        "  -v, --verbose     one line per request and response on stderr (never a body)\n"
        "  -h, --help        this text\n"
        "\n"
        "Exit status: 0 success; 1 the MAF refused or failed (its HTTP status, X-M2M-RSC and\n"
        "m2m:dbg are printed), TLS or connection failure, protocol error, exporter mismatch;\n"
        "2 usage error or unusable local file.\n"
        "See docs/entity-a.md and docs/maf-binding.md.\n",
        f);
}

/* Report a usage error; returns KR_EXIT_USAGE. */
int kr_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("saef-keyreg: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see saef-keyreg --help)\n", stderr);
    return KR_EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return false;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool visible_ascii(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* Option values that can be checked without files or network. */
static int check_opt_value(kr_opts_t *o, int id, char *arg)
{
    switch (id) {
    case OPT_TIMEOUT:
        if (!parse_long(arg, 1, KR_TIMEOUT_MAX, &o->timeout_s))
            return kr_usage_error("--timeout wants 1..600 seconds, not \"%s\"", arg);
        break;
    case OPT_LIFETIME:
        if (!parse_long(arg, 1, KR_LIFETIME_MAX, &o->lifetime))
            return kr_usage_error("--lifetime wants a number of seconds (1..10 years), not \"%s\"",
                                  arg);
        break;
    case OPT_FORMAT:
        if (strcmp(arg, "env") != 0 && strcmp(arg, "text") != 0)
            return kr_usage_error("--format is text or env, not \"%s\"", arg);
        o->env = strcmp(arg, "env") == 0;
        break;
    case OPT_LABEL:
        if (o->nlabels == KR_LABELS_MAX)
            return kr_usage_error("at most 16 labels");
        if (!visible_ascii(arg, KR_LABEL_LEN_MAX))
            return kr_usage_error("label \"%s\" must be 1-128 visible ASCII characters", arg);
        o->labels[o->nlabels++] = arg;
        break;
    case OPT_KEY_HEX:
        if (!kr_unhex(arg, strlen(arg), o->given_kc, KR_KC_LEN)) {
            OPENSSL_cleanse(arg, strlen(arg));
            return kr_usage_error("--key-hex wants exactly 64 hex digits (32 bytes)");
        }
        /* Shorten the key's life in /proc/PID/cmdline. */
        OPENSSL_cleanse(arg, strlen(arg));
        o->key_src = KS_HEX;
        break;
    case OPT_ENTITY_B:
    case OPT_ENTITY_B_DTLS:
        if (!kr_endpoint_parse(arg, id == OPT_ENTITY_B ? &o->entity_b : &o->entity_b_dtls))
            return kr_usage_error("Entity B endpoint \"%s\" is not HOST:PORT", arg);
        if (id == OPT_ENTITY_B)
            o->have_entity_b = true;
        else
            o->have_entity_b_dtls = true;
        break;
    default:
        break;
    }
    return 0;
}

static const char *opt_name(int id)
{
    for (const struct option *lo = long_opts; lo->name != NULL; lo++)
        if (lo->val == id)
            return lo->name;
    return "?";
}

static int parse_args(int argc, char **argv, kr_opts_t *o)
{
    int c, rc;

    o->timeout_s = 10;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hv", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (c == OPT_VERSION) {
            printf("saef-keyreg (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            exit(0);
        }
        if (c == 'v')
            c = OPT_VERBOSE;
        if (c == '?')
            return kr_usage_error("unknown option %s", argv[optind - 1]);
        if (c == ':')
            return kr_usage_error("option %s needs a value", argv[optind - 1]);
        if (o->seen[c - OPT_MAF] && c != OPT_LABEL)
            return kr_usage_error("option --%s given twice", opt_name(c));
        o->seen[c - OPT_MAF] = true;
        switch (c) {
        case OPT_MAF:
            o->maf = optarg;
            break;
        case OPT_CONNECT_TO:
            o->connect_to = optarg;
            break;
        case OPT_CA:
            o->ca = optarg;
            break;
        case OPT_CERT:
            o->cert = optarg;
            break;
        case OPT_KEY:
            o->key = optarg;
            break;
        case OPT_KMID:
            o->kmid = optarg;
            break;
        case OPT_KM_FILE:
            o->km_file = optarg;
            break;
        case OPT_ORIGIN:
            o->origin = optarg;
            break;
        case OPT_ADMIN_FQDN:
            o->admin_fqdn = optarg;
            break;
        case OPT_TARGET:
            o->target = optarg;
            break;
        default:
            if ((rc = check_opt_value(o, c, optarg)) != 0)
                return rc;
            break;
        }
    }
    /* Flags: their presence is all there is to them. */
    o->tls = o->seen[OPT_TLS12 - OPT_MAF]   ? KR_TLS_12
             : o->seen[OPT_TLS13 - OPT_MAF] ? KR_TLS_13
                                            : KR_TLS_ANY;
    o->verbose = o->seen[OPT_VERBOSE - OPT_MAF];
    o->clear_labels = o->seen[OPT_CLEAR_LABELS - OPT_MAF];
    o->do_register = o->seen[OPT_REGISTER - OPT_MAF];
    if (o->seen[OPT_GENERATE - OPT_MAF])
        o->key_src = KS_GENERATE;
    if (o->seen[OPT_EXPORTER - OPT_MAF])
        o->key_src = KS_EXPORTER;
    if (optind >= argc)
        return kr_usage_error("no command given");
    if (strcmp(argv[optind], "register") == 0)
        o->cmd = CMD_REGISTER;
    else if (strcmp(argv[optind], "key") == 0)
        o->cmd = CMD_KEY;
    else if (strcmp(argv[optind], "update") == 0)
        o->cmd = CMD_UPDATE;
    else if (strcmp(argv[optind], "delete") == 0)
        o->cmd = CMD_DELETE;
    else if (strcmp(argv[optind], "retrieve") == 0)
        return kr_usage_error("%s is Entity B's procedure, not Entity A's", "key retrieval");
    else
        return kr_usage_error("unknown command \"%s\"", argv[optind]);
    optind++;
    if (o->cmd & (CMD_UPDATE | CMD_DELETE)) {
        if (optind >= argc)
            return kr_usage_error("%s needs the RelativeKeyID or Key Identifier", argv[optind - 1]);
        o->id_arg = argv[optind++];
    }
    if (optind < argc)
        return kr_usage_error("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* Cross-option rules that need the command. */
static int check_opts(kr_opts_t *o)
{
    for (size_t i = 0; i < sizeof(opt_scope) / sizeof(opt_scope[0]); i++)
        if (o->seen[opt_scope[i].id - OPT_MAF] && !(opt_scope[i].cmds & o->cmd))
            return kr_usage_error("option %s does not apply to this command", opt_scope[i].name);
    if (o->maf == NULL)
        return kr_usage_error("--maf URI is required");
    if (o->seen[OPT_TLS12 - OPT_MAF] && o->seen[OPT_TLS13 - OPT_MAF])
        return kr_usage_error("give --tls1.2 or --tls1.3, not both");
    if (o->kmid != NULL || o->km_file != NULL) {
        if (o->kmid == NULL || o->km_file == NULL)
            return kr_usage_error("PSK mode needs both --kmid and --km-file");
        if (o->ca != NULL || o->cert != NULL || o->key != NULL)
            return kr_usage_error("choose certificate mode (--ca --cert --key) or PSK mode "
                                  "(--kmid --km-file)");
    } else if (o->ca == NULL || o->cert == NULL || o->key == NULL) {
        return kr_usage_error("give --ca, --cert and --key (certificate mode) or --kmid and "
                              "--km-file (PSK mode)");
    }
    if (o->origin == NULL && o->kmid == NULL)
        return kr_usage_error("--origin (our CSE-ID or AE-ID) is required in certificate mode");
    if (o->origin != NULL && !visible_ascii(o->origin, SAEF_ID_IDENTITY_MAX))
        return kr_usage_error("--origin \"%s\" must be 1-255 visible ASCII characters", o->origin);
    if ((o->cmd & (CMD_REGISTER | CMD_KEY)) && o->admin_fqdn == NULL)
        return kr_usage_error("--admin-fqdn is required");
    if (o->admin_fqdn != NULL &&
        saef_id_fqdn_check(o->admin_fqdn, strlen(o->admin_fqdn), NULL) != SAEF_OK)
        return kr_usage_error("--admin-fqdn \"%s\" is not an FQDN", o->admin_fqdn);
    if (o->cmd == CMD_KEY && o->target == NULL)
        return kr_usage_error("--target (Entity B's Absolute CSE-ID or AE-ID) is required");
    if (o->target != NULL) {
        saef_m2m_id_t id;

        if (saef_id_m2m_classify(o->target, strlen(o->target), &id) != SAEF_OK ||
            (id.kind != SAEF_M2M_ID_CSE_ABSOLUTE && id.kind != SAEF_M2M_ID_AE_ABSOLUTE))
            return kr_usage_error("--target \"%s\" is not an Absolute CSE-ID or AE-ID "
                                  "(//SP-domain/CSE-ID[/AE-ID])",
                                  o->target);
    }
    if (o->cmd == CMD_KEY) {
        unsigned nsrc = (unsigned)o->seen[OPT_GENERATE - OPT_MAF] +
                        o->seen[OPT_EXPORTER - OPT_MAF] + o->seen[OPT_KEY_HEX - OPT_MAF];
        if (nsrc != 1)
            return kr_usage_error("key needs exactly one of --generate, --exporter, --key-hex");
    }
    if (o->seen[OPT_CLEAR_LABELS - OPT_MAF] && o->nlabels > 0)
        return kr_usage_error("--clear-labels and --label exclude each other");
    if (o->cmd == CMD_UPDATE && !o->seen[OPT_LIFETIME - OPT_MAF] && o->target == NULL &&
        o->nlabels == 0 && !o->clear_labels)
        return kr_usage_error("update needs --lifetime, --target, --label or --clear-labels");
    o->lifetime_set = o->seen[OPT_LIFETIME - OPT_MAF];
    if (!o->lifetime_set)
        o->lifetime = o->cmd == CMD_REGISTER ? 86400 : 3600;
    return 0;
}

static bool seg_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
}

/*
 * The base URI {B} and the MAF-FQDN from --maf (binding 4).  A configured endpoint URI (one of
 * the fixed suffixes) is reduced to {B}.  Rejected: another scheme, userinfo, query, fragment,
 * '%', an IP literal, a malformed path.
 */
static int parse_maf_uri(kr_run_t *r, const char *uri)
{
    static const char *const suffixes[] = {"/keyRegistrations", "/clientRegistrations",
                                           "/keyRetrieval", "/health"};
    const char *auth, *slash, *colon, *path;
    size_t alen, hlen, plen;
    saef_span_t host;
    saef_rc_t rc;
    long port = 0;

    if (strncmp(uri, "https://", 8) != 0)
        return kr_usage_error("--maf \"%s\" must start with https://", uri);
    if (strpbrk(uri, "?#% \t") != NULL)
        return kr_usage_error("--maf \"%s\": no query, fragment, '%%' or blank allowed", uri);
    auth = uri + 8;
    slash = strchr(auth, '/');
    alen = slash != NULL ? (size_t)(slash - auth) : strlen(auth);
    if (memchr(auth, '@', alen) != NULL)
        return kr_usage_error("--maf \"%s\": no userinfo allowed", uri);
    if (alen > 0 && auth[0] == '[')
        return kr_usage_error("--maf \"%s\": the host must be the MAF-FQDN, not an IP address",
                              uri);
    colon = memchr(auth, ':', alen);
    hlen = colon != NULL ? (size_t)(colon - auth) : alen;
    rc = saef_id_fqdn_check(auth, hlen, &host);
    if (rc != SAEF_OK) {
        fprintf(stderr, "saef-keyreg: --maf: host \"%.*s\" is not a MAF-FQDN: %s\n", (int)hlen,
                auth, saef_strerror(rc));
        return KR_EXIT_USAGE;
    }
    if (host.len > KR_MAF_FQDN_MAX)
        return kr_usage_error("--maf \"%s\": the MAF-FQDN may have at most 190 characters", uri);
    if (colon != NULL) {
        char portbuf[8];
        size_t n = alen - hlen - 1;

        if (n == 0 || n >= sizeof(portbuf))
            return kr_usage_error("--maf \"%s\": bad port", uri);
        memcpy(portbuf, colon + 1, n);
        portbuf[n] = '\0';
        if (!parse_long(portbuf, 1, 65535, &port))
            return kr_usage_error("--maf \"%s\": bad port", uri);
    }
    path = slash != NULL ? slash : "";
    plen = strlen(path);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sl = strlen(suffixes[i]);

        if (plen >= sl && strcmp(path + plen - sl, suffixes[i]) == 0) {
            plen -= sl;
            break;
        }
    }
    /* basePath: empty or /segment... with unreserved characters, no "." or ".." segment. */
    for (size_t i = 0; i < plen;) {
        size_t j = i + 1;

        if (path[i] != '/')
            return kr_usage_error("--maf \"%s\": malformed path", uri);
        while (j < plen && path[j] != '/') {
            if (!seg_char_ok(path[j]))
                return kr_usage_error("--maf \"%s\": malformed path", uri);
            j++;
        }
        if (j == i + 1 || (j == i + 2 && path[i + 1] == '.') ||
            (j == i + 3 && path[i + 1] == '.' && path[i + 2] == '.'))
            return kr_usage_error("--maf \"%s\": empty, '.' or '..' path segment (or trailing "
                                  "'/')",
                                  uri);
        i = j;
    }
    memcpy(r->maf_fqdn, host.ptr, host.len);
    r->maf_fqdn[host.len] = '\0';
    if (port != 0)
        snprintf(r->base_uri, sizeof(r->base_uri), "https://%s:%ld%.*s", r->maf_fqdn, port,
                 (int)plen, path);
    else
        snprintf(r->base_uri, sizeof(r->base_uri), "https://%s%.*s", r->maf_fqdn, (int)plen, path);
    return 0;
}

/* Km from its file, read as the module reads its own (hex text or the raw bytes). */
static int load_km(kr_run_t *r, const char *path)
{
    char detail[512];

    if (saef_secret_read_key(path, KR_KM_MIN, KR_KM_MAX, r->km, sizeof(r->km), &r->km_len, detail,
                             sizeof(detail)) != SAEF_OK) {
        fprintf(stderr, "saef-keyreg: --km-file: %s\n", detail);
        return KR_EXIT_USAGE;
    }
    return 0;
}

static int prepare(kr_run_t *r)
{
    kr_opts_t *o = r->o;
    int ex;

    if ((ex = parse_maf_uri(r, o->maf)) != 0)
        return ex;
    if (o->connect_to != NULL) {
        kr_endpoint_t ep;

        if (!kr_endpoint_parse(o->connect_to, &ep))
            return kr_usage_error("--connect-to \"%s\" is not HOST:PORT", o->connect_to);
    }
    if (o->kmid != NULL) {
        saef_id_scoped_t k;

        if (saef_id_kmid_parse(o->kmid, strlen(o->kmid), &k) != SAEF_OK)
            return kr_usage_error("--kmid \"%s\" is not a KmID (MAF_RELATIVE_KmID@MAF-FQDN)",
                                  o->kmid);
        if (!saef_id_fqdn_equal(k.fqdn.ptr, k.fqdn.len, r->maf_fqdn, strlen(r->maf_fqdn)))
            return kr_usage_error("--kmid \"%s\": its FQDN part is not the MAF-FQDN of --maf",
                                  o->kmid);
        if ((ex = load_km(r, o->km_file)) != 0)
            return ex;
        r->conf.kmid = o->kmid;
        r->conf.km = r->km;
        r->conf.km_len = r->km_len;
    } else {
        char detail[512];

        if (access(o->ca, R_OK) != 0)
            return kr_usage_error("--ca %s: cannot read the file", o->ca);
        if (access(o->cert, R_OK) != 0)
            return kr_usage_error("--cert %s: cannot read the file", o->cert);
        if (saef_secret_read(o->key, 1, SAEF_SECRET_FILE_MAX, &r->key_pem, &r->key_pem_len, detail,
                             sizeof(detail)) != SAEF_OK) {
            fprintf(stderr, "saef-keyreg: --key: %s\n", detail);
            return KR_EXIT_USAGE;
        }
        r->conf.ca_file = o->ca;
        r->conf.cert_file = o->cert;
        r->conf.key_pem = r->key_pem;
        r->conf.key_pem_len = r->key_pem_len;
    }
    r->conf.maf_uri = r->base_uri;
    r->conf.maf_fqdn = r->maf_fqdn;
    r->conf.connect_to = o->connect_to;
    r->conf.origin = o->origin != NULL ? o->origin : o->kmid;
    r->conf.tls = o->tls;
    r->conf.timeout_s = o->timeout_s;
    r->conf.trace = o->verbose ? stderr : NULL;
    return 0;
}

int kr_cli_setup(int argc, char **argv, kr_run_t *r)
{
    int ex;

    if ((ex = parse_args(argc, argv, r->o)) != 0 || (ex = check_opts(r->o)) != 0)
        return ex;
    return prepare(r);
}

void kr_run_wipe(kr_run_t *r)
{
    saef_secret_free(r->key_pem, r->key_pem_len);
    r->key_pem = NULL;
    r->key_pem_len = 0;
    OPENSSL_cleanse(r->km, sizeof(r->km));
    if (r->o != NULL)
        OPENSSL_cleanse(r->o->given_kc, sizeof(r->o->given_kc));
}

/* --- output --- */

/* Stock clients' limits (libcoap 4.3.1 coap-client): -k takes an ASCII key of at most 64 bytes
 * (no hex form), -u an identity of at most 128 characters. */
#define COAP_CLIENT_KEY_MAX 64
#define COAP_CLIENT_ID_MAX 128

/* gnutls-cli needs +SHA256 for the TS-0003 mandatory suite PSK-AES128-CBC-SHA256. */
#define GNUTLS_PRIO_12 "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+ECDHE-PSK:+SHA256"
#define GNUTLS_PRIO_13 "NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK:+ECDHE-PSK:+DHE-PSK"

void kr_hex(const uint8_t *in, size_t len, bool upper, char *out)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

bool kr_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
    return saef_hex_decode(hex, hexlen, out, outlen);
}

bool kr_rel_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool kr_endpoint_parse(const char *s, kr_endpoint_t *out)
{
    const char *colon = strrchr(s, ':');
    size_t hostlen, portlen;
    unsigned long port = 0;

    if (colon == NULL)
        return false;
    hostlen = (size_t)(colon - s);
    portlen = strlen(colon + 1);
    if (hostlen == 0 || hostlen >= sizeof(out->host) || portlen == 0 || portlen > 5)
        return false;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return false;
    /* A host name, an IPv4 address or a bracketed IPv6 address: nothing a shell would touch. */
    if (s[0] == '[') {
        if (hostlen < 3 || s[hostlen - 1] != ']' ||
            strspn(s + 1, "0123456789abcdefABCDEF:.") != hostlen - 2)
            return false;
    } else if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") !=
               hostlen) {
        return false;
    }
    memcpy(out->host, s, hostlen);
    out->host[hostlen] = '\0';
    memcpy(out->port, colon + 1, portlen + 1);
    return true;
}

static bool sh_safe(const char *v)
{
    return *v != '\0' &&
           strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./_-") ==
               strlen(v);
}

/* Write v as one sh word: as is when safe, else single-quoted with ' written as '\''. */
static void sh_word(FILE *f, const char *v, size_t len)
{
    fputc('\'', f);
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\'')
            fputs("'\\''", f);
        else
            fputc(v[i], f);
    }
    fputc('\'', f);
}

void kr_print_env(FILE *f, const char *name, const char *value)
{
    fprintf(f, "%s=", name);
    if (sh_safe(value))
        fputs(value, f);
    else
        sh_word(f, value, strlen(value));
    fputc('\n', f);
}

/* The host as gnutls-cli wants it: without IPv6 brackets. */
static void bare_host(const kr_endpoint_t *ep, char *out, size_t outlen)
{
    size_t n = strlen(ep->host);

    if (n >= 2 && ep->host[0] == '[')
        snprintf(out, outlen, "%.*s", (int)(n - 2), ep->host + 1);
    else
        snprintf(out, outlen, "%s", ep->host);
}

static void print_clients(FILE *f, const kr_key_info_t *k, const char *kc_hex,
                          const kr_endpoint_t *tls_ep, const kr_endpoint_t *dtls_ep)
{
    static const kr_endpoint_t placeholder = {.host = "127.0.0.1", .port = "PORT"};
    const kr_endpoint_t *t = tls_ep != NULL ? tls_ep : &placeholder;
    const kr_endpoint_t *d = dtls_ep != NULL ? dtls_ep : t;
    char host[256];
    size_t idlen = strlen(k->key_id);
    bool printable = true;

    fprintf(f, "\nEntity A with stock clients (TLS: Entity B at %s:%s, DTLS: %s:%s):\n", t->host,
            t->port, d->host, d->port);
    if (tls_ep == NULL)
        fprintf(f, "  (replace PORT, or give --entity-b HOST:PORT)\n");
    fprintf(f, "  openssl s_client -connect %s:%s -tls1_2 -psk_identity %s -psk %s\n", t->host,
            t->port, k->key_id, kc_hex);
    fprintf(f, "  openssl s_client -connect %s:%s -tls1_3 -psk_identity %s -psk %s\n", t->host,
            t->port, k->key_id, kc_hex);
    fprintf(f, "  openssl s_client -connect %s:%s -dtls1_2 -psk_identity %s -psk %s\n", d->host,
            d->port, k->key_id, kc_hex);
    bare_host(t, host, sizeof(host));
    fprintf(f,
            "  gnutls-cli --no-ca-verification -p %s %s --pskusername %s --pskkey %s "
            "--priority '%s'\n",
            t->port, host, k->key_id, kc_hex, GNUTLS_PRIO_12);
    fprintf(f,
            "  gnutls-cli --no-ca-verification -p %s %s --pskusername %s --pskkey %s "
            "--priority '%s'\n",
            t->port, host, k->key_id, kc_hex, GNUTLS_PRIO_13);

    /* coap-client takes the key as text: only a key of printable ASCII can be given. */
    for (size_t i = 0; i < KR_KC_LEN; i++)
        if (k->kc[i] < 0x20 || k->kc[i] > 0x7e)
            printable = false;
    if (printable && KR_KC_LEN <= COAP_CLIENT_KEY_MAX && idlen <= COAP_CLIENT_ID_MAX) {
        fprintf(f, "  coap-client-openssl -u %s -k ", k->key_id);
        sh_word(f, (const char *)k->kc, KR_KC_LEN);
        fprintf(f, " coaps://%s:%s/\n", d->host, d->port);
    } else if (idlen > COAP_CLIENT_ID_MAX) {
        fprintf(f,
                "  # coap-client-openssl does not fit: its -u takes at most %d characters and "
                "the Key Identifier has %zu; use openssl s_client -dtls1_2 above\n",
                COAP_CLIENT_ID_MAX, idlen);
    } else {
        fprintf(f,
                "  # coap-client-openssl does not fit: its -k takes an ASCII key of at most %d "
                "bytes and this Kc is binary; use openssl s_client -dtls1_2 above\n",
                COAP_CLIENT_KEY_MAX);
    }
}

void kr_print_key(FILE *f, const kr_key_info_t *k, const kr_endpoint_t *tls_ep,
                  const kr_endpoint_t *dtls_ep, bool env)
{
    char kc_hex[2 * KR_KC_LEN + 1];

    kr_hex(k->kc, KR_KC_LEN, false, kc_hex);
    if (env) {
        kr_print_env(f, "KEY_ID", k->key_id);
        kr_print_env(f, "REL_KEY_ID", k->rel_id);
        kr_print_env(f, "MAF_FQDN", k->maf_fqdn);
        kr_print_env(f, "KC_HEX", kc_hex);
        if (k->kcid_hex != NULL)
            kr_print_env(f, "KCID_HEX", k->kcid_hex);
        kr_print_env(f, "EXPIRES", k->expires);
        kr_print_env(f, "TARGET", k->target);
        kr_print_env(f, "SOURCE_ID", k->source);
        kr_print_env(f, "KEY_SOURCE", k->key_src);
        kr_print_env(f, "MAF_TLS", k->tls[0] != '\0' ? k->tls : "unknown");
    } else {
        fprintf(f, "Key Identifier: %s\n", k->key_id);
        fprintf(f, "Kc (hex):       %s\n", kc_hex);
        if (k->kcid_hex != NULL)
            fprintf(f, "KcID (hex):     %s (exporter bytes 0..15; Kc is bytes 16..47)\n",
                    k->kcid_hex);
        fprintf(f, "Expires:        %s UTC (in %ld s)\n", k->expires, k->expires_in);
        fprintf(f, "Target:         %s\n", k->target);
        fprintf(f, "Source:         %s\n", k->source);
        if (strcmp(k->key_src, "exporter") == 0)
            fprintf(f, "Key source:     TLS exporter of the MAF connection (%s)\n", k->tls);
        else if (strcmp(k->key_src, "generated") == 0)
            fprintf(f, "Key source:     32 random bytes, sent as keyValue\n");
        else
            fprintf(f, "Key source:     --key-hex (a key chosen by hand: for tests only)\n");
        fprintf(f, "\nKc is the secret of this security association. saef-keyreg prints it "
                   "because it is\nEntity A's test and diagnostic tool: keep this output "
                   "private.\n");
        print_clients(f, k, kc_hex, tls_ep, dtls_ep);
    }
    OPENSSL_cleanse(kc_hex, sizeof(kc_hex));
}
