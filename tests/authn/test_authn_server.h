/* Helpers shared by test_apikey_http.c and test_jwt_http.c: a real stateless server on
 * 127.0.0.1 (port 0) with one authentication item and two tools, "whoami" (any authenticated
 * caller; answers "subject=... kind=... key=...") and "admin_only" (needs Admin.Write).
 * Header-only; each test includes it once. */
#ifndef MCP_TEST_AUTHN_SERVER_H
#define MCP_TEST_AUTHN_SERVER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/server.h>
#include <stdio.h>

static mcp_status
whoami(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    (void)udata;
    const mcp_principal *p = mcp_ctx_principal(ctx);
    char text[256];
    snprintf(text, sizeof text, "subject=%s kind=%s key=%s", mcp_principal_subject(p),
             mcp_cred_kind_name(mcp_principal_kind(p)), mcp_principal_key_id(p));
    return mcp_ctx_add_text(ctx, text, err);
}

static const char *const admin_perms[] = { "Admin.Write", NULL };

/* Start the server with authn (ctx borrowed for the server's life) in the AUTHN phase; *srv
 * gets it (free with mcp_server_free) and url its endpoint. Fails the test when it cannot.
 * Returns the port. */
static uint16_t
authn_server_start(mcp_middleware_fn authn, void *ctx, mcp_server **srv, char url[128])
{
    mcp_error err;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    so.workers = 1;
    assert_int_equal(mcp_server_new(&so, srv, &err), MCP_OK);
    mcp_tool_def who = { .name = "whoami", .description = "who is calling",
                         .access = { .any_authenticated = true }, .handler = whoami,
                         .flags = MCP_TOOL_INLINE };
    mcp_tool_def adm = { .name = "admin_only", .description = "needs Admin.Write",
                         .access = { .any_of_perms = admin_perms }, .handler = whoami,
                         .flags = MCP_TOOL_INLINE };
    assert_int_equal(mcp_server_add_tool(*srv, &who, NULL, &err), MCP_OK);
    assert_int_equal(mcp_server_add_tool(*srv, &adm, NULL, &err), MCP_OK);
    assert_int_equal(mcp_server_use(*srv, MCP_PHASE_AUTHN, authn, ctx, &err), MCP_OK);
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = false;
    mcp_status rc = mcp_server_listen_http(*srv, &ho, &err);
    if (rc != MCP_OK)
        fprintf(stderr, "listen: %s\n", err.message);
    assert_int_equal(rc, MCP_OK);
    uint16_t port = mcp_server_http_port(*srv);
    snprintf(url, 128, "http://127.0.0.1:%u/mcp", (unsigned)port);
    return port;
}

#endif
