/*
 * saef-modinfo: load maf_saef.so the way a host does (dlopen + the one entry symbol), print
 * what the module reports, then create and start an instance from an INI file and stop it.
 * An operator's first check of a module build and of a configuration file.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini_pairs.h"
#include "saef/module.h"

static const char *level_name(saef_log_level_t level)
{
    switch (level) {
    case SAEF_LOG_ERROR:
        return "error";
    case SAEF_LOG_WARNING:
        return "warning";
    case SAEF_LOG_NOTICE:
        return "notice";
    case SAEF_LOG_INFO:
        return "info";
    case SAEF_LOG_DEBUG:
        return "debug";
    }
    return "?";
}

static void host_log(void *ctx, saef_log_level_t level, const char *line)
{
    fprintf(stdout, "  module %s: %s\n", level_name(level), line);
    (void)ctx;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: saef-modinfo [-m MODULE.so] [-c HOST-CSE-ID] [CONFIG.ini]\n"
               "  Loads the module, prints its ABI and build information and, given a\n"
               "  configuration file, creates, starts and stops one instance with it.\n");
}

int main(int argc, char **argv)
{
    const char *module_path = "maf_saef.so", *cse_id = NULL;
    saef_host_api_t api = {.hdr = SAEF_ABI_HDR_INIT(saef_host_api_t), .log = host_log};
    ini_pairs_t pairs;
    saef_module_entry_fn entry;
    const saef_module_t *mod;
    saef_instance_t *inst = NULL;
    char err[512];
    void *dl;
    int opt, status = 0;
    saef_rc_t rc;

    while ((opt = getopt(argc, argv, "m:c:h")) != -1) {
        switch (opt) {
        case 'm':
            module_path = optarg;
            break;
        case 'c':
            cse_id = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "saef-modinfo: cannot load %s: %s\n", module_path, dlerror());
        return 1;
    }
    *(void **)&entry = dlsym(dl, SAEF_MODULE_ENTRY_SYMBOL);
    if (entry == NULL) {
        fprintf(stderr, "saef-modinfo: %s has no %s\n", module_path, SAEF_MODULE_ENTRY_SYMBOL);
        dlclose(dl);
        return 1;
    }
    mod = entry(SAEF_ABI_MAJOR, SAEF_ABI_MINOR);
    if (mod == NULL) {
        fprintf(stderr,
                "saef-modinfo: %s refused host ABI %u.%u or this process's OpenSSL/libcoap\n",
                module_path, (unsigned)SAEF_ABI_MAJOR, (unsigned)SAEF_ABI_MINOR);
        dlclose(dl);
        return 1;
    }
    printf("module:       %s %s (%s)\n", mod->name, mod->version, module_path);
    printf("ABI:          module %u.%u, host %u.%u, table %u bytes\n", mod->hdr.abi_major,
           mod->hdr.abi_minor, (unsigned)SAEF_ABI_MAJOR, (unsigned)SAEF_ABI_MINOR,
           mod->hdr.struct_size);
    printf("built for:    OpenSSL %d.x, libcoap %s\n", mod->openssl_major, mod->libcoap_version);
    if (optind >= argc) {
        dlclose(dl);
        return 0;
    }

    if (ini_pairs_load(argv[optind], &pairs, err, sizeof(err)) != 0) {
        fprintf(stderr, "saef-modinfo: %s\n", err);
        dlclose(dl);
        return 1;
    }
    printf("config:       %s, %zu module option(s)\n", argv[optind], pairs.n);
    api.cse_id = cse_id;
    rc = mod->create(&api, pairs.pairs, pairs.n, &inst, err, sizeof(err));
    if (rc != SAEF_OK) {
        printf("create:       FAILED: %s (%s)\n", err, mod->strerror(rc));
        status = 1;
    } else {
        printf("create:       ok\n");
        rc = mod->start(inst);
        printf("start:        %s\n", rc == SAEF_OK ? "ok" : mod->strerror(rc));
        status = rc == SAEF_OK ? 0 : 1;
        mod->stop(inst);
        mod->destroy(inst);
        printf("stop/destroy: ok\n");
    }
    ini_pairs_free(&pairs);
    dlclose(dl);
    return status;
}
