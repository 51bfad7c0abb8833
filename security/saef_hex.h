/* Hexadecimal digits and strings (either case in, lower case out).  Pure functions. */
#ifndef SAEF_HEX_H
#define SAEF_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit [0-9A-Fa-f], or -1. */
int saef_hex_value(int c);

/* Decode exactly 2 * outlen hex digits into out.  Returns false (out wiped) when hexlen is not
 * 2 * outlen or a character is not a hex digit. */
bool saef_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);

/* Encode len bytes as 2 * len lower-case digits and a NUL into out (2 * len + 1 bytes). */
void saef_hex_encode(const uint8_t *in, size_t len, char *out);

#endif
