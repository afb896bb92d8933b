/*
 * Combined authentication: one AUTHN item that routes a credential by its shape.
 *
 * Why one item rather than installing mcp_apikey_authn and mcp_jwt_authn side by side: the phase
 * runner stops at the first item that fails (fail closed, STYLE.md section 10), so two
 * authenticators in a row would mean "both must pass". Routing by shape inside one item keeps
 * the runner simple and makes the answer for each case explicit (docs/design/authentication.md).
 *
 * The shapes cannot be confused: an API key starts with "mcp_" and has no dots; a compact JWS is
 * exactly three base64url segments; anything else is opaque. The "mcp_" prefix is therefore
 * reserved: an authorization server whose opaque tokens start with it cannot be used together
 * with API keys (none known does).
 */
#include <mcp/authn.h>

#include "authn/authn.h"
#include "common/common.h"

#include <string.h>
#include <strings.h>

struct mcp_authn {
    mcp_authn_opts opts;
};

void
mcp_authn_opts_default(mcp_authn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->check_jwt_revocation = true;
}

mcp_status
mcp_authn_new(const mcp_authn_opts *o, mcp_authn **out, mcp_error *err)
{
    *out = NULL;
    if (o == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (o->api_keys && o->store == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "API keys need a store");
    if (!o->api_keys && o->jwt == NULL && o->introspector == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no authentication method enabled");
    mcp_authn *a = mcp__calloc(1, sizeof *a);
    if (a == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    a->opts = *o;
    *out = a;
    return MCP_OK;
}

void
mcp_authn_free(mcp_authn *a)
{
    mcp__free(a);
}

/* Character classes of the credential scanners, one table lookup per byte (the token is read
 * twice per request): CH_B64URL A-Z a-z 0-9 - _, CH_DOT '.', CH_B64TOKEN the other RFC 6750
 * b64token characters ~ + /. Bytes >= 0x80 are in no class. */
enum { CH_B64URL = 1, CH_DOT = 2, CH_B64TOKEN = 4 };
static const unsigned char ch_class[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 2, 4,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 4, 0,
};

static inline unsigned
char_class(unsigned char c)
{
    return c < 128 ? ch_class[c] : 0;
}

static bool
b64url_char(unsigned char c)
{
    return (char_class(c) & CH_B64URL) != 0;
}

mcp_credential_shape
mcp_authn_classify(const char *t, size_t len)
{
    if (len >= sizeof MCP_APIKEY_PREFIX - 1 &&
        memcmp(t, MCP_APIKEY_PREFIX, sizeof MCP_APIKEY_PREFIX - 1) == 0)
        return MCP_CREDENTIAL_API_KEY;
    size_t dots = 0, seg = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '.') {
            if (seg == 0 || ++dots > 2)
                return MCP_CREDENTIAL_OPAQUE;
            seg = 0;
        } else if (b64url_char(c)) {
            seg++;
        } else {
            return MCP_CREDENTIAL_OPAQUE;
        }
    }
    return dots == 2 && seg > 0 ? MCP_CREDENTIAL_JWS : MCP_CREDENTIAL_OPAQUE;
}

/* RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static size_t
b64token_len(const char *t)
{
    size_t n = 0;
    for (;; n++) {
        unsigned char c = (unsigned char)t[n];
        if (char_class(c) == 0)           /* b64url, '.', '~', '+', '/' */
            break;
    }
    if (n == 0)
        return 0;
    while (t[n] == '=')
        n++;
    return n;
}

static mcp_status
fail(mcp_request *req, const char *challenge, mcp_error *err, const char *msg)
{
    (void)mcp_request_set_challenge(req, challenge, NULL);
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "%s", msg);
}

/* Map a verifier's result: OK and the 503/500 statuses pass through; everything else is 401
 * invalid_token with the verifier's message (which names the check, never the token). */
static mcp_status
verdict(mcp_request *req, mcp_status rc, const mcp_principal *p, mcp_error *err)
{
    switch (rc) {
    case MCP_OK:
        mcp_request_set_principal(req, p);   /* takes its own reference */
        mcp_principal_unref(p);
        return MCP_OK;
    case MCP_ERR_STORE:
    case MCP_ERR_NOMEM:
        return rc;
    case MCP_ERR_TOO_LARGE:
        return fail(req, "invalid_token", err, "token too large");
    default:
        (void)mcp_request_set_challenge(req, "invalid_token", NULL);
        if (err != NULL && err->message[0] == '\0')
            mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "invalid token");
        if (err != NULL)
            err->code = MCP_ERR_UNAUTHENTICATED;
        return MCP_ERR_UNAUTHENTICATED;
    }
}

static mcp_status
by_introspection(mcp_authn *a, mcp_request *req, const char *t, size_t len, mcp_error *err)
{
    mcp_principal *p = NULL;
    /* An introspection exchange can take seconds: never on an HTTP IO thread. The server
     * reruns this phase on a worker (mcp_request_can_block). */
    if (!mcp_request_can_block(req))
        return MCP_ERR_WOULD_BLOCK;
    mcp_status rc = mcp_introspect_verify(a->opts.introspector, t, len, &p, err);
    return verdict(req, rc, p, err);
}

