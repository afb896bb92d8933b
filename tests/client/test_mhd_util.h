/* Helpers shared by the client tests that run an in-process libmicrohttpd server
 * (test_client_http.c, test_oauth_flow.c): collecting a request body and starting the server
 * on 127.0.0.1 with a free port. Header-only; each test includes it once. */
#ifndef MCP_TEST_MHD_UTIL_H
#define MCP_TEST_MHD_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A request's body, NUL-terminated once complete (per connection, in *con_cls). */
typedef struct req_ctx {
    char  *body;
    size_t len;
} req_ctx;

/* MHD_OPTION_NOTIFY_COMPLETED: release the request's req_ctx. */
static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)conn;
    (void)t;
    req_ctx *c = *con_cls;
    if (c != NULL) {
        free(c->body);
        free(c);
    }
    *con_cls = NULL;
}

/* The start of an access handler: true while the request is still arriving (the handler
 * returns MHD_YES), false once the whole body is in the req_ctx at *con_cls. */
static bool
req_collect(void **con_cls, const char *upload, size_t *upload_size)
{
    req_ctx *c = *con_cls;
    if (c == NULL) {
        *con_cls = calloc(1, sizeof(req_ctx));
        return true;
    }
    if (*upload_size > 0) {
        c->body = realloc(c->body, c->len + *upload_size + 1);
        memcpy(c->body + c->len, upload, *upload_size);
        c->len += *upload_size;
        c->body[c->len] = '\0';
        *upload_size = 0;
        return true;
    }
    return false;
}

/* Start handler on 127.0.0.1 with a port the kernel picks (thread per connection, bodies
 * released by completed()); fails the test when it cannot. */
static struct MHD_Daemon *
mhd_start_loopback(MHD_AccessHandlerCallback handler)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_END);
    assert_non_null(d);
    return d;
}

#endif
