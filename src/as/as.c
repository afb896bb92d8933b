/*
 * The embedded authorization server: the object, its signing key, the metadata documents, the
 * route that dispatches its endpoints, and access-token minting. The login page is in
 * as_authorize.c, the token endpoint in as_token.c, the administration API in as_admin.c.
 *
 * Signing key: one EC P-256 key (ES256) in a PEM file that the server creates on first start
 * (mode 0600). Its `kid` is the RFC 7638 thumbprint, so a key replaced in the file gets a new
 * kid and tokens signed with the old one fail verification instead of being checked against the
 * wrong key.
 */
#include "as/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
mcp_as_opts_default(mcp_as_opts *o)
{
    memset(o, 0, sizeof *o);
    o->access_ttl_s = 300;
    o->refresh_ttl_s = 14 * 86400;
    o->code_ttl_s = 60;
    o->login_fail_limit = 5;
    o->login_fail_addr_limit = 20;
    o->login_fail_window_s = 300;
}

/* ---- the signing key -------------------------------------------------------------------- */

static mcp_status
read_file(const char *path, char **out, mcp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot open", path);
    char *buf = mcp__alloc(16384 + 1);
    size_t n = buf != NULL ? fread(buf, 1, 16384, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (bad || n == 0 || n >= 16384) {
        mcp_memzero(buf, 16385);
        mcp__free(buf);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: unreadable, empty or too large",
                             path);
    }
    buf[n] = '\0';
    *out = buf;
    return MCP_OK;
}

static mcp_status
create_key(const char *path, mcp_error *err)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "signing key: cannot generate");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        EVP_PKEY_free(k);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot create", path);
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f != NULL && fchmod(fd, 0600) == 0 &&
              PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    EVP_PKEY_free(k);
    if (!ok) {
        unlink(path);
        return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot write", path);
    }
    mcp__log(MCP__LOG_INFO, "as", "created signing key %s", path);
    return MCP_OK;
}

static char *
coord_b64(EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char c[32];
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(k, param, &bn) == 1 && BN_bn2binpad(bn, c, sizeof c) == 32)
        out = mcp__b64url_encode(c, sizeof c);
    BN_free(bn);
    return out;
}

static mcp_status
load_key(mcp_as *as, mcp_error *err)
{
    struct stat sb;
    mcp_status rc;
    if (stat(as->opts.key_file, &sb) != 0) {
        if (errno != ENOENT)
            return mcp_error_set(err, MCP_ERR_IO, "signing key %s: cannot stat",
                                 as->opts.key_file);
        if ((rc = create_key(as->opts.key_file, err)) != MCP_OK)
            return rc;
    }
    if ((rc = read_file(as->opts.key_file, &as->key_pem, err)) != MCP_OK)
        return rc;
    BIO *bio = BIO_new_mem_buf(as->key_pem, -1);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char curve[32] = "";
    size_t cl = 0;
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                       &cl) != 1 ||
        strcmp(curve, "prime256v1") != 0) {
        EVP_PKEY_free(k);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "signing key %s: not an EC P-256 private key", as->opts.key_file);
    }
    char *x = coord_b64(k, OSSL_PKEY_PARAM_EC_PUB_X), *y = coord_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y);
    EVP_PKEY_free(k);
    char *thumb_in = NULL;
    unsigned char h[32];
    rc = MCP_OK;
    /* RFC 7638: the required members in lexicographic order, no spaces */
    if (x == NULL || y == NULL ||
        (thumb_in = mcp__aprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
                                 y)) == NULL ||
        !mcp__sha256(thumb_in, strlen(thumb_in), h) ||
        (as->kid = mcp__b64url_encode(h, sizeof h)) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (rc == MCP_OK) {
        json_t *jwks = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "EC",
                                 "crv", "P-256", "x", x, "y", y, "kid", as->kid, "alg", "ES256",
                                 "use", "sig");
        as->jwks_json = jwks != NULL ? json_dumps(jwks, JSON_COMPACT | JSON_PRESERVE_ORDER)
                                     : NULL;
        json_decref(jwks);
        if (as->jwks_json == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp__free(thumb_in);
    mcp__free(x);
    mcp__free(y);
    return rc;
}

/* ---- metadata --------------------------------------------------------------------------- */

