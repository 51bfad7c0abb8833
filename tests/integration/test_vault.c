/*
 * Key vault crypto (no database): round trips, every way a sealed key must fail to open,
 * kek_id, and the KEK file rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "saef_vault.h"

static const char *const KEY_ID = "RelKey-1@maf.example.com";
static char dir[64];

static saef_vault_kek_t *kek_of(uint8_t fill)
{
    uint8_t raw[SAEF_VAULT_KEK_LEN];
    saef_vault_kek_t *k = NULL;

    memset(raw, fill, sizeof(raw));
    raw[0] = 0x42;
    assert_int_equal(saef_vault_kek_from_bytes(raw, sizeof(raw), &k), SAEF_OK);
    return k;
}

static void test_round_trip_lengths(void **state)
{
    static const size_t lens[] = {1, 16, 32, 48, SAEF_VAULT_KEY_MAX};
    saef_vault_kek_t *k = kek_of(1);
    uint8_t key[SAEF_VAULT_KEY_MAX], out[SAEF_VAULT_KEY_MAX];
    saef_vault_sealed_t s;
    size_t i, j, len = 0;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (j = 0; j < lens[i]; j++)
            key[j] = (uint8_t)(j * 7 + i);
        assert_int_equal(saef_vault_seal(k, key, lens[i], KEY_ID, strlen(KEY_ID), &s), SAEF_OK);
        assert_int_equal(s.ct_len, lens[i] + SAEF_VAULT_TAG_LEN);
        assert_string_equal(s.kek_id, saef_vault_kek_id(k));
        /* the ciphertext is not the key */
        assert_true(lens[i] < 4 || memcmp(s.ct, key, lens[i]) != 0);
        assert_int_equal(saef_vault_open(k, &s, KEY_ID, strlen(KEY_ID), out, sizeof(out), &len),
                         SAEF_OK);
        assert_int_equal(len, lens[i]);
        assert_memory_equal(out, key, lens[i]);
    }
    assert_int_equal(saef_vault_seal(k, key, SAEF_VAULT_KEY_MAX + 1, KEY_ID, 5, &s),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_vault_seal(k, key, 0, KEY_ID, 5, &s), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_vault_seal(k, key, 32, KEY_ID, 0, &s), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_vault_seal(NULL, key, 32, KEY_ID, 5, &s), SAEF_E_INVALID_ARG);
    saef_vault_kek_free(k);
    saef_vault_kek_free(NULL);
}

static void test_fresh_nonce_per_seal(void **state)
{
    saef_vault_kek_t *k = kek_of(2);
    uint8_t key[32] = {1, 2, 3};
    saef_vault_sealed_t a, b;

    assert_int_equal(saef_vault_seal(k, key, 32, KEY_ID, strlen(KEY_ID), &a), SAEF_OK);
    assert_int_equal(saef_vault_seal(k, key, 32, KEY_ID, strlen(KEY_ID), &b), SAEF_OK);
    assert_memory_not_equal(a.nonce, b.nonce, SAEF_VAULT_NONCE_LEN);
    assert_memory_not_equal(a.ct, b.ct, a.ct_len);
    saef_vault_kek_free(k);
}

/* Every failure: NOT_FOUND and the output wiped. */
static void expect_no_open(const saef_vault_kek_t *k, const saef_vault_sealed_t *s, const char *aad)
{
    uint8_t out[SAEF_VAULT_KEY_MAX];
    size_t len = 12345;

    memset(out, 0xee, sizeof(out));
    assert_int_equal(saef_vault_open(k, s, aad, strlen(aad), out, sizeof(out), &len),
                     SAEF_E_NOT_FOUND);
    assert_int_equal(len, 12345);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], 0);
}

