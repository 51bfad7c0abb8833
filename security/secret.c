/* Secret files: strict checks on the opened descriptor, wiped buffers. */
#include "saef_secret.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "saef_ascii.h"

static saef_rc_t fail(saef_rc_t rc, char *detail, size_t detail_len, const char *path,
                      const char *reason)
{
    if (detail != NULL && detail_len > 0)
        snprintf(detail, detail_len, "%s: %s", path, reason);
    return rc;
}

/* Open without following a symbolic link (an attacker who can swap the link could make us
 * read another file) and validate what we opened. */
static saef_rc_t open_checked(const char *path, size_t min_len, size_t max_len, int *fd_out,
                              size_t *size_out, char *detail, size_t detail_len)
{
    char why[160];
    struct stat st;
    int fd;

    if (path == NULL || *path == '\0')
        return fail(SAEF_E_INVALID_ARG, detail, detail_len, "(none)", "no path given");
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path,
                        "is a symbolic link; give the real path");
        snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
        return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, why);
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, sizeof(why), "cannot stat: %s", strerror(errno));
        close(fd);
        return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, why);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, "is not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(why, sizeof(why), "mode %04o lets group or others use it; chmod 600",
                 (unsigned)(st.st_mode & 07777));
        close(fd);
        return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, why);
    }
    if ((size_t)st.st_size < min_len || (size_t)st.st_size > max_len) {
        snprintf(why, sizeof(why), "size %lld bytes, expected %zu..%zu", (long long)st.st_size,
                 min_len, max_len);
        close(fd);
        return fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, why);
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return SAEF_OK;
}

saef_rc_t saef_secret_check(const char *path, size_t min_len, size_t max_len, char *detail,
                            size_t detail_len)
{
    int fd;
    size_t size;
    saef_rc_t rc = open_checked(path, min_len, max_len, &fd, &size, detail, detail_len);

    if (rc == SAEF_OK)
        close(fd);
    return rc;
}

saef_rc_t saef_secret_read(const char *path, size_t min_len, size_t max_len, uint8_t **out,
                           size_t *out_len, char *detail, size_t detail_len)
{
    uint8_t *buf;
    size_t size, got = 0;
    int fd;
    saef_rc_t rc;

    if (out == NULL || out_len == NULL)
        return SAEF_E_INVALID_ARG;
    if (max_len > SAEF_SECRET_FILE_MAX)
        max_len = SAEF_SECRET_FILE_MAX;
    rc = open_checked(path, min_len, max_len, &fd, &size, detail, detail_len);
    if (rc != SAEF_OK)
        return rc;
    buf = OPENSSL_malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return SAEF_E_NOMEM;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* A file that shrank under us is as unusable as an unreadable one. */
            OPENSSL_clear_free(buf, size + 1);
            close(fd);
            return fail(SAEF_E_IO, detail, detail_len, path,
                        n < 0 ? "read failed" : "file shrank while being read");
        }
        got += (size_t)n;
    }
    close(fd);
    buf[size] = '\0';
    *out = buf;
    *out_len = size;
    return SAEF_OK;
}

void saef_secret_free(uint8_t *buf, size_t len)
{
    if (buf != NULL)
        OPENSSL_clear_free(buf, len + 1);
}

saef_rc_t saef_secret_read_key(const char *path, size_t min_len, size_t max_len, uint8_t *key,
                               size_t key_cap, size_t *key_len, char *detail, size_t detail_len)
{
    uint8_t *buf;
    size_t len, text, i;
    bool hex = true;
    saef_rc_t rc;

    if (key == NULL || key_len == NULL || min_len == 0 || max_len > key_cap || min_len > max_len)
        return SAEF_E_INVALID_ARG;
    rc = saef_secret_read(path, min_len, 2 * max_len + 2, &buf, &len, detail, detail_len);
    if (rc != SAEF_OK)
        return rc;
    text = len;
    while (text > 0 && (buf[text - 1] == '\n' || buf[text - 1] == '\r' || buf[text - 1] == ' ' ||
                        buf[text - 1] == '\t'))
        text--;
    for (i = 0; i < text && hex; i++)
        hex = saef_hex_value(buf[i]) >= 0;
    if (hex && text % 2 == 0 && text / 2 >= min_len && text / 2 <= max_len) {
        (void)saef_hex_decode((const char *)buf, text, key, text / 2);
        *key_len = text / 2;
    } else if (!hex && len >= min_len && len <= max_len) {
        memcpy(key, buf, len);
        *key_len = len;
    } else {
        char why[128];

        if (hex)
            snprintf(why, sizeof(why), "%zu hex digits; expected an even number from %zu to %zu",
                     text, 2 * min_len, 2 * max_len);
        else
            snprintf(why, sizeof(why), "%zu raw bytes; expected %zu to %zu (or hex text)", len,
                     min_len, max_len);
        rc = fail(SAEF_E_CFG_SECRET_FILE, detail, detail_len, path, why);
    }
    saef_secret_free(buf, len);
    return rc;
}