static mcp_status
build_metadata(mcp_as *as, mcp_error *err)
{
    const char *is = as->issuer;
    char *az = mcp__aprintf("%s/authorize", is), *tk = mcp__aprintf("%s/token", is),
         *jw = mcp__aprintf("%s/jwks", is), *rv = mcp__aprintf("%s/revoke", is);
    json_t *doc = NULL;
    /* private_key_jwt: what the JWT verifier checks (no HMAC: that would be client_secret_jwt) */
    json_t *algs = json_pack("[s,s,s,s,s,s,s,s,s]", "ES256", "ES384", "EdDSA", "RS256", "RS384",
                             "RS512", "PS256", "PS384", "PS512");
    if (az != NULL && tk != NULL && jw != NULL && rv != NULL && algs != NULL)
        doc = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s,s], s:[s,s,s,s],"
                        " s:[s], s:b, s:b}",
                        "issuer", is, "authorization_endpoint", az, "token_endpoint", tk,
                        "jwks_uri", jw, "response_types_supported", "code",
                        "response_modes_supported", "query", "grant_types_supported",
                        "authorization_code", "refresh_token", "client_credentials",
                        "token_endpoint_auth_methods_supported", "none", "client_secret_basic",
                        "client_secret_post", "private_key_jwt",
                        "code_challenge_methods_supported", "S256",
                        "authorization_response_iss_parameter_supported", 1,
                        "client_id_metadata_document_supported", 1);
    if (doc != NULL && (json_object_set_new(doc, "revocation_endpoint", json_string(rv)) != 0 ||
                        json_object_set_new(doc, "revocation_endpoint_auth_methods_supported",
                                            json_pack("[s,s,s,s]", "none", "client_secret_basic",
                                                      "client_secret_post",
                                                      "private_key_jwt")) != 0 ||
                        json_object_set_new(doc, "token_endpoint_auth_signing_alg_values_supported",
                                            json_deep_copy(algs)) != 0 ||
                        json_object_set_new(doc,
                                            "revocation_endpoint_auth_signing_alg_values_supported",
                                            json_deep_copy(algs)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    char *in = mcp__aprintf("%s/introspect", is);
    if (doc != NULL &&
        (in == NULL || json_object_set_new(doc, "introspection_endpoint", json_string(in)) != 0 ||
         json_object_set_new(doc, "introspection_endpoint_auth_methods_supported",
                             json_pack("[s,s,s]", "client_secret_basic", "client_secret_post",
                                       "private_key_jwt")) != 0 ||
         json_object_set_new(doc, "introspection_endpoint_auth_signing_alg_values_supported",
                             json_deep_copy(algs)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    mcp__free(in);
    json_decref(algs);
    char *rg = as->opts.registration ? mcp__aprintf("%s/register", is) : NULL;
    if (doc != NULL && as->opts.registration &&
        (rg == NULL || json_object_set_new(doc, "registration_endpoint", json_string(rg)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    mcp__free(rg);
    mcp__free(rv);
    mcp__free(az);
    mcp__free(tk);
    mcp__free(jw);
    if (doc != NULL)
        as->metadata_json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return as->metadata_json != NULL ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static bool
issuer_ok(const char *is)
{
    const char *rest = strncmp(is, "https://", 8) == 0 ? is + 8
                       : strncmp(is, "http://", 7) == 0 ? is + 7 : NULL;
    if (rest == NULL || rest[0] == '\0' || strlen(is) > 512)
        return false;
    /* RFC 8414 section 2: no query or fragment; we also serve at the origin, so no path */
    return strpbrk(rest, "/?#\"\\ ") == NULL;
}

mcp_status
mcp_as_new(const mcp_as_opts *opts, mcp_as **out, mcp_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (opts == NULL || out == NULL || opts->store == NULL || opts->issuer == NULL ||
        opts->key_file == NULL || opts->resources == NULL || opts->resources[0] == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: issuer, resources, store and key_file are "
                             "required");
    if (!issuer_ok(opts->issuer))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: the issuer must be an http(s) origin with "
                             "no path");
    if (opts->code_ttl_s > 600)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "authorization server: codes live at most 600 seconds");
    mcp_as *as = mcp__calloc(1, sizeof *as);
    if (as == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    as->opts = *opts;
    mcp_as_opts d;
    mcp_as_opts_default(&d);
    if (as->opts.access_ttl_s == 0)
        as->opts.access_ttl_s = d.access_ttl_s;
    if (as->opts.refresh_ttl_s == 0)
        as->opts.refresh_ttl_s = d.refresh_ttl_s;
    if (as->opts.code_ttl_s == 0)
        as->opts.code_ttl_s = d.code_ttl_s;
    if (as->opts.login_fail_window_s == 0)
        as->opts.login_fail_window_s = d.login_fail_window_s;
    pthread_mutex_init(&as->throttle_mu, NULL);
    pthread_mutex_init(&as->cimd_mu, NULL);
    size_t n = 0;
    while (opts->resources[n] != NULL)
        n++;
    as->issuer = mcp__strdup(opts->issuer);
    as->resources = mcp__calloc(n + 1, sizeof *as->resources);
    mcp_status rc = as->issuer != NULL && as->resources != NULL
                        ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    for (size_t i = 0; rc == MCP_OK && i < n; i++)
        if ((as->resources[i] = mcp__strdup(opts->resources[i])) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    as->opts.issuer = as->issuer;
    as->opts.resources = (const char *const *)as->resources;
    as->opts.key_file = NULL;
    if (rc == MCP_OK) {
        as->opts.key_file = opts->key_file;   /* used during load only */
        rc = load_key(as, err);
        as->opts.key_file = NULL;
    }
    if (rc == MCP_OK) {
        /* The CSRF key is derived from the signing key, so several instances sharing the key
         * file (behind a load balancer) accept each other's sign-in forms. */
        mcp_buf kb;
        mcp__buf_init(&kb, 32u << 10);
        if (mcp__buf_appends(&kb, "mcp-as-csrf\n") != MCP_OK ||
            mcp__buf_appends(&kb, as->key_pem) != MCP_OK ||
            !mcp__sha256(kb.ptr, kb.len, as->csrf_key))
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        if (kb.ptr != NULL)
            mcp_memzero(kb.ptr, kb.len);
        mcp__buf_cleanup(&kb);
    }
    if (rc == MCP_OK)
        rc = build_metadata(as, err);
    if (rc == MCP_OK) {
        /* /revoke recognizes our own access tokens by verifying them (any audience) */
        mcp_jwt_opts jo;
        mcp_jwt_opts_default(&jo);
        jo.issuer = as->issuer;
        jo.allow_no_audience = true;
        jo.typ = "at+jwt";
        jo.cache_size = 0;
        jo.jwks_refresh_s = 0;
        rc = mcp_jwt_verifier_new(&jo, &as->verifier, err);
        if (rc == MCP_OK)
            rc = mcp_jwt_verifier_add_jwks(as->verifier, as->jwks_json, strlen(as->jwks_json),
                                           err);
    }
    if (rc != MCP_OK) {
        mcp_as_free(as);
        return rc;
    }
    *out = as;
    return MCP_OK;
}

void
mcp_as_free(mcp_as *as)
{
    if (as == NULL)
        return;
    if (as->key_pem != NULL) {
        mcp_memzero(as->key_pem, strlen(as->key_pem));
        mcp__free(as->key_pem);
    }
    mcp_memzero(as->csrf_key, sizeof as->csrf_key);
    for (char **p = as->resources; p != NULL && *p != NULL; p++)
        mcp__free(*p);
    mcp__free(as->resources);
    mcp__free(as->issuer);
    mcp__free(as->kid);
    mcp__free(as->jwks_json);
    mcp__free(as->metadata_json);
    mcp_jwt_verifier_free(as->verifier);
    pthread_mutex_destroy(&as->throttle_mu);
    mcp__as_cimd_cleanup(as);
    pthread_mutex_destroy(&as->cimd_mu);
    mcp__free(as);
}

const char *
mcp_as_issuer(const mcp_as *as)
{
    return as != NULL ? as->issuer : NULL;
}

const char *
mcp_as_jwks_json(const mcp_as *as)
{
    return as != NULL ? as->jwks_json : NULL;
}

void
mcp_as_http_opts(mcp_as *as, mcp_http_opts *ho)
{
    ho->route = mcp_as_route;
    ho->route_ctx = as;
}

/* ---- responses -------------------------------------------------------------------------- */

void
mcp__as_header(mcp_http_route_resp *rs, const char *name, const char *value)
{
    if (rs->nheaders >= MCP_HTTP_ROUTE_MAX_HEADERS)
        return;
    char *v = mcp__strdup(value);
    if (v == NULL)
        return;
    rs->header_name[rs->nheaders] = name;
    rs->header_value[rs->nheaders] = v;
    rs->nheaders++;
}

void
mcp__as_json(mcp_http_route_resp *rs, unsigned status, json_t *doc)
{
    char *b = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (b == NULL) {
        rs->status = 500;
        rs->content_type = "application/json";
        rs->body = mcp__strdup("{\"error\":\"server_error\"}");
        rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
        return;
    }
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = b;
    rs->body_len = strlen(b);
    /* RFC 6749 section 5.1: token responses are not cached */
    mcp__as_header(rs, "Cache-Control", "no-store");
    mcp__as_header(rs, "Pragma", "no-cache");
}

void
mcp__as_oauth_error(mcp_http_route_resp *rs, unsigned status, const char *code, const char *desc)
{
    mcp__as_json(rs, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
}

bool
mcp__as_resource_ok(const mcp_as *as, const char *r)
{
    for (char **p = as->resources; r != NULL && *p != NULL; p++)
        if (strcmp(*p, r) == 0)
            return true;
    return false;
}

mcp_status
mcp__as_mint(mcp_as *as, const char *subject, const char *client_id, const char *resource,
             const char *scope, int64_t now, char **token, char **jti_out, mcp_error *err)
{
    *token = NULL;
    if (jti_out != NULL)
        *jti_out = NULL;
    unsigned char r[16];
    mcp_status rc = mcp_random_bytes(r, sizeof r, err);
    if (rc != MCP_OK)
        return rc;
    char *jti = mcp__b64url_encode(r, sizeof r);
    if (jti == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    /* RFC 9068 section 2.2: iss, exp, aud, sub, client_id, iat, jti; scope when granted */
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", as->issuer, "sub",
                          subject, "aud", resource, "exp",
                          (json_int_t)(now + (int64_t)as->opts.access_ttl_s), "iat",
                          (json_int_t)now, "nbf", (json_int_t)now, "jti", jti, "client_id",
                          client_id);
    if (c != NULL && scope != NULL && scope[0] != '\0' &&
        json_object_set_new(c, "scope", json_string(scope)) != 0) {
        json_decref(c);
        c = NULL;
    }
    char *claims = c != NULL ? json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(c);
    if (claims == NULL) {
        mcp__free(jti);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    rc = mcp__jwt_sign_typ("ES256", as->key_pem, strlen(as->key_pem), claims, as->kid, "at+jwt",
                           token, err);
    mcp__free(claims);
    if (rc == MCP_OK && jti_out != NULL)
        *jti_out = jti;
    else
        mcp__free(jti);
    return rc;
}

/* ---- the route -------------------------------------------------------------------------- */

static void
serve_static(mcp_http_route_resp *rs, const mcp_http_route_req *rq, const char *json)
{
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        mcp__as_oauth_error(rs, 405, "invalid_request", "method not allowed");
        mcp__as_header(rs, "Allow", "GET");
        return;
    }
    rs->status = 200;
    rs->content_type = "application/json";
    rs->body = mcp__strdup(json);
    rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
    if (rs->body == NULL)
        rs->status = 500;
    mcp__as_header(rs, "Cache-Control", "max-age=300");
}

void
mcp_as_route(void *ctx, const mcp_http_route_req *rq, mcp_http_route_resp *rs)
{
    mcp_as *as = ctx;
    const char *p = rq->path;
    if (strcmp(p, "/.well-known/oauth-authorization-server") == 0 ||
        strcmp(p, "/.well-known/openid-configuration") == 0)
        serve_static(rs, rq, as->metadata_json);
    else if (strcmp(p, "/jwks") == 0)
        serve_static(rs, rq, as->jwks_json);
    else if (strcmp(p, "/authorize") == 0)
        mcp__as_authorize(as, rq, rs);
    else if (strcmp(p, "/token") == 0)
        mcp__as_token(as, rq, rs);
    else if (strcmp(p, "/revoke") == 0)
        mcp__as_revoke(as, rq, rs);
    else if (strcmp(p, "/introspect") == 0)
        mcp__as_introspect(as, rq, rs);
    else if (strcmp(p, "/register") == 0 && as->opts.registration)
        mcp__as_register(as, rq, rs);
    /* anything else: status 0, the transport answers 404 */
}
