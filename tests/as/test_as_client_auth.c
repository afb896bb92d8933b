/* Unit tests of private_key_jwt (RFC 7523 client assertions) in the embedded authorization
 * server: registration of a client's public keys, and every rejection at /token, /revoke and
 * /introspect (signature, alg pinned by the key, iss, sub, aud, exp, jti replay, mixed methods). */
#include "../store/test_store_util.h"

#include "as/internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ISSUER "http://127.0.0.1:1"

typedef struct fake {
    mcp_http_route_req rq;
    const char *ctype;
    const char *authz;
} fake;

static const char *
fake_header(const mcp_http_route_req *rq, const char *name)
{
    const fake *f = (const fake *)(const void *)rq;
    if (strcmp(name, "Content-Type") == 0)
        return f->ctype;
    if (strcmp(name, "Authorization") == 0)
        return f->authz;
    return NULL;
}

static const char *
fake_query(const mcp_http_route_req *rq, const char *name, unsigned *count)
{
    (void)rq;
    (void)name;
    if (count != NULL)
        *count = 0;
    return NULL;
}

static void
post(mcp_as *as, const char *path, const char *body, mcp_http_route_resp *rs)
{
    fake f = { .rq = { .method = "POST", .path = path, .peer = "127.0.0.1", .body = body,
                       .body_len = strlen(body), .header = fake_header, .query = fake_query },
               .ctype = "application/x-www-form-urlencoded" };
    memset(rs, 0, sizeof *rs);
    mcp_as_route(as, &f.rq, rs);
}

static void
resp_free(mcp_http_route_resp *rs)
{
    mcp__free(rs->body);
    for (unsigned i = 0; i < rs->nheaders; i++)
        mcp__free(rs->header_value[i]);
    memset(rs, 0, sizeof *rs);
}

/* An EC P-256 key: its private PEM and its public JWK (kid given). */
typedef struct ckey {
    char *pem;
    char *jwk;
} ckey;

static char *
coord(EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char c[32];
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, c, sizeof c), 32);
    BN_free(bn);
    return mcp__b64url_encode(c, sizeof c);
}

static ckey
ckey_new(const char *kid, bool with_private)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    ckey ck = { .pem = mcp__strndup(p, (size_t)n) };
    BIO_free(b);
    char *x = coord(k, OSSL_PKEY_PARAM_EC_PUB_X), *y = coord(k, OSSL_PKEY_PARAM_EC_PUB_Y);
    ck.jwk = mcp__aprintf("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
                          "\"kid\":\"%s\"%s}", x, y, kid,
                          with_private ? ",\"d\":\"AAAA\"" : "");
    mcp__free(x);
    mcp__free(y);
    EVP_PKEY_free(k);
    return ck;
}

static void
ckey_free(ckey *k)
{
    mcp__free(k->pem);
    mcp__free(k->jwk);
}

/* A signed assertion; exp_in 0 = no exp, jti NULL = none. */
static char *
assertion(const ckey *k, const char *kid, const char *iss, const char *sub, const char *aud,
          long exp_in, const char *jti)
{
    int64_t now = mcp__unix_now();
    json_t *c = json_pack("{s:s, s:s, s:s, s:I}", "iss", iss, "sub", sub, "aud", aud, "iat",
                          (json_int_t)now);
    if (exp_in != 0)
        json_object_set_new(c, "exp", json_integer((json_int_t)(now + exp_in)));
    if (jti != NULL)
        json_object_set_new(c, "jti", json_string(jti));
    char *claims = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char *tok = NULL;
    mcp_error e;
    assert_int_equal(mcp_jwt_sign("ES256", k->pem, strlen(k->pem), claims, kid, &tok, &e),
                     MCP_OK);
    mcp__free(claims);
    return tok;
}

static char *
body_with(const char *grant_and_more, const char *tok)
{
    return mcp__aprintf("%s&client_assertion_type=" ASSERTION_TYPE "&client_assertion=%s",
                        grant_and_more, tok);
}

