/* SQLSTATE classification through a table (the FreeRADIUS rlm_sql_postgresql approach): what
 * can be retried on a new connection, what means "already there", everything else is fatal. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "saef_db.h"

typedef struct sqlstate_rule {
    const char *code; /* 5 characters, or a 2-character class prefix */
    saef_db_errclass_t cls;
} sqlstate_rule_t;

/* First match wins; prefixes (2 characters) cover a whole class. */
static const sqlstate_rule_t rules[] = {
    {"08", SAEF_DB_ERR_RETRY},     /* connection_exception and all its subclasses */
    {"57P01", SAEF_DB_ERR_RETRY},  /* admin_shutdown */
    {"57P02", SAEF_DB_ERR_RETRY},  /* crash_shutdown */
    {"57P03", SAEF_DB_ERR_RETRY},  /* cannot_connect_now (starting up, recovery) */
    {"40001", SAEF_DB_ERR_RETRY},  /* serialization_failure */
    {"40P01", SAEF_DB_ERR_RETRY},  /* deadlock_detected */
    {"53300", SAEF_DB_ERR_RETRY},  /* too_many_connections */
    {"23505", SAEF_DB_ERR_EXISTS}, /* unique_violation */
};

static bool well_formed(const char *s)
{
    size_t i;

    for (i = 0; i < 5; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return s[5] == '\0';
}

saef_db_errclass_t saef_db_sqlstate_class(const char *sqlstate)
{
    size_t i;

    if (sqlstate == NULL || strnlen(sqlstate, 6) != 5 || !well_formed(sqlstate))
        return SAEF_DB_ERR_FATAL;
    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strncmp(sqlstate, rules[i].code, strlen(rules[i].code)) == 0)
            return rules[i].cls;
    return SAEF_DB_ERR_FATAL;
}

bool saef_db_sqlstate_is_data_error(const char *sqlstate)
{
    if (sqlstate == NULL || strnlen(sqlstate, 6) != 5 || !well_formed(sqlstate))
        return false;
    if (sqlstate[0] != '2' || (sqlstate[1] != '2' && sqlstate[1] != '3'))
        return false;
    return strcmp(sqlstate, "23505") != 0;
}

const char *saef_db_errclass_name(saef_db_errclass_t c)
{
    switch (c) {
    case SAEF_DB_ERR_NONE:
        return "none";
    case SAEF_DB_ERR_RETRY:
        return "retry";
    case SAEF_DB_ERR_EXISTS:
        return "exists";
    case SAEF_DB_ERR_FATAL:
        return "fatal";
    }
    return "fatal";
}
