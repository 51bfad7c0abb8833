/* Result codes (the enum lives in the public ABI header) and their names. */
#ifndef SAEF_RC_H
#define SAEF_RC_H

#include "saef/module.h"

/* Static, human-readable text for rc; "unknown result code" for a value not in the enum.
 * Thread-safe, never NULL. */
const char *saef_strerror(saef_rc_t rc);

#endif
