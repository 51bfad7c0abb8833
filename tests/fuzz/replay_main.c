/*
 * Stand-alone driver for the fuzz targets when they are built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named on the command line, and on each file of each
 * named directory, so that the seed corpus (and any crash input kept as a regression) is
 * exercised by the ordinary test run.  Exit status 0 when every file was read, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: not a readable regular file\n", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Exactly the file's size, so that the sanitizers see a read one byte past the input. */
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size > 0 ? size : 1);
    size_t got = data != NULL ? fread(data, 1, size, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (data == NULL || got != size || err) {
        fprintf(stderr, "%s: read failed\n", path);
        free(data);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    (*count)++;
    return 0;
}

static int run_dir(const char *path, size_t *count)
{
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char file[4096];
        int n = snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(file)) {
            fprintf(stderr, "%s/%s: path too long\n", path, e->d_name);
            rc = -1;
            continue;
        }
        if (run_file(file, count) != 0)
            rc = -1;
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    size_t count = 0;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int rc = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? run_dir(argv[i], &count)
                                                                : run_file(argv[i], &count);
        if (rc != 0)
            status = 1;
    }
    printf("%s: %zu inputs replayed\n", argv[0], count);
    return status;
}