/* POST the client_credentials grant with tok: the status, and the body checked for want. */
static unsigned
cc(mcp_as *as, const char *tok, const char *want)
{
    char *b = body_with("grant_type=client_credentials", tok);
    mcp_http_route_resp rs;
    post(as, "/token", b, &rs);
    unsigned st = rs.status;
    if (want != NULL && (rs.body == NULL || strstr(rs.body, want) == NULL))
        fail_msg("status %u body %s: no \"%s\"", st, rs.body ? rs.body : "(none)", want);
    resp_free(&rs);
    mcp__free(b);
    return st;
}

typedef struct world {
    tdir      *t;
    mcp_store *s;
    mcp_as    *as;
    ckey       k1, other;
} world;

static void
world_up(world *w, tdir *t)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    mcp_error e;
    assert_int_equal(mcp_store_open(t->db, NULL, &w->s, &e), MCP_OK);
    const char *roles[] = { "user", NULL };
    assert_int_equal(mcp_store_user_add_with_roles(w->s, "alice", "Alice", roles, &e), MCP_OK);
    char key[160];
    snprintf(key, sizeof key, "%s/as.pem", t->dir);
    const char *res[] = { ISSUER "/mcp", NULL };
    mcp_as_opts o;
    mcp_as_opts_default(&o);
    o.store = w->s;
    o.resources = res;
    o.key_file = key;
    o.issuer = ISSUER;
    assert_int_equal(mcp_as_new(&o, &w->as, &e), MCP_OK);
    w->k1 = ckey_new("k1", false);
    w->other = ckey_new("k1", false);   /* same kid, another key */
    mcp_as_client_def d = { .id = "svc", .jwks = w->k1.jwk, .owner = "alice" };
    char *secret = NULL;
    if (mcp_as_client_add(w->s, &d, &secret, &e) != MCP_OK)
        fail_msg("client add: %s", e.message);
    assert_null(secret);   /* a key client has no secret */
}

static void
world_down(world *w)
{
    ckey_free(&w->k1);
    ckey_free(&w->other);
    mcp_as_free(w->as);
    mcp_store_close(w->s);
}

/* ---- registration ----------------------------------------------------------------------- */

static bool
list_cb(void *ctx, const mcp_as_client_info *c)
{
    if (strcmp(c->id, "svc") == 0) {
        *(int *)ctx = (c->private_key_jwt ? 1 : 0) + (c->confidential ? 2 : 0);
    }
    return true;
}

static void
registration_checks_the_keys(void **state)
{
    world w;
    world_up(&w, *state);
    mcp_error e;
    char *secret = NULL;
    int seen = 0;
    assert_int_equal(mcp_as_client_list(w.s, list_cb, &seen, &e), MCP_OK);
    assert_int_equal(seen, 3);   /* private_key_jwt, and confidential */
    /* secret and keys together */
    mcp_as_client_def d = { .id = "both", .jwks = w.k1.jwk, .confidential = true };
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    assert_null(secret);
    /* a symmetric key (that would be client_secret_jwt) */
    d = (mcp_as_client_def){ .id = "oct", .jwks = "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\","
                                                  "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}" };
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "symmetric"));
    /* a private key given by mistake */
    ckey priv = ckey_new("p", true);
    d = (mcp_as_client_def){ .id = "priv", .jwks = priv.jwk };
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "private key"));
    ckey_free(&priv);
    /* not JSON, an empty set, a key of an unsupported curve */
    d = (mcp_as_client_def){ .id = "junk", .jwks = "not json" };
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    d.jwks = "{\"keys\":[]}";
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    d.jwks = "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}";
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_ERR_INVALID_ARG);
    /* the metadata says it */
    mcp_http_route_resp rs;
    fake f = { .rq = { .method = "GET", .path = "/.well-known/oauth-authorization-server",
                       .peer = "127.0.0.1", .body = "", .header = fake_header,
                       .query = fake_query } };
    memset(&rs, 0, sizeof rs);
    mcp_as_route(w.as, &f.rq, &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"client_secret_post\",\"private_key_jwt\"]"));
    assert_non_null(strstr(rs.body, "\"token_endpoint_auth_signing_alg_values_supported\":[\"ES256\""));
    resp_free(&rs);
    world_down(&w);
}

