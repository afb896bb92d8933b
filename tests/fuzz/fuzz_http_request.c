/*
 * libFuzzer target: an HTTP request head from an untrusted client, as far as our code parses it
 * (libmicrohttpd splits the request line and header lines; this target splits them the same
 * simple way and hands the values to our code):
 *   - the transport checks' header rules (src/transport/http_checks.c): Host / Origin (DNS
 *     rebinding, with and without allow-lists), message framing (Content-Length vs
 *     Transfer-Encoding), MCP-Protocol-Version, Content-Type, Accept, Content-Length;
 *   - the 2026 request headers (src/protocol/mcp_headers.c): Mcp-Method / Mcp-Name and every
 *     Mcp-Param-* value through the decoder;
 *   - the credential headers (Authorization, X-API-Key) through the three AUTHN middlewares:
 *     mcp_authn_middleware, mcp_jwt_authn, mcp_apikey_authn.
 * Invariants: nothing crashes or leaks; an accepted Host/Origin without allow-lists names a
 * loopback host; decoded values are NUL-free and bounded; no credential is ever accepted (the
 * fuzzer knows no key: the store holds none, the JWT key is a secret HMAC key).
 */
#include <mcp/mcp.h>

#include "protocol/mcp_headers.h"
#include "transport/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_HEADERS 64

typedef struct head {
    char       *key[MAX_HEADERS];
    char       *val[MAX_HEADERS];
    size_t      n;
} head;

static mcp_server *srv;
static mcp_store *store;
static mcp_jwt_verifier *jwt;
static mcp_authn *authn;

static void
init(void)
{
    mcp_error err;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    if (mcp_server_new(&so, &srv, &err) != MCP_OK)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_http_request.%ld.db", (long)getpid());
    (void)unlink(path);
    if (mcp_store_open(path, NULL, &store, &err) != MCP_OK)
        abort();
    mcp_jwt_opts jo;
    mcp_jwt_opts_default(&jo);
    jo.issuer = "https://issuer.example";
    jo.audience = "https://mcp.example/mcp";
    if (mcp_jwt_verifier_new(&jo, &jwt, &err) != MCP_OK)
        abort();
    static const char secret[] = "fuzz-http-secret-fuzz-http-secret-32b";
    if (mcp_jwt_verifier_add_hmac(jwt, "k1", "HS256", secret, sizeof secret - 1, &err) != MCP_OK)
        abort();
    mcp_authn_opts ao;
    mcp_authn_opts_default(&ao);
    ao.store = store;
    ao.api_keys = true;
    ao.jwt = jwt;
    if (mcp_authn_new(&ao, &authn, &err) != MCP_OK)
        abort();
    /* the store file is only needed open; remove its name now (no litter in /tmp) */
    (void)unlink(path);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", path);
    (void)unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    (void)unlink(wal);
}

/* MHD_lookup_connection_value: the first header with that name, case-insensitive. */
static const char *
lookup(void *tctx, const char *name)
{
    const head *h = tctx;
    for (size_t i = 0; i < h->n; i++)
        if (mcp__strcasecmp(h->key[i], name) == 0)
            return h->val[i];
    return NULL;
}

static char *
trimmed(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    char *o = malloc(n + 1);
    if (o == NULL)
        abort();
    memcpy(o, s, n);
    o[n] = '\0';
    return o;
}

/* "METHOD PATH HTTP/1.1\r\n" then "Key: value\r\n" lines; a line without ':' is skipped. */
static void
split(const char *d, size_t n, head *h, char **method)
{
    size_t i = 0;
    bool first = true;
    while (i < n && h->n < MAX_HEADERS) {
        const char *line = d + i;
        const char *nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) : n - i;
        i += len + (nl ? 1 : 0);
        if (first) {
            first = false;
            size_t ml = 0;
            while (ml < len && line[ml] != ' ')
                ml++;
            *method = trimmed(line, ml);
            continue;
        }
        const char *colon = memchr(line, ':', len);
        if (colon == NULL || colon == line)
            continue;
        h->key[h->n] = trimmed(line, (size_t)(colon - line));
        h->val[h->n] = trimmed(colon + 1, len - (size_t)(colon - line) - 1);
        h->n++;
    }
    if (*method == NULL)
        *method = trimmed("POST", 4);
}

static bool
starts_local(const char *s)
{
    return strncmp(s, "localhost", 9) == 0 || strncmp(s, "127.0.0.1", 9) == 0 ||
           strncmp(s, "[::1]", 5) == 0;
}

