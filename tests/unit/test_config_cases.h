/* Case tables and helpers of test_config.c. */
#ifndef TEST_CONFIG_CASES_H
#define TEST_CONFIG_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "saef_config.h"

#define MAX_SET 6

/* A pair as written in a case; v == DEL removes the base pair with that section and key. */
typedef struct kv {
    const char *s, *k, *v;
} kv_t;

extern const char del_marker[];
#define DEL del_marker

/* The valid configuration every case starts from (ends with {NULL}). */
extern const kv_t base[];

/* A full configuration with every option given (ends with {NULL}). */
extern const kv_t psk_example[];

/* Where a field lives, by the test's own reading of saef_config.h. */
typedef enum kind { K_STR, K_U32, K_U16, K_BOOL, K_ENUM } kind_t;
typedef struct field {
    const char *key;
    bool maf;
    kind_t kind;
    size_t off;
} field_t;
extern const field_t fields[];

/* set[0] is the option checked: its field must hold exp_s (strings) or exp_u (numbers). */
typedef struct happy {
    kv_t set[MAX_SET];
    const char *exp_s;
    uint32_t exp_u;
} happy_t;
extern const happy_t happy[];
extern const size_t n_happy;

/* Parsing BASE with set applied (appended when append) and host_cse_id host must give rc and a
 * message containing want (and want2), never containing never. */
typedef struct bad {
    kv_t set[MAX_SET];
    bool append;
    const char *host;
    saef_rc_t rc;
    const char *want, *want2, *never;
} bad_t;
extern const bad_t bad[];
extern const size_t n_bad;

/* An INI file of contrib/examples split the way the reference host does it. */
typedef struct ini {
    saef_config_pair_t *pairs;
    size_t n;
    char **strings; /* owned copies the pairs point into */
    size_t n_strings;
} ini_t;
void ini_load(const char *name, ini_t *ini);
void ini_free(ini_t *ini);

#endif
