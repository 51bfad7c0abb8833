/* Secret files: every way a file can be unfit is refused with a reason naming the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "saef_ascii.h"
#include "saef_secret.h"

static char dir[64];

static void write_file(const char *name, const char *content, mode_t mode, char *path,
                       size_t pathlen)
{
    FILE *f;

    snprintf(path, pathlen, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    strcpy(dir, "/tmp/saef-secret-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_read_ok(void **state)
{
    char path[128];
    uint8_t *buf = NULL;
    size_t len = 0;

    write_file("ok", "0123456789abcdef0123456789abcdef", 0600, path, sizeof(path));
    assert_int_equal(saef_secret_read(path, 16, 64, &buf, &len, NULL, 0), SAEF_OK);
    assert_int_equal(len, 32);
    assert_memory_equal(buf, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(buf[32], 0);
    saef_secret_free(buf, len);
    assert_int_equal(saef_secret_check(path, 16, 64, NULL, 0), SAEF_OK);
    /* owner read-only is fine too */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(saef_secret_check(path, 16, 64, NULL, 0), SAEF_OK);
    saef_secret_free(NULL, 0);
}

static void expect_refused(const char *path, size_t min, size_t max, const char *reason)
{
    char detail[256] = "";
    uint8_t *buf = (uint8_t *)(uintptr_t)1;
    size_t len = 7;

    assert_int_equal(saef_secret_read(path, min, max, &buf, &len, detail, sizeof(detail)),
                     SAEF_E_CFG_SECRET_FILE);
    /* outputs untouched on failure */
    assert_ptr_equal(buf, (uint8_t *)(uintptr_t)1);
    assert_int_equal(len, 7);
    if (strstr(detail, path) == NULL || strstr(detail, reason) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\" or \"%s\"", detail, path, reason);
    assert_int_equal(saef_secret_check(path, min, max, NULL, 0), SAEF_E_CFG_SECRET_FILE);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *name;
        mode_t mode;
        const char *content;
        const char *reason;
    } cases[] = {
        {"world", 0644, "0123456789abcdef", "mode 0644"},
        {"group", 0640, "0123456789abcdef", "mode 0640"},
        {"groupw", 0620, "0123456789abcdef", "mode 0620"},
        {"otherx", 0601, "0123456789abcdef", "mode 0601"},
        {"short", 0600, "0123456789", "size 10 bytes, expected 16..64"},
        {"empty", 0600, "", "size 0 bytes"},
        {"long", 0600, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX",
         "size 65 bytes"},
    };
    char path[128];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(cases[i].name, cases[i].content, cases[i].mode, path, sizeof(path));
        expect_refused(path, 16, 64, cases[i].reason);
    }
}

static void test_missing_dir_and_symlink(void **state)
{
    char path[128], link_path[128];

    snprintf(path, sizeof(path), "%s/does-not-exist", dir);
    expect_refused(path, 1, 64, "No such file");
    expect_refused(dir, 1, 64, "not a regular file");
    write_file("target", "0123456789abcdef", 0600, path, sizeof(path));
    snprintf(link_path, sizeof(link_path), "%s/link", dir);
    assert_int_equal(symlink(path, link_path), 0);
    expect_refused(link_path, 1, 64, "symbolic link");
}

static void test_read_key_hex_and_raw(void **state)
{
    char path[128], detail[256];
    uint8_t key[64];
    size_t len = 0;

    /* hex text with trailing whitespace */
    write_file("kh", "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF \t\r\n",
               0600, path, sizeof(path));
    assert_int_equal(saef_secret_read_key(path, 16, 64, key, sizeof(key), &len, NULL, 0), SAEF_OK);
    assert_int_equal(len, 32);
    assert_int_equal(key[0], 0x00);
    assert_int_equal(key[15], 0xff);
    assert_int_equal(key[31], 0xff);
    /* raw bytes that are not hex text */
    write_file("kr", "raw-key-material-of-24-b", 0600, path, sizeof(path));
    assert_int_equal(saef_secret_read_key(path, 16, 64, key, sizeof(key), &len, NULL, 0), SAEF_OK);
    assert_int_equal(len, 24);
    assert_memory_equal(key, "raw-key-material-of-24-b", 24);
    /* hex text of the wrong length, and an odd number of digits */
    write_file("ks", "0011223344556677", 0600, path, sizeof(path));
    assert_int_equal(saef_secret_read_key(path, 16, 64, key, sizeof(key), &len, detail,
                                          sizeof(detail)),
                     SAEF_E_CFG_SECRET_FILE);
    assert_non_null(strstr(detail, "16 hex digits; expected an even number from 32 to 128"));
    write_file("ko", "00112233445566778899aabbccddeeff0", 0600, path, sizeof(path));
    assert_int_equal(saef_secret_read_key(path, 16, 64, key, sizeof(key), &len, NULL, 0),
                     SAEF_E_CFG_SECRET_FILE);
    /* the file rules still hold */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(saef_secret_read_key(path, 16, 64, key, sizeof(key), &len, NULL, 0),
                     SAEF_E_CFG_SECRET_FILE);
}

static void test_bad_args(void **state)
{
    uint8_t *buf;
    size_t len;
    char detail[64];

    assert_int_equal(saef_secret_read(NULL, 1, 2, &buf, &len, detail, sizeof(detail)),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_secret_read("", 1, 2, &buf, &len, NULL, 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_secret_read("/x", 1, 2, NULL, &len, NULL, 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_secret_check(NULL, 1, 2, NULL, 0), SAEF_E_INVALID_ARG);
}

/* The ASCII helpers the key readers, the vault, the engine and the tools share. */
static void test_ascii(void **state)
{
    static const uint8_t bytes[] = {0x00, 0x1f, 0xa0, 0xff};
    uint8_t out[4];
    char text[9];
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9' ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        assert_int_equal(saef_hex_value(c), want);
    }
    saef_hex_encode(bytes, sizeof(bytes), text);
    assert_string_equal(text, "001fa0ff");
    assert_true(saef_hex_decode("001FA0ff", 8, out, sizeof(out)));
    assert_memory_equal(out, bytes, sizeof(bytes));
    /* Wrong length, a non-digit anywhere: refused, and nothing half-decoded is left. */
    assert_false(saef_hex_decode("001fa0f", 7, out, sizeof(out)));
    assert_false(saef_hex_decode("001fa0ff00", 10, out, sizeof(out)));
    memset(out, 0x55, sizeof(out));
    assert_false(saef_hex_decode("001fa0fg", 8, out, sizeof(out)));
    assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
    assert_false(saef_hex_decode("0 1fa0ff", 8, out, sizeof(out)));
    assert_false(saef_hex_decode(NULL, 0, out, 0));
    /* Case: A-Z only, never a byte of another script or a locale's idea of it. */
    for (c = 0; c < 256; c++)
        assert_int_equal((unsigned char)saef_ascii_lower((char)c),
                         c >= 'A' && c <= 'Z' ? c + 32 : c);
    assert_true(saef_ascii_ieq("MAF.Example.COM", "maf.example.com", 15));
    assert_true(saef_ascii_ieq("ab", "AB", 0));
    assert_false(saef_ascii_ieq("maf-1", "maf_1", 5));
    assert_false(saef_ascii_ieq("\xc4\xb0", "\xc4\xb1", 2)); /* dotted vs dotless i, UTF-8 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_ok),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_missing_dir_and_symlink),
        cmocka_unit_test(test_read_key_hex_and_raw),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_ascii),
    };

    return cmocka_run_group_tests_name("secret", tests, setup, teardown);
}
