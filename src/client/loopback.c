/*
 * The loopback redirect listener for an interactive login (RFC 8252 section 7.3): listen on
 * 127.0.0.1 with a kernel-chosen port, wait for the browser to come back to /callback, answer it
 * with a short page, and hand the query (code, state, error, iss) to the OAuth flow.
 * libmicrohttpd does the HTTP parsing; it is already a dependency of the server side.
 *
 * Any local process, or a web page probing ports, can send a request to the listener. Only a
 * /callback whose state equals the one of the login in progress (constant-time compare) ends the
 * wait; any other gets a 400 page and the listener keeps waiting, up to MAX_BAD_CALLBACKS of them
 * (then the login fails: someone is hammering the port) and the login timeout.
 */
#include "client/internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define MAX_BAD_CALLBACKS 32
#define MAX_CALLBACK      16384     /* the redirect URI plus the parameters handed over */

struct mcp__loopback {
    struct MHD_Daemon *d;
    char              *redirect_uri;
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    char              *state;      /* the login's state: only a callback carrying it counts */
    char              *callback;   /* set once, by the first /callback with the right state */
    unsigned           bad;        /* /callback requests with another state (or none) */
    bool               too_large;  /* the right state, but the query did not fit MAX_CALLBACK */
    bool               done;
};

static const char page_ok[] =
    "<!doctype html><title>Login complete</title>"
    "<p>Login complete. You can close this window and return to the terminal.</p>";
static const char page_404[] = "not found";
static const char page_400[] =
    "<!doctype html><title>Unexpected login response</title>"
    "<p>This response does not belong to the login in progress and was ignored.</p>";
static const char page_too_large[] =
    "<!doctype html><title>Login failed</title>"
    "<p>The login response was too large and was refused. Return to the terminal.</p>";

static mcp_status
append_param(mcp_buf *b, struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL)
        return MCP_OK;
    char *enc = mcp__form_encode(v);
    if (enc == NULL)
        return MCP_ERR_NOMEM;
    mcp_status rc = mcp__buf_printf(b, "%c%s=%s", strchr(b->ptr, '?') ? '&' : '?', name, enc);
    mcp__free(enc);
    return rc;
}

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *page, const char *ctype)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(page), (void *)page,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req;
    mcp__loopback *l = cls;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/callback") != 0)
        return answer(conn, MHD_HTTP_NOT_FOUND, page_404, "text/plain");
    const char *st = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
    bool match = st != NULL && mcp_ct_equal(st, strlen(st), l->state, strlen(l->state));
    if (!match) {
        pthread_mutex_lock(&l->mu);
        if (!l->done && ++l->bad >= MAX_BAD_CALLBACKS) {
            l->done = true;                    /* callback stays NULL: the wait fails */
            pthread_cond_broadcast(&l->cv);
        }
        pthread_mutex_unlock(&l->mu);
        return answer(conn, MHD_HTTP_BAD_REQUEST, page_400, "text/html; charset=utf-8");
    }
    mcp_buf b;
    mcp__buf_init(&b, MAX_CALLBACK);
    mcp_status rc = mcp__buf_appends(&b, l->redirect_uri);
    static const char *const names[] = { "code", "state", "error", "error_description", "iss" };
    for (size_t i = 0; rc == MCP_OK && i < sizeof names / sizeof names[0]; i++)
        rc = append_param(&b, conn, names[i]);
    /* The right state but a query past MAX_CALLBACK (or no memory): the login cannot go on,
     * so the wait ends with that error now, and the browser is not told "complete". */
    bool taken = false;
    pthread_mutex_lock(&l->mu);
    if (!l->done) {
        if (rc == MCP_OK) {
            l->callback = mcp__buf_steal(&b, NULL);
            taken = l->callback != NULL;
        }
        l->too_large = !taken;
        l->done = true;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    mcp__buf_cleanup(&b);
    if (rc != MCP_OK)
        return answer(conn, MHD_HTTP_BAD_REQUEST, page_too_large, "text/html; charset=utf-8");
    return answer(conn, MHD_HTTP_OK, page_ok, "text/html; charset=utf-8");
}

mcp_status
mcp__loopback_open(const char *state, mcp__loopback **out, char **redirect_uri, mcp_error *err)
{
    *out = NULL;
    *redirect_uri = NULL;
    if (state == NULL || state[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "loopback login without a state");
    mcp__loopback *l = mcp__calloc(1, sizeof *l);
    if (l == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if ((l->state = mcp__strdup(state)) == NULL) {
        mcp__loopback_close(l);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;                                   /* ephemeral */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);       /* never beyond loopback */
    l->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            on_request, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)8,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (l->d == NULL) {
        mcp__loopback_close(l);
        return mcp_error_set(err, MCP_ERR_IO, "cannot listen on 127.0.0.1 for the login redirect");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        mcp__loopback_close(l);
        return mcp_error_set(err, MCP_ERR_IO, "cannot learn the loopback listener's port");
    }
    l->redirect_uri = mcp__aprintf("http://127.0.0.1:%u/callback", (unsigned)info->port);
    if (l->redirect_uri == NULL) {
        mcp__loopback_close(l);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    *redirect_uri = mcp__strdup(l->redirect_uri);
    if (*redirect_uri == NULL) {
        mcp__loopback_close(l);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    *out = l;
    return MCP_OK;
}

mcp_status
mcp__loopback_wait(mcp__loopback *l, unsigned timeout_ms, char **callback_url, mcp_error *err)
{
    *callback_url = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    int r = 0;
    while (!l->done && r == 0)
        r = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    bool flooded = false, too_large = false;
    if (l->done) {
        *callback_url = l->callback;
        l->callback = NULL;
        /* done without a callback: the flood limit ended it (a second wait after the
         * callback was handed over finds nothing, and is a plain timeout) */
        flooded = *callback_url == NULL && l->bad >= MAX_BAD_CALLBACKS;
        too_large = *callback_url == NULL && l->too_large;
        l->too_large = false;                  /* reported once, like the callback */
    }
    unsigned bad = l->bad;
    pthread_mutex_unlock(&l->mu);
    if (flooded)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED,
                             "the login listener got %u responses that did not belong to this "
                             "login; giving up", bad);
    if (too_large)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE,
                             "the login redirect was larger than %u bytes; refused",
                             (unsigned)MAX_CALLBACK);
    if (*callback_url == NULL)
        return mcp_error_set(err, MCP_ERR_TIMEOUT, "no login redirect arrived within %u.%03u s",
                             timeout_ms / 1000, timeout_ms % 1000);
    return MCP_OK;
}

void
mcp__loopback_close(mcp__loopback *l)
{
    if (l == NULL)
        return;
    if (l->d != NULL)
        MHD_stop_daemon(l->d);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    mcp__free(l->redirect_uri);
    mcp__free_secret(&l->state);
    mcp__free_secret(&l->callback);
    mcp__free(l);
}