static void test_tampering_fails(void **state)
{
    saef_vault_kek_t *k = kek_of(3), *other = kek_of(4);
    uint8_t key[32];
    saef_vault_sealed_t s, t;
    size_t i;

    for (i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(saef_vault_seal(k, key, 32, KEY_ID, strlen(KEY_ID), &s), SAEF_OK);

    /* another Key Identifier (a row moved to another key_id), even one differing in case */
    expect_no_open(k, &s, "RelKey-2@maf.example.com");
    expect_no_open(k, &s, "relkey-1@maf.example.com");
    /* a flipped bit in the ciphertext, in the tag, in the nonce */
    t = s;
    t.ct[0] ^= 1;
    expect_no_open(k, &t, KEY_ID);
    t = s;
    t.ct[s.ct_len - 1] ^= 0x80;
    expect_no_open(k, &t, KEY_ID);
    t = s;
    t.nonce[5] ^= 4;
    expect_no_open(k, &t, KEY_ID);
    /* truncated: the tag no longer matches */
    t = s;
    t.ct_len -= 1;
    expect_no_open(k, &t, KEY_ID);
    /* another KEK: refused by kek_id, and by the tag when the kek_id is forged */
    expect_no_open(other, &s, KEY_ID);
    t = s;
    memcpy(t.kek_id, saef_vault_kek_id(other), SAEF_VAULT_KEK_ID_SIZE);
    expect_no_open(other, &t, KEY_ID);
    saef_vault_kek_free(k);
    saef_vault_kek_free(other);
}

static void test_open_argument_errors(void **state)
{
    saef_vault_kek_t *k = kek_of(5);
    uint8_t key[32] = {9}, out[16];
    saef_vault_sealed_t s;
    size_t len;

    assert_int_equal(saef_vault_seal(k, key, 32, KEY_ID, strlen(KEY_ID), &s), SAEF_OK);
    assert_int_equal(saef_vault_open(k, &s, KEY_ID, strlen(KEY_ID), out, sizeof(out), &len),
                     SAEF_E_BUFFER_TOO_SMALL);
    s.ct_len = SAEF_VAULT_TAG_LEN; /* no ciphertext at all */
    assert_int_equal(saef_vault_open(k, &s, KEY_ID, strlen(KEY_ID), out, sizeof(out), &len),
                     SAEF_E_INVALID_ARG);
    s.ct_len = SAEF_VAULT_SEALED_MAX + 1;
    assert_int_equal(saef_vault_open(k, &s, KEY_ID, strlen(KEY_ID), out, sizeof(out), &len),
                     SAEF_E_INVALID_ARG);
    saef_vault_kek_free(k);
}

/* kek_id is the first 8 bytes of SHA-256(KEK), computed here independently. */
static void test_kek_id(void **state)
{
    uint8_t raw[SAEF_VAULT_KEK_LEN], md[32];
    unsigned int mdlen = 0, i;
    saef_vault_kek_t *k = NULL;
    char want[17];

    for (i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i * 3);
    assert_int_equal(EVP_Digest(raw, sizeof(raw), md, &mdlen, EVP_sha256(), NULL), 1);
    for (i = 0; i < 8; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(saef_vault_kek_from_bytes(raw, sizeof(raw), &k), SAEF_OK);
    assert_string_equal(saef_vault_kek_id(k), want);
    saef_vault_kek_free(k);
    assert_int_equal(saef_vault_kek_from_bytes(raw, 31, &k), SAEF_E_INVALID_ARG);
}

/* ---------------------------------------------------------------- KEK files */

static const char *write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

static void test_kek_file_ok(void **state)
{
    static const char *const contents[] = {HEX64, HEX64 "\n", HEX64 "\r\n", HEX64 "  \n\n"};
    saef_vault_kek_t *a = NULL, *b = NULL;
    uint8_t raw[32];
    size_t i;

    for (i = 0; i < 16; i++)
        raw[i] = raw[16 + i] = (uint8_t)(i * 0x11);
    assert_int_equal(saef_vault_kek_from_bytes(raw, 32, &b), SAEF_OK);
    for (i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        const char *p = write_file("kek", contents[i], strlen(contents[i]), 0600);

        assert_int_equal(saef_vault_kek_load(p, &a, NULL, 0), SAEF_OK);
        /* the same key as the bytes the digits spell */
        assert_string_equal(saef_vault_kek_id(a), saef_vault_kek_id(b));
        saef_vault_kek_free(a);
    }
    assert_int_equal(saef_vault_kek_load(write_file("kek", HEX64, 64, 0400), &a, NULL, 0), SAEF_OK);
    saef_vault_kek_free(a);
    saef_vault_kek_free(b);
}

static void expect_refused(const char *path, const char *reason)
{
    saef_vault_kek_t *k = (saef_vault_kek_t *)(uintptr_t)1;
    char detail[512] = "";

    assert_int_equal(saef_vault_kek_load(path, &k, detail, sizeof(detail)), SAEF_E_CFG_SECRET_FILE);
    assert_ptr_equal(k, (saef_vault_kek_t *)(uintptr_t)1);
    if (strstr(detail, reason) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", detail, reason);
    /* never the content */
    assert_null(strstr(detail, "0011223344"));
}

static void test_kek_file_refused(void **state)
{
    uint8_t raw[32];
    char path[128];

    memset(raw, 0x41, sizeof(raw));
    expect_refused(write_file("short", HEX64, 62, 0600), "found 62");
    expect_refused(write_file("long", HEX64 "00", 66, 0600), "found 66");
    /* 32 raw bytes (or a 32-character password) are not taken for a 256-bit key */
    expect_refused(write_file("raw", raw, sizeof(raw), 0600), "64 hexadecimal digits");
    expect_refused(write_file("junk", HEX64 " x", 66, 0600), "followed by other");
    expect_refused(write_file("nonhex", "zz" HEX64, 66, 0600), "found 0");
    expect_refused(write_file("open", HEX64, 64, 0644), "chmod 600");
    expect_refused(write_file("group", HEX64, 64, 0640), "chmod 600");
    expect_refused(write_file("empty", "", 0, 0600), "size 0");
    snprintf(path, sizeof(path), "%s/missing", dir);
    expect_refused(path, "cannot open");
    snprintf(path, sizeof(path), "%s/link", dir);
    assert_int_equal(symlink("kek", path), 0);
    expect_refused(path, "symbolic link");
    expect_refused(dir, "not a regular file");
    assert_int_equal(saef_vault_kek_load(NULL, NULL, NULL, 0), SAEF_E_INVALID_ARG);
}

static int setup(void **state)
{
    strcpy(dir, "/tmp/saef-vault-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_lengths),
        cmocka_unit_test(test_fresh_nonce_per_seal),
        cmocka_unit_test(test_tampering_fails),
        cmocka_unit_test(test_open_argument_errors),
        cmocka_unit_test(test_kek_id),
        cmocka_unit_test(test_kek_file_ok),
        cmocka_unit_test(test_kek_file_refused),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
