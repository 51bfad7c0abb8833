/*
 * docs/configuration.md, generated from the option table so that the page cannot disagree with
 * what saef_cfg_parse() accepts.  The prose around the tables lives here; everything about a
 * single option lives in its table row.
 */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "saef_rc.h"

/* How each type is written, for the "Values" section. */
static const struct {
    cfg_type_t type;
    bool secret;
    const char *text;
} type_docs[] = {
    {CFG_T_UINT, false,
     "decimal digits only: no sign, no leading zero, no unit suffix; the range is inclusive "
     "and the unit is shown beside it"},
    {CFG_T_BOOL, false,
     "`true` or `false`; `yes`/`no`, `on`/`off` and `1`/`0` also work, in any "
     "case"},
    {CFG_T_ENUM, false, "one of the listed choices, in any case"},
    {CFG_T_NAME, false, "1 to 64 characters of `A-Z a-z 0-9 . _ -`"},
    {CFG_T_SQL_IDENT, false, "a lower-case SQL identifier that needs no quoting"},
    {CFG_T_PATH, false,
     "an absolute path of a file (a relative one would depend on the host daemon's working "
     "directory); the file is opened at `start`, not at `create`"},
    {CFG_T_PATH, true,
     "a path as above, to a file holding a secret (a private key, Km, the KEK). Secrets are "
     "never written inline. At `start` the file must be a regular file that neither group nor "
     "others can read; the path is never copied into an error message (which shows "
     "`<secret>`)"},
    {CFG_T_FQDN, false,
     "RFC 1123 host name of letters, digits and hyphens, at most 253 characters, no IP "
     "address; compared case-insensitively and with a trailing dot ignored"},
    {CFG_T_CSE_ID, false, "SP-relative `/cse-id` or absolute `//sp-domain/cse-id`"},
    {CFG_T_KMID, false, "`MAF_RELATIVE_KmID@MAF-FQDN` (TS-0003 10.6)"},
    {CFG_T_HTTPS_URI, false,
     "`https://fqdn[:port][/base]/endpoint`: the scheme is https, the host an FQDN, the port "
     "1-65535 when given; the path is segments of `A-Z a-z 0-9 . _ ~ -` (no `%`, no `.` or "
     "`..`) ending in the endpoint name the option names; userinfo (`user@`), query (`?`) and "
     "fragment (`#`) are refused"},
    {CFG_T_HOST_PORT, false,
     "`HOST:PORT`, HOST an FQDN, a dotted-quad IPv4 address or a bracketed IPv6 address, PORT "
     "1-65535"},
    {CFG_T_ORIGINATORS, false,
     "comma-separated CSE-IDs and AE-IDs (any form of TS-0001 7.2), blanks around commas "
     "ignored, no empty entry, no entry twice"},
    {CFG_T_CONNINFO, false,
     "a libpq connection string (`host=... dbname=...` or a `postgresql://` URI) without a "
     "password"},
};

/* Markdown table cell: '|' would end the cell. */
static void cell(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s, f);
    }
}

static void option_table(FILE *f, cfg_scope_t scope)
{
    char range[160];
    size_t i;

    fputs("| option | type | default | required | secret | range / choices | description |\n"
          "| --- | --- | --- | --- | --- | --- | --- |\n",
          f);
    for (i = 0; i < saef_cfg_table_len; i++) {
        const cfg_option_t *o = &saef_cfg_table[i];

        if (o->scope != scope)
            continue;
        fprintf(f, "| `%s` | %s | ", o->name, saef_cfg_type_name(o));
        if (o->def != NULL) {
            fputc('`', f);
            cell(f, o->def);
            fputc('`', f);
        } else if (o->def_doc != NULL) {
            cell(f, o->def_doc);
        } else {
            fputs("none", f);
        }
        fprintf(f, " | %s | %s | ",
                (o->flags & CFG_F_REQUIRED) ? "yes"
                : (o->flags & CFG_F_COND)   ? "conditional"
                                            : "no",
                (o->flags & CFG_F_SECRET) ? "yes" : "no");
        saef_cfg_range_text(o, range, sizeof(range));
        if (range[0] != '\0') {
            fputc('`', f);
            cell(f, range);
            fputc('`', f);
            if (o->unit != NULL)
                fprintf(f, " %s", o->unit);
        }
        fputs(" | ", f);
        cell(f, o->desc);
        fputs(" |\n", f);
    }
}

#define CODE(rc)                                                                                   \
    {                                                                                              \
        rc, #rc                                                                                    \
    }
