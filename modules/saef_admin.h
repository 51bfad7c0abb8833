/* The module's management resources: see admin.c for the resources and their answers. */
#ifndef SAEF_ADMIN_H
#define SAEF_ADMIN_H

#include "saef_instance_internal.h"

/* saef_module_t.admin_request for a started instance (the caller checked the arguments and
 * the state).  Always SAEF_OK with resp->rsc set; resp->body is JSON (saef_admin_free()). */
saef_rc_t saef_admin_serve(saef_instance_t *inst, const saef_admin_request_t *req,
                           saef_admin_response_t *resp);

/* saef_module_t.admin_response_free. */
void saef_admin_free(saef_admin_response_t *resp);

#endif