/* ---- the token endpoint ----------------------------------------------------------------- */

static void
assertion_accepted_once(void **state)
{
    world w;
    world_up(&w, *state);
    char *t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, "j-1");
    assert_int_equal(cc(w.as, t, "\"access_token\""), 200);
    /* the same assertion again: a replay */
    assert_int_equal(cc(w.as, t, "replay"), 401);
    mcp__free(t);
    /* aud may also be the issuer; the jti is another one */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER, 60, "j-2");
    assert_int_equal(cc(w.as, t, "\"access_token\""), 200);
    mcp__free(t);
    /* client_id in the form, matching */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, "j-3");
    char *b = body_with("grant_type=client_credentials&client_id=svc", t);
    mcp_http_route_resp rs;
    post(w.as, "/token", b, &rs);
    assert_int_equal(rs.status, 200);
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    world_down(&w);
}

static void
assertion_rejections(void **state)
{
    world w;
    world_up(&w, *state);
    char *t;
    /* signed by another key with the registered kid */
    t = assertion(&w.other, "k1", "svc", "svc", ISSUER "/token", 60, "r-1");
    assert_int_equal(cc(w.as, t, "signature invalid"), 401);
    mcp__free(t);
    /* iss is not the client */
    t = assertion(&w.k1, "k1", "someone", "svc", ISSUER "/token", 60, "r-2");
    assert_int_equal(cc(w.as, t, "issuer mismatch"), 401);
    mcp__free(t);
    /* sub is not the client (the client is named in the form) */
    t = assertion(&w.k1, "k1", "svc", "alice", ISSUER "/token", 60, "r-3");
    char *b = body_with("grant_type=client_credentials&client_id=svc", t);
    mcp_http_route_resp rs;
    post(w.as, "/token", b, &rs);
    assert_int_equal(rs.status, 401);
    assert_non_null(strstr(rs.body, "sub is not the client id"));
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    /* aud is someone else */
    t = assertion(&w.k1, "k1", "svc", "svc", "https://other.example/token", 60, "r-4");
    assert_int_equal(cc(w.as, t, "aud is not this authorization server"), 401);
    mcp__free(t);
    /* no exp, an exp too far ahead, an expired one */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 0, "r-5");
    assert_int_equal(cc(w.as, t, "missing exp"), 401);
    mcp__free(t);
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 3600, "r-6");
    assert_int_equal(cc(w.as, t, "too far ahead"), 401);
    mcp__free(t);
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", -120, "r-7");
    assert_int_equal(cc(w.as, t, "expired"), 401);
    mcp__free(t);
    /* no jti */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, NULL);
    assert_int_equal(cc(w.as, t, "jti is missing"), 401);
    mcp__free(t);
    /* the alg is pinned by the key: an HS256 assertion is not looked at */
    const char *hs = "0123456789abcdef0123456789abcdef";
    char *claims = mcp__aprintf("{\"iss\":\"svc\",\"sub\":\"svc\",\"aud\":\"" ISSUER "/token\","
                                "\"exp\":%lld,\"jti\":\"r-8\"}",
                                (long long)mcp__unix_now() + 60);
    mcp_error e;
    assert_int_equal(mcp_jwt_sign("HS256", hs, strlen(hs), claims, "k1", &t, &e), MCP_OK);
    mcp__free(claims);
    assert_int_equal(cc(w.as, t, "alg not allowed for key"), 401);
    mcp_free(t);
    /* a wrong assertion type, an empty assertion */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, "r-9");
    b = mcp__aprintf("grant_type=client_credentials&client_assertion_type=urn:x&"
                     "client_assertion=%s", t);
    post(w.as, "/token", b, &rs);
    assert_int_equal(rs.status, 401);
    assert_non_null(strstr(rs.body, "client_assertion_type must be"));
    resp_free(&rs);
    mcp__free(b);
    post(w.as, "/token", "grant_type=client_credentials&client_id=svc&client_assertion_type="
                         ASSERTION_TYPE "&client_assertion=", &rs);
    assert_int_equal(rs.status, 401);
    resp_free(&rs);
    /* two methods at once: an assertion and a secret */
    b = body_with("grant_type=client_credentials&client_secret=x", t);
    post(w.as, "/token", b, &rs);
    assert_int_equal(rs.status, 400);
    assert_non_null(strstr(rs.body, "more than one client authentication"));
    resp_free(&rs);
    mcp__free(b);
    /* the rejected assertions did not use up r-9: it still works once */
    assert_int_equal(cc(w.as, t, "\"access_token\""), 200);
    mcp__free(t);
    /* the key client without an assertion */
    post(w.as, "/token", "grant_type=client_credentials&client_id=svc", &rs);
    assert_int_equal(rs.status, 401);
    assert_non_null(strstr(rs.body, "authenticates with private_key_jwt"));
    resp_free(&rs);
    /* a client with a secret cannot switch to an assertion */
    char *secret = NULL;
    mcp_as_client_def d = { .id = "robot", .confidential = true, .owner = "alice" };
    assert_int_equal(mcp_as_client_add(w.s, &d, &secret, &e), MCP_OK);
    mcp_free(secret);
    t = assertion(&w.k1, "k1", "robot", "robot", ISSUER "/token", 60, "r-10");
    assert_int_equal(cc(w.as, t, "client authentication failed"), 401);
    mcp__free(t);
    /* an unknown client */
    t = assertion(&w.k1, "k1", "ghost", "ghost", ISSUER "/token", 60, "r-11");
    assert_int_equal(cc(w.as, t, "client authentication failed"), 401);
    mcp__free(t);
    world_down(&w);
}

