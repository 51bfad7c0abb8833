/* ASCII text: case and hexadecimal digits, independent of the host process's locale (in a
 * Turkish locale tolower('I') is not 'i').  Pure functions. */
#ifndef SAEF_ASCII_H
#define SAEF_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* c with A-Z lowered to a-z, every other byte unchanged. */
char saef_ascii_lower(char c);

/* The n bytes at a and b are equal, ignoring the case of A-Z. */
bool saef_ascii_ieq(const char *a, const char *b, size_t n);

/* The value of one hex digit [0-9A-Fa-f], or -1. */
int saef_hex_value(int c);

/* Decode exactly 2 * outlen hex digits into out.  Returns false (out wiped) when hexlen is not
 * 2 * outlen or a character is not a hex digit. */
bool saef_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);

/* Encode len bytes as 2 * len lower-case digits and a NUL into out (2 * len + 1 bytes). */
void saef_hex_encode(const uint8_t *in, size_t len, char *out);

#endif /* SAEF_ASCII_H */