static mcp_status
by_jwt(mcp_authn *a, mcp_request *req, const char *t, size_t len, mcp_error *err)
{
    mcp_principal *p = NULL;
    /* An unknown kid may need a JWKS fetch (seconds): never on an HTTP IO thread. The server
     * reruns this phase on a worker (mcp_request_can_block), as for introspection. */
    mcp__authn_note note = { req, false };     /* the note, from the verifier's digest */
    mcp_status rc = mcp_jwt_verify_ex(a->opts.jwt, t, len, mcp_request_can_block(req),
                                      mcp__authn_note_jwt_digest, &note, &p, err);
    if (note.limited)
        return MCP_ERR_RATE_LIMITED;
    if (rc == MCP_ERR_WOULD_BLOCK)
        return rc;
    if (rc == MCP_OK && a->opts.store != NULL && a->opts.check_jwt_revocation) {
        const char *jti = mcp_principal_jti(p);
        bool revoked = false;
        if (jti != NULL && jti[0] != '\0') {
            mcp_status r2 = mcp_store_token_is_revoked(a->opts.store, jti, &revoked, err);
            if (r2 != MCP_OK) {
                mcp_principal_unref(p);
                /* An unreadable store is 503; a jti the store refuses as malformed is a bad
                 * token. Either way the token is not accepted. */
                return r2 == MCP_ERR_INVALID_ARG ? fail(req, "invalid_token", err,
                                                        "malformed token: jti")
                                                 : r2;
            }
        }
        if (revoked) {
            mcp_principal_unref(p);
            return fail(req, "invalid_token", err, "token revoked");
        }
    }
    return verdict(req, rc, p, err);
}

static mcp_status
by_api_key(mcp_authn *a, mcp_request *req, const char *t, size_t len, mcp_error *err)
{
    const mcp_principal *p = NULL;
    mcp_status rc = mcp_store_key_verify(a->opts.store, t, len, &p, err);
    return verdict(req, rc, p, err);
}

mcp_status
mcp_authn_middleware(mcp_request *req, void *ctx, mcp_error *err)
{
    mcp_authn *a = ctx;
    const char *authz = mcp_request_header(req, "Authorization");
    const char *xkey = mcp_request_header(req, "X-API-Key");
    const char *t;
    size_t len;

    if (authz == NULL && xkey == NULL)
        /* RFC 6750 section 3.1: a request that carried no authentication gets no error code
         * (the empty code: a bare "Bearer resource_metadata=..." challenge); the check's name
         * is in the JSON-RPC error. */
        return fail(req, "", err, "missing Authorization header");
    if (authz != NULL && xkey != NULL)
        return fail(req, "invalid_request", err,
                    "both Authorization and X-API-Key headers present");
    if (xkey != NULL) {
        t = xkey;
        len = b64token_len(t);
        if (len == 0 || t[len] != '\0')
            return fail(req, "invalid_request", err, "malformed X-API-Key header");
        if (!a->opts.api_keys)
            return fail(req, "invalid_token", err, "API key authentication is not enabled");
        if (mcp_authn_classify(t, len) != MCP_CREDENTIAL_API_KEY)
            return fail(req, "invalid_token", err, "X-API-Key does not hold an API key");
        if (mcp__authn_note_credential(req, t, len, err) != MCP_OK)
            return MCP_ERR_RATE_LIMITED;
        return by_api_key(a, req, t, len, err);
    }

    static const char scheme[] = "Bearer";
    size_t sl = sizeof scheme - 1;
    if (strncasecmp(authz, scheme, sl) != 0 || (authz[sl] != ' ' && authz[sl] != '\0'))
        return fail(req, "invalid_request", err, "Authorization scheme is not Bearer");
    t = authz + sl;
    while (*t == ' ')
        t++;
    len = b64token_len(t);
    if (len == 0 || t[len] != '\0')
        return fail(req, "invalid_request", err, "malformed Authorization header");

    mcp_credential_shape kind = mcp_authn_classify(t, len);
    /* a JWT for the verifier is noted by by_jwt, from the digest the verifier computes */
    if ((kind != MCP_CREDENTIAL_JWS || a->opts.jwt == NULL) &&
        mcp__authn_note_credential(req, t, len, err) != MCP_OK)
        return MCP_ERR_RATE_LIMITED;
    switch (kind) {
    case MCP_CREDENTIAL_API_KEY:
        if (!a->opts.api_keys)
            return fail(req, "invalid_token", err, "API key authentication is not enabled");
        return by_api_key(a, req, t, len, err);
    case MCP_CREDENTIAL_JWS:
        if (a->opts.jwt != NULL)
            return by_jwt(a, req, t, len, err);
        if (a->opts.introspector != NULL)
            return by_introspection(a, req, t, len, err);
        return fail(req, "invalid_token", err, "JWT authentication is not enabled");
    case MCP_CREDENTIAL_OPAQUE:
        break;
    }
    if (a->opts.introspector != NULL)
        return by_introspection(a, req, t, len, err);
    return fail(req, "invalid_token", err,
                "opaque tokens are not accepted (token introspection is not enabled)");
}