/* /introspect and /revoke take the same client authentication. */
static void
assertion_at_introspect_and_revoke(void **state)
{
    world w;
    world_up(&w, *state);
    char *t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, "i-1");
    char *b = body_with("grant_type=client_credentials", t);
    mcp_http_route_resp rs;
    post(w.as, "/token", b, &rs);
    assert_int_equal(rs.status, 200);
    json_error_t je;
    json_t *doc = json_loads(rs.body, 0, &je);
    char *at = mcp__strdup(json_string_value(json_object_get(doc, "access_token")));
    json_decref(doc);
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    /* introspection with an assertion whose aud is the introspection endpoint */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/introspect", 60, "i-2");
    char *pre = mcp__aprintf("token=%s", at);
    b = body_with(pre, t);
    post(w.as, "/introspect", b, &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"active\":true"));
    resp_free(&rs);
    /* replayed at introspection */
    post(w.as, "/introspect", b, &rs);
    assert_int_equal(rs.status, 401);
    assert_non_null(strstr(rs.body, "replay"));
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    /* revoke, then introspection says inactive */
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/revoke", 60, "i-3");
    b = body_with(pre, t);
    post(w.as, "/revoke", b, &rs);
    assert_int_equal(rs.status, 200);
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    t = assertion(&w.k1, "k1", "svc", "svc", ISSUER "/token", 60, "i-4");
    b = body_with(pre, t);
    post(w.as, "/introspect", b, &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"active\":false"));
    resp_free(&rs);
    mcp__free(b);
    mcp__free(t);
    mcp__free(pre);
    mcp__free(at);
    world_down(&w);
}

static int
setup(void **state)
{
    return tdir_setup(state);
}

static int
teardown(void **state)
{
    return tdir_teardown(state);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registration_checks_the_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_at_introspect_and_revoke, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