static void
transport_checks(const head *h)
{
    const char *host = lookup((void *)h, "Host"), *origin = lookup((void *)h, "Origin");
    static char *ahosts[] = { "mcp.example.com", "mcp.example.com:8443", NULL };
    static char *aorigins[] = { "https://app.example", NULL };
    (void)mcp__http_host_ok(host, origin, ahosts, aorigins);
    if (mcp__http_host_ok(host, origin, NULL, NULL)) {
        if (host == NULL || !starts_local(host))
            abort();                   /* a non-loopback Host got through without a list */
        if (origin != NULL) {
            const char *p = strstr(origin, "://");
            if (p == NULL || !starts_local(p + 3))
                abort();
        }
    }
    mcp__http_framing f = { 0, 0 };
    for (size_t i = 0; i < h->n; i++)
        mcp__http_framing_add(&f, h->key[i], h->val[i]);
    if (mcp__http_framing_ok(&f) && f.cl > 1)
        abort();
    const char *pv = lookup((void *)h, "MCP-Protocol-Version");
    if (pv != NULL)
        (void)mcp__version_supported(pv);
    (void)mcp__http_content_type_ok(lookup((void *)h, "Content-Type"));
    (void)mcp__http_accept_ok(lookup((void *)h, "Accept"));
    (void)mcp__http_header_has(lookup((void *)h, "Accept"), "text/event-stream");
    (void)mcp__http_content_length_ok(lookup((void *)h, "Content-Length"), 1u << 20);
}

static void
check_decoded(const char *out, size_t len)
{
    if (out == NULL || strlen(out) != len || len > MCP__HDR_MAX_VALUE)
        abort();
}

static void
mcp_headers(const head *h)
{
    mcp_error err;
    mcp__hdr_target t;
    memset(&t, 0, sizeof t);
    const char *m = lookup((void *)h, "Mcp-Method"), *nm = lookup((void *)h, "Mcp-Name");
    if (mcp__hdr_target_read(m, nm, &t, &err) == MCP_OK) {
        if (t.name != NULL)
            check_decoded(t.name, t.name_len);
        json_t *params = json_pack("{s:s?}", "name", t.name);
        (void)mcp__hdr_verify_body(&t, t.method, params, &err);
        json_decref(params);
    }
    mcp__hdr_target_cleanup(&t);
    for (size_t i = 0; i < h->n; i++) {
        if (strncasecmp(h->key[i], "Mcp-Param-", 10) != 0)
            continue;
        (void)mcp__hdr_token_ok(h->key[i] + 10, strlen(h->key[i] + 10));
        char *out = NULL;
        size_t ol = 0;
        if (mcp__hdr_decode(h->val[i], strlen(h->val[i]), &out, &ol, &err) == MCP_OK) {
            check_decoded(out, ol);
            json_t *s = json_string(out), *n = json_integer(42), *b = json_true();
            (void)mcp__hdr_param_matches(out, s);
            (void)mcp__hdr_param_matches(out, n);
            (void)mcp__hdr_param_matches(out, b);
            json_decref(s);
            json_decref(n);
            json_decref(b);
            mcp__free(out);
        }
    }
}

typedef mcp_status (*authn_fn)(mcp_request *req, void *ctx, mcp_error *err);

static void
credentials(head *h, const char *method)
{
    const authn_fn fns[] = { mcp_authn_middleware, mcp_jwt_authn, mcp_apikey_authn };
    void *ctxs[] = { authn, jwt, store };
    for (size_t i = 0; i < 3; i++) {
        mcp_request req;
        mcp_error err;
        mcp_error_clear(&err);
        mcp__request_init(&req, srv);
        req.http_method = method;
        req.path = "/mcp";
        req.header = lookup;
        req.tctx = h;
        req.peer = "127.0.0.1";
        mcp_status rc = fns[i](&req, ctxs[i], &err);
        if (rc == MCP_OK || req.principal != NULL)
            abort();                   /* a credential the fuzzer cannot know was accepted */
        mcp__request_cleanup(&req);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv == NULL)
        init();
    head h;
    memset(&h, 0, sizeof h);
    char *method = NULL;
    split((const char *)data, size, &h, &method);
    transport_checks(&h);
    mcp_headers(&h);
    credentials(&h, method);
    for (size_t i = 0; i < h.n; i++) {
        free(h.key[i]);
        free(h.val[i]);
    }
    free(method);
    return 0;
}
