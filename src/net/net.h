/*
 * src/net: outbound HTTP for the layers above (jwt, authn, client). This is the folder's API
 * for other folders (STYLE.md section 8); it depends on src/common only.
 */
#ifndef MCP_SRC_NET_NET_H
#define MCP_SRC_NET_NET_H

#include "common/common.h"

#include <stdbool.h>

/* What mcp__auth_url_check says for each failed check; each caller keeps its own wording. */
typedef struct mcp__auth_url_msgs {
    const char *invalid;    /* libcurl cannot parse it, or it has no scheme or host */
    const char *not_http;   /* the scheme is neither http nor https */
    const char *insecure;   /* http to a host that is not loopback, without allow_insecure */
} mcp__auth_url_msgs;

/*
 * The URL policy for endpoints the auth layer fetches from (JWKS, introspection): https is
 * required, except http to a loopback host (localhost, ::1, 127.0.0.0/8 as a dotted quad) or
 * any http when allow_insecure is set. Schemes compare case-insensitively.
 *
 * @param url            Borrowed for the call.
 * @param msgs           Borrowed; the message put into err for each failed check.
 * @param[out] err       Optional.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (err holds the matching message), or MCP_ERR_NOMEM.
 */
mcp_status mcp__auth_url_check(const char *url, bool allow_insecure,
                               const mcp__auth_url_msgs *msgs, mcp_error *err);

#endif
