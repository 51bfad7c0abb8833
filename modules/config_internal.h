/*
 * The declarative option table behind saef_config.h, and the typed value parsers it drives.
 * config_table.c holds the table (the single source of truth for validation and for
 * docs/configuration.md), config_value.c parses one value by type, config.c applies the pairs
 * and checks the rules between options.  Nothing here does I/O or keeps state.
 */
#ifndef SAEF_CONFIG_INTERNAL_H
#define SAEF_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "saef_config.h"

/* Where an option lives: the module's global section, or each "maf.<label>" section. */
typedef enum cfg_scope {
    CFG_SCOPE_GLOBAL = 0,
    CFG_SCOPE_MAF = 1,
} cfg_scope_t;

typedef enum cfg_type {
    CFG_T_BOOL,        /* true/false/yes/no/on/off/1/0, any case */
    CFG_T_UINT,        /* strict decimal within [min, max] */
    CFG_T_ENUM,        /* one of choices, any case */
    CFG_T_NAME,        /* [A-Za-z0-9._-]{1,64} */
    CFG_T_SQL_IDENT,   /* [a-z_][a-z0-9_]{0,62}: usable in SQL without quoting */
    CFG_T_PATH,        /* absolute file path; with CFG_F_SECRET the file holds a secret */
    CFG_T_FQDN,        /* stored lower case without a trailing dot */
    CFG_T_CSE_ID,      /* SP-relative or absolute CSE-ID */
    CFG_T_KMID,        /* MAF_RELATIVE_KmID@MAF-FQDN */
    CFG_T_HTTPS_URI,   /* https://fqdn[:port]/path, the path ending in the option's suffix */
    CFG_T_HOST_PORT,   /* FQDN, IPv4 or [IPv6], ':', port 1..65535 */
    CFG_T_ORIGINATORS, /* comma-separated CSE-IDs and AE-IDs */
    CFG_T_CONNINFO,    /* libpq connection string without a password */
} cfg_type_t;

enum {
    CFG_F_REQUIRED = 1u << 0, /* must be given in every section of its scope */
    CFG_F_COND = 1u << 1,     /* required in some configurations (rules in the description) */
    CFG_F_SECRET = 1u << 2,   /* value is the path of a secret file: never echoed */
    CFG_F_NO_ECHO = 1u << 3,  /* value may carry a secret by mistake: never echoed either */
};

/* One choice of an enum option. */
typedef struct cfg_choice {
    const char *name;
    uint32_t value;
} cfg_choice_t;

/* One row of the option table. */
typedef struct cfg_option {
    const char *name;
    cfg_scope_t scope;
    cfg_type_t type;
    size_t offset;       /* field in saef_cfg_t (global) or saef_cfg_maf_t (maf) */
    size_t size;         /* sizeof the field: the integer width for UINT and ENUM */
    size_t count_offset; /* ORIGINATORS: the size_t count beside the list */
    const char *def;     /* default, as text parsed like input; NULL: none */
    const char *def_doc; /* default as the docs show it when it is not a constant, or NULL */
    uint32_t min, max;   /* UINT */
    const cfg_choice_t *choices; /* ENUM: ended by {NULL, 0} */
    const char *suffix;          /* HTTPS_URI: the fixed endpoint name the path must end in */
    unsigned flags;              /* CFG_F_* */
    const char *unit;            /* UINT: unit for the docs ("ms", "s", "entries"), or NULL */
    const char *desc;            /* Markdown, one paragraph: what it does and why the default */
} cfg_option_t;

/* A parsed value, before it is stored into its field. */
typedef struct cfg_value {
    char *s;     /* string types: owned */
    uint32_t u;  /* UINT, ENUM */
    bool b;      /* BOOL */
    char **list; /* ORIGINATORS: owned, NULL-terminated */
    size_t n;    /* ORIGINATORS: entries in list */
} cfg_value_t;

#define CFG_MAX_OPTIONS 64 /* options per table: seen-sets are 64-bit masks */
#define CFG_MAX_ADMINS 64  /* entries of admin_originators */
#define CFG_LABEL_MAX 32   /* characters of a MAF section label */
#define CFG_PATH_MAX 4095  /* characters of a file path */
#define CFG_VALUE_MAX 8192 /* characters of any value: bounds work on hostile input */

/* The table, in documentation order, and its length (<= CFG_MAX_OPTIONS). */
extern const cfg_option_t saef_cfg_table[];
extern const size_t saef_cfg_table_len;

/* The rules between options, one Markdown sentence each, NULL-terminated (for the docs). */
extern const char *const saef_cfg_rules[];

/* The option called name in scope, or NULL.  *index receives its row number. */
const cfg_option_t *saef_cfg_option_find(cfg_scope_t scope, const char *name, size_t *index);

/*
 * Parse text as opt's type.
 *   val       zeroed by the call; on SAEF_OK holds the value (release with
 *             saef_cfg_value_clear()).  Untouched resources on error: nothing to release.
 *   why       receives the reason on error, without the option name or the value.
 * Returns SAEF_OK, SAEF_E_NOMEM, SAEF_E_CFG_MALFORMED, SAEF_E_CFG_RANGE or
 * SAEF_E_CFG_DUPLICATE (the same originator twice).
 */
saef_rc_t saef_cfg_value_parse(const cfg_option_t *opt, const char *text, cfg_value_t *val,
                               char *why, size_t whylen);

/* Release what a parsed value owns and zero it. */
void saef_cfg_value_clear(cfg_value_t *val);

/* Free a NULL-terminated list of n strings; NULL-safe. */
void saef_cfg_list_free(char **list, size_t n);

/* The type as the docs name it ("uint", "secret path", ...). */
const char *saef_cfg_type_name(const cfg_option_t *opt);

/* Write the range or choices ("100..60000", "off, bounded") into buf; "" when the type has
 * none.  Always NUL-terminates (buflen > 0). */
void saef_cfg_range_text(const cfg_option_t *opt, char *buf, size_t buflen);

/* Host part of a URI that saef_cfg_value_parse() accepted as CFG_T_HTTPS_URI (between
 * "https://" and the port or path); *len receives its length. */
const char *saef_cfg_uri_host(const char *uri, size_t *len);

/* Bounded, always NUL-terminated formatting into a caller buffer that may be NULL or tiny:
 * truncates silently.  Returns nothing because a truncated reason is still a reason. */
void saef_cfg_msg(char *buf, size_t buflen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* SAEF_CONFIG_INTERNAL_H */
