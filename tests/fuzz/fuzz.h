/* The libFuzzer entry point each fuzz target defines; replay_main.c calls it when the targets
 * are built without libFuzzer. */
#ifndef SAEF_FUZZ_H
#define SAEF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input.  data is borrowed for the call; the return value is always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* SAEF_FUZZ_H */