static const struct {
    saef_rc_t rc;
    const char *name;
} cfg_codes[] = {
    CODE(SAEF_E_CFG_UNKNOWN),     CODE(SAEF_E_CFG_MALFORMED), CODE(SAEF_E_CFG_RANGE),
    CODE(SAEF_E_CFG_MISSING),     CODE(SAEF_E_CFG_DUPLICATE), CODE(SAEF_E_CFG_CONFLICT),
    CODE(SAEF_E_CFG_SECRET_FILE),
};

saef_rc_t saef_cfg_write_markdown(FILE *f)
{
    size_t i;

    if (f == NULL)
        return SAEF_E_INVALID_ARG;
    fputs("# Configuration\n\n"
          "<!-- Generated from the option table in modules/config_table.c: edit the table, then "
          "run `make config-doc`. -->\n\n"
          "The module is configured by its host, the oneM2M CSE that loads `maf_saef.so`: the "
          "host hands `create` a list of (section, key, value) strings and the module checks "
          "them against the table below. `create` does no I/O: files are read, the database "
          "and the MAFs reached, only by `start`.\n\n"
          "## Enabling the module\n\n"
          "In the host's INI file the module's options sit in a `[saef]` section for the global "
          "options and one `[saef.maf.<label>]` section per trusted MAF (label: 1 to 32 "
          "characters of `A-Z a-z 0-9 _ -`):\n\n"
          "```ini\n"
          "[saef]\n"
          "cse_id = //sp.example.com/cse-in\n"
          "admin_originators = CAdmin\n"
          "\n"
          "[saef.maf.primary]\n"
          "fqdn = maf.example.com\n"
          "key_retrieval_uri = https://maf.example.com/maf/keyRetrieval\n"
          "ca_file = /etc/maf-saef/maf-ca.pem\n"
          "client_cert = /etc/maf-saef/cse-in.pem\n"
          "client_key = /etc/maf-saef/cse-in.key\n"
          "```\n\n"
          "The host strips the `saef.` prefix: options of `[saef]` reach the module with an "
          "empty section, those of `[saef.maf.primary]` with the section `maf.primary`. Any "
          "other section, and any option not listed here, makes `create` fail. Complete "
          "examples: `contrib/examples/saef-cert.ini` (certificate mode, one MAF) and "
          "`contrib/examples/saef-psk.ini` (KmID/Km mode, two MAFs, database and key vault).\n\n"
          "## Values\n\n"
          "Every option is given at most once per section. A value is never empty (leave the "
          "option out to get its default) and has no leading or trailing blanks.\n\n",
          f);
    for (i = 0; i < sizeof(type_docs) / sizeof(type_docs[0]); i++) {
        cfg_option_t probe = {.type = type_docs[i].type,
                              .flags = type_docs[i].secret ? CFG_F_SECRET : 0u};

        fprintf(f, "- **%s**: %s.\n", saef_cfg_type_name(&probe), type_docs[i].text);
    }
    fputs("\n## Rules between options\n\n", f);
    for (i = 0; saef_cfg_rules[i] != NULL; i++)
        fprintf(f, "- %s\n", saef_cfg_rules[i]);
    fputs("\n## Errors\n\n"
          "`create` stops at the first problem and returns one of the codes below with a "
          "one-line message that names the option with its section, the value (never for a "
          "secret option, nor for `db_conninfo`) and the reason:\n\n"
          "```\n"
          "maf.m1.connect_timeout_ms = \"0\": out of range 100..60000\n"
          "maf.m1.client_key = <secret>: not an absolute file path (must start with '/', name a "
          "file)\n"
          "```\n\n"
          "| code | value | meaning |\n"
          "| --- | --- | --- |\n",
          f);
    for (i = 0; i < sizeof(cfg_codes) / sizeof(cfg_codes[0]); i++) {
        fprintf(f, "| `%s` | %d | ", cfg_codes[i].name, (int)cfg_codes[i].rc);
        cell(f, saef_strerror(cfg_codes[i].rc));
        fputs(" |\n", f);
    }
    fputs("\n`SAEF_E_CFG_SECRET_FILE` comes from `start`, which checks the secret files.\n\n"
          "## Global options: `[saef]`\n\n",
          f);
    option_table(f, CFG_SCOPE_GLOBAL);
    fputs("\n## Options of each MAF: `[saef.maf.<label>]`\n\n", f);
    option_table(f, CFG_SCOPE_MAF);
    if (fflush(f) != 0 || ferror(f))
        return SAEF_E_IO;
    return SAEF_OK;
}
