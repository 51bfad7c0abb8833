/* Names of the result codes.  The switch has no default, so -Wswitch (in -Wall) turns a code
 * added to saef/module.h without a name here into a build failure under -Werror. */
#include "saef_rc.h"

const char *saef_strerror(saef_rc_t rc)
{
    switch (rc) {
    case SAEF_OK:
        return "success";
    case SAEF_E_INVALID_ARG:
        return "a NULL or out-of-range argument";
    case SAEF_E_NOMEM:
        return "allocation failed";
    case SAEF_E_BUFFER_TOO_SMALL:
        return "caller buffer cannot hold the result";
    case SAEF_E_NOT_SUPPORTED:
        return "slot exists but is not implemented in this version";
    case SAEF_E_ABI:
        return "struct too small or from another ABI major";
    case SAEF_E_STATE:
        return "call not allowed in the instance's current state";
    case SAEF_E_INTERNAL:
        return "a library call failed unexpectedly";
    case SAEF_E_NOT_FOUND:
        return "no such object (binding, key, resource)";
    case SAEF_E_IO:
        return "reading a file or socket failed";
    case SAEF_E_TIMEOUT:
        return "an operation ran out of time";
    case SAEF_E_BUSY:
        return "a bound (queue, in-flight) is full";
    case SAEF_E_ID_EMPTY:
        return "the whole identifier is empty";
    case SAEF_E_ID_TOO_LONG:
        return "identifier longer than its maximum";
    case SAEF_E_ID_NUL:
        return "embedded NUL byte";
    case SAEF_E_ID_NON_ASCII:
        return "byte >= 0x80 or a control character";
    case SAEF_E_ID_NO_AT:
        return "no '@' separating relative part and FQDN";
    case SAEF_E_ID_REL_EMPTY:
        return "relative part (RelativeKeyID, ...) is empty";
    case SAEF_E_ID_REL_TOO_LONG:
        return "relative part longer than 64 characters";
    case SAEF_E_ID_REL_CHAR:
        return "relative part has a character outside [A-Za-z0-9._-]";
    case SAEF_E_ID_FQDN_EMPTY:
        return "FQDN part is empty (or only a dot)";
    case SAEF_E_ID_FQDN_TOO_LONG:
        return "FQDN longer than 253 characters";
    case SAEF_E_ID_FQDN_LABEL_EMPTY:
        return "empty label (leading dot or \"..\")";
    case SAEF_E_ID_FQDN_LABEL_TOO_LONG:
        return "label longer than 63 characters";
    case SAEF_E_ID_FQDN_CHAR:
        return "character outside letters, digits and '-'";
    case SAEF_E_ID_FQDN_HYPHEN:
        return "label starts or ends with '-'";
    case SAEF_E_ID_FQDN_AT:
        return "a second '@' (only possible in an FQDN)";
    case SAEF_E_ID_FQDN_IP_LITERAL:
        return "IPv4 or bracketed IPv6 literal instead of a name";
    case SAEF_E_ID_FQDN_NUMERIC_TLD:
        return "all-numeric top-level label";
    case SAEF_E_ID_CREDID_TYPE:
        return "Credential-ID typeID missing, not a number, unknown";
    case SAEF_E_ID_CREDID_VALUE:
        return "Credential-ID value empty or bad character";
    case SAEF_E_ID_CSE_ID:
        return "not a valid CSE-ID";
    case SAEF_E_ID_AE_ID:
        return "not a valid AE-ID";
    case SAEF_E_ID_HEX:
        return "relative part must be hexBinary and is not";
    case SAEF_E_ID_SP_ID:
        return "SP-ID (the //domain part) malformed";
    case SAEF_E_TS_FORMAT:
        return "not YYYYMMDDThhmmss[,f{1,6}]";
    case SAEF_E_TS_RANGE:
        return "a field out of range (month 13, Feb 30, hour 24, ...)";
    case SAEF_E_CFG_UNKNOWN:
        return "option or section not in the table";
    case SAEF_E_CFG_MALFORMED:
        return "value does not parse as the option's type";
    case SAEF_E_CFG_RANGE:
        return "value outside the option's range or choices";
    case SAEF_E_CFG_MISSING:
        return "required option or section absent";
    case SAEF_E_CFG_DUPLICATE:
        return "option given twice, or two MAFs with one FQDN";
    case SAEF_E_CFG_CONFLICT:
        return "options that exclude each other, or a missing partner";
    case SAEF_E_CFG_SECRET_FILE:
        return "secret file missing, unreadable, too short or too open";
    case SAEF_E_MAF_UNKNOWN:
        return "MAF-FQDN not on the configured allow-list";
    case SAEF_E_MAF_UNREACHABLE:
        return "connect/TLS failure, MAF down";
    case SAEF_E_MAF_TIMEOUT:
        return "MAF did not answer in time";
    case SAEF_E_MAF_CIRCUIT_OPEN:
        return "breaker open after repeated failures";
    case SAEF_E_MAF_HTTP_STATUS:
        return "unexpected HTTP status";
    case SAEF_E_MAF_RSC:
        return "MAF answered with a oneM2M error status";
    case SAEF_E_MAF_JSON:
        return "body not JSON, duplicate key, wrong type";
    case SAEF_E_MAF_SUID:
        return "SUID missing, unknown or not the accepted one";
    case SAEF_E_MAF_EXPIRED:
        return "expirationTime unparseable or not in the future";
    case SAEF_E_MAF_KEY_LENGTH:
        return "key value does not decode to the configured length";
    case SAEF_E_MAF_SOURCE_ID:
        return "Source MAF Client ID is not a CSE-ID, AE-ID or KmID";
    case SAEF_E_MAF_ADMIN_FQDN:
        return "adminFQDN missing or malformed";
    case SAEF_E_MAF_REFUSED:
        return "MAF refused: unknown RelativeKeyID or not authorised";
    case SAEF_E_MAF_AUTH:
        return "MAF rejected our credentials, or its certificate";
    case SAEF_E_KEY_EXPIRED:
        return "Kc lifetime over (TS-0003 8.2.2.3 step 15)";
    case SAEF_E_NEGATIVE_CACHED:
        return "a recent refusal for this Key Identifier is cached";
    case SAEF_E_KEY_REVOKED:
        return "the Key Identifier was revoked";
    case SAEF_E_DB:
        return "database error";
    case SAEF_E_DB_SCHEMA_NEWER:
        return "database schema newer than this module";
    }
    return "unknown result code";
}
