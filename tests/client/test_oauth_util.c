/*
 * Unit tests for the OAuth building blocks: WWW-Authenticate parsing, discovery URL order
 * (PRM and AS metadata, every case of the MCP 2025-11-25 / conformance README order), resource
 * matching, PKCE (RFC 7636 appendix B), form encoding, callback parsing, the private_key_jwt
 * assertion (verified with OpenSSL), and the token cache file mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"

/* ------------------------------------------------------------------------------------------ */
/* WWW-Authenticate                                                                           */

static void
www_auth_parses_mcp_challenges(void **state)
{
    (void)state;
    mcp__bearer_challenge c;
    assert_int_equal(mcp__www_auth_parse(
                         "Bearer error=\"invalid_token\", error_description=\"Missing "
                         "Authorization header\", scope=\"mcp:basic mcp:read\", "
                         "resource_metadata=\"http://localhost:1/.well-known/"
                         "oauth-protected-resource/mcp\"",
                         &c),
                     MCP_OK);
    assert_string_equal(c.error, "invalid_token");
    assert_string_equal(c.error_description, "Missing Authorization header");
    assert_string_equal(c.scope, "mcp:basic mcp:read");
    assert_string_equal(c.resource_metadata,
                        "http://localhost:1/.well-known/oauth-protected-resource/mcp");
    mcp__bearer_challenge_cleanup(&c);

    /* scheme case-insensitive, token values, BWS around '=', escapes in quoted strings */
    assert_int_equal(mcp__www_auth_parse(
                         "bEaReR realm = \"a \\\"q\\\" b\" ,error=insufficient_scope", &c),
                     MCP_OK);
    assert_string_equal(c.realm, "a \"q\" b");
    assert_string_equal(c.error, "insufficient_scope");
    assert_null(c.scope);
    mcp__bearer_challenge_cleanup(&c);
}

static void
www_auth_picks_bearer_among_several_challenges(void **state)
{
    (void)state;
    mcp__bearer_challenge c;
    assert_int_equal(mcp__www_auth_parse("Basic realm=\"x\", Negotiate abc123==, "
                                         "Bearer scope=\"a\", resource_metadata=\"https://r/m\"",
                                         &c),
                     MCP_OK);
    assert_string_equal(c.scope, "a");
    assert_string_equal(c.resource_metadata, "https://r/m");
    assert_null(c.realm);                            /* Basic's realm is not Bearer's */
    mcp__bearer_challenge_cleanup(&c);

    assert_int_equal(mcp__www_auth_parse("Bearer", &c), MCP_OK);   /* bare scheme */
    assert_null(c.error);
    mcp__bearer_challenge_cleanup(&c);

    assert_int_equal(mcp__www_auth_parse("Bearer scope=\"first\", scope=\"second\"", &c),
                     MCP_OK);
    assert_string_equal(c.scope, "first");           /* repeated parameter: first wins */
    mcp__bearer_challenge_cleanup(&c);
}

static void
www_auth_rejects_bad_input(void **state)
{
    (void)state;
    mcp__bearer_challenge c;
    assert_int_equal(mcp__www_auth_parse("Basic realm=\"x\"", &c), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp__www_auth_parse(NULL, &c), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp__www_auth_parse("Bearer scope=\"unterminated", &c), MCP_ERR_PARSE);
    assert_null(c.scope);
    assert_int_equal(mcp__www_auth_parse("Bearer error=\"x\" junk\"", &c), MCP_ERR_PARSE);
    char *big = malloc(MCP__WWW_AUTH_MAX + 64);
    assert_non_null(big);
    strcpy(big, "Bearer scope=\"");
    memset(big + 14, 'a', MCP__WWW_AUTH_MAX);
    strcpy(big + 14 + MCP__WWW_AUTH_MAX, "\"");
    assert_int_equal(mcp__www_auth_parse(big, &c), MCP_ERR_TOO_LARGE);
    free(big);
}

/* ------------------------------------------------------------------------------------------ */
/* discovery URLs                                                                             */

static void
expect_urls(char *got[MCP__MAX_DISCOVERY_URLS], size_t n, const char *const *want)
{
    size_t w = 0;
    while (want[w] != NULL)
        w++;
    assert_int_equal(n, w);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], want[i]);
        mcp__free(got[i]);
    }
}

static void
prm_urls_follow_the_spec_order(void **state)
{
    (void)state;
    char *u[MCP__MAX_DISCOVERY_URLS];
    /* resource_metadata from the challenge wins, alone */
    size_t n = mcp__prm_urls("http://localhost:9/mcp", "http://localhost:9/custom/metadata.json",
                             u);
    expect_urls(u, n, (const char *const[]){ "http://localhost:9/custom/metadata.json", NULL });
    /* path-based first, then root */
    n = mcp__prm_urls("http://localhost:9/mcp", NULL, u);
    expect_urls(u, n, (const char *const[]){
                          "http://localhost:9/.well-known/oauth-protected-resource/mcp",
                          "http://localhost:9/.well-known/oauth-protected-resource", NULL });
    /* deeper path, query dropped, host lowercased, default port omitted */
    n = mcp__prm_urls("HTTPS://Example.COM/a/b/?x=1", NULL, u);
    expect_urls(u, n, (const char *const[]){
                          "https://example.com/.well-known/oauth-protected-resource/a/b",
                          "https://example.com/.well-known/oauth-protected-resource", NULL });
    /* no path: root only */
    n = mcp__prm_urls("http://127.0.0.1:8080", NULL, u);
    expect_urls(u, n, (const char *const[]){
                          "http://127.0.0.1:8080/.well-known/oauth-protected-resource", NULL });
    n = mcp__prm_urls("http://[::1]:8080/", NULL, u);
    expect_urls(u, n, (const char *const[]){
                          "http://[::1]:8080/.well-known/oauth-protected-resource", NULL });
    assert_int_equal(mcp__prm_urls("ftp://x/y", NULL, u), 0);
}

static void
as_metadata_urls_follow_the_spec_order(void **state)
{
    (void)state;
    char *u[MCP__MAX_DISCOVERY_URLS];
    size_t n = mcp__as_metadata_urls("http://localhost:7", u);
    expect_urls(u, n, (const char *const[]){
                          "http://localhost:7/.well-known/oauth-authorization-server",
                          "http://localhost:7/.well-known/openid-configuration", NULL });
    n = mcp__as_metadata_urls("http://localhost:7/", u);
    expect_urls(u, n, (const char *const[]){
                          "http://localhost:7/.well-known/oauth-authorization-server",
                          "http://localhost:7/.well-known/openid-configuration", NULL });
    /* issuer with a path: RFC 8414 insertion, OIDC insertion, OIDC append */
    n = mcp__as_metadata_urls("http://localhost:7/tenant1", u);
    expect_urls(u, n, (const char *const[]){
                          "http://localhost:7/.well-known/oauth-authorization-server/tenant1",
                          "http://localhost:7/.well-known/openid-configuration/tenant1",
                          "http://localhost:7/tenant1/.well-known/openid-configuration", NULL });
    n = mcp__as_metadata_urls("https://auth.example.com/t/x/", u);
    expect_urls(u, n, (const char *const[]){
                          "https://auth.example.com/.well-known/oauth-authorization-server/t/x",
                          "https://auth.example.com/.well-known/openid-configuration/t/x",
                          "https://auth.example.com/t/x/.well-known/openid-configuration", NULL });
}

static void
resource_match_and_security_checks(void **state)
{
    (void)state;
    assert_true(mcp__resource_matches("http://localhost:5/mcp", "http://localhost:5/mcp"));
    assert_true(mcp__resource_matches("http://localhost:5", "http://localhost:5/mcp"));
    assert_true(mcp__resource_matches("http://localhost:5/", "http://localhost:5/mcp"));
    assert_true(mcp__resource_matches("https://a.example/", "https://A.example:443/x/y"));
    assert_false(mcp__resource_matches("https://evil.example.com/mcp", "http://localhost:5/mcp"));
    assert_false(mcp__resource_matches("http://localhost:6/mcp", "http://localhost:5/mcp"));
    assert_false(mcp__resource_matches("https://localhost:5/mcp", "http://localhost:5/mcp"));
    assert_false(mcp__resource_matches("http://localhost:5/mc", "http://localhost:5/mcp"));
    assert_false(mcp__resource_matches("http://localhost:5/mcp/x", "http://localhost:5/mcp"));

    assert_true(mcp__url_is_secure("https://example.com/t", false));
    assert_true(mcp__url_is_secure("http://127.0.0.1:9/t", false));
    assert_true(mcp__url_is_secure("http://localhost/t", false));
    assert_true(mcp__url_is_secure("http://[::1]:1/t", false));
    assert_false(mcp__url_is_secure("http://example.com/t", false));
    assert_true(mcp__url_is_secure("http://example.com/t", true));
    assert_false(mcp__url_is_secure("file:///etc/passwd", true));

    char *r = mcp__url_canonical_resource("https://x.example/mcp#frag");
    assert_string_equal(r, "https://x.example/mcp");
    mcp__free(r);
}

/* Plain http:// is allowed only for hosts that cannot leave the machine. A DNS name that
 * merely starts with "127." or contains "localhost" resolves wherever its owner wants. */
static void
loopback_hosts_are_exactly_loopback(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool loopback;
    } rows[] = {
        { "http://127.0.0.1/t", true },
        { "http://127.0.0.1:8080/t", true },
        { "http://127.1.2.3/t", true },
        { "http://127.255.255.254/t", true },
        { "http://localhost/t", true },
        { "http://LOCALHOST:9/t", true },
        { "http://[::1]/t", true },
        { "http://[::1]:1/t", true },
        { "http://127.attacker.example/token", false },
        { "http://127.0.0.1.nip.io/x", false },
        { "http://127.0.0.1.evil.example:80/x", false },
        { "http://localhost.attacker.example/t", false },
        { "http://mylocalhost/t", false },
        { "http://localhost./t", false },
        { "http://128.0.0.1/t", false },
        { "http://126.255.255.255/t", false },
        { "http://10.0.0.1/t", false },
        { "http://0.0.0.0/t", false },
        { "http://[::2]/t", false },
        { "http://[::ffff:127.0.0.1]/t", false },
        { "http://evil.example/token", false },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mcp__url u;
        assert_int_equal(mcp__url_parse(rows[i].url, &u), MCP_OK);
        if (mcp__url_is_loopback(&u) != rows[i].loopback)
            fail_msg("%s: loopback should be %d", rows[i].url, rows[i].loopback);
        mcp__url_cleanup(&u);
        if (mcp__url_is_secure(rows[i].url, false) != rows[i].loopback)
            fail_msg("%s: secure should be %d", rows[i].url, rows[i].loopback);
        /* https is fine anywhere; allow_http lifts the check for every host */
        char https[128];
        snprintf(https, sizeof https, "https://%s", rows[i].url + strlen("http://"));
        assert_true(mcp__url_is_secure(https, false));
        assert_true(mcp__url_is_secure(rows[i].url, true));
    }
}

static void
callback_params_and_form_encoding(void **state)
{
    (void)state;
    const char *cb = "http://127.0.0.1/callback?code=a%2Fb+c&state=xyz&iss=http%3A%2F%2Fi#f";
    char *v = mcp__url_query_param(cb, "code");
    assert_string_equal(v, "a/b c");
    mcp__free(v);
    v = mcp__url_query_param(cb, "iss");
    assert_string_equal(v, "http://i");
    mcp__free(v);
    assert_null(mcp__url_query_param(cb, "error"));
    assert_null(mcp__url_query_param(cb, "cod"));
    assert_null(mcp__url_query_param("http://x/cb?code=a%00b", "code"));   /* NUL rejected */
    assert_true(mcp__url_has_base(cb, "http://127.0.0.1/callback"));
    assert_false(mcp__url_has_base("http://127.0.0.1/callback2?x", "http://127.0.0.1/callback"));

    mcp_buf b;
    mcp__buf_init(&b, 1024);
    assert_int_equal(mcp__form_add(&b, "grant_type", "authorization_code"), MCP_OK);
    assert_int_equal(mcp__form_add(&b, "scope", "mcp:basic mcp:write"), MCP_OK);
    assert_int_equal(mcp__form_add(&b, "skip", NULL), MCP_OK);
    assert_int_equal(mcp__form_add(&b, "resource", "http://h:1/mcp?a=1&b"), MCP_OK);
    assert_string_equal(b.ptr, "grant_type=authorization_code&scope=mcp%3Abasic%20mcp%3Awrite"
                               "&resource=http%3A%2F%2Fh%3A1%2Fmcp%3Fa%3D1%26b");
    mcp__buf_cleanup(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* PKCE                                                                                       */

static void
pkce_matches_rfc7636_appendix_b(void **state)
{
    (void)state;
    char ch[44];
    assert_int_equal(mcp__pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch),
                     MCP_OK);
    assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    /* too short / bad characters are refused (RFC 7636 section 4.1) */
    assert_int_equal(mcp__pkce_challenge("short", ch), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__pkce_challenge("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch),
                     MCP_ERR_INVALID_ARG);

    char v1[MCP__PKCE_VERIFIER_LEN + 1], v2[MCP__PKCE_VERIFIER_LEN + 1];
    assert_int_equal(mcp__pkce_verifier(v1, NULL), MCP_OK);
    assert_int_equal(mcp__pkce_verifier(v2, NULL), MCP_OK);
    assert_int_equal(strlen(v1), 43);
    assert_string_not_equal(v1, v2);
    assert_int_equal(mcp__pkce_challenge(v1, ch), MCP_OK);
}

/* ------------------------------------------------------------------------------------------ */
/* private_key_jwt                                                                            */

static char *
pem_of(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

/* Verify the compact JWS with the key and check the claims. */
static void
verify_assertion(const char *jwt, EVP_PKEY *k, const char *alg)
{
    const char *d1 = strchr(jwt, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    unsigned char *hdr, *claims, *sig;
    size_t hl, cl, sl;
    assert_int_equal(mcp__b64url_decode(jwt, (size_t)(d1 - jwt), &hdr, &hl), MCP_OK);
    assert_int_equal(mcp__b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &claims, &cl), MCP_OK);
    assert_int_equal(mcp__b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &sl), MCP_OK);
    json_error_t je;
    json_t *h = json_loadb((char *)hdr, hl, 0, &je), *c = json_loadb((char *)claims, cl, 0, &je);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), alg);
    assert_string_equal(json_string_value(json_object_get(h, "kid")), "k1");
    assert_string_equal(json_string_value(json_object_get(c, "iss")), "client-a");
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "client-a");
    assert_string_equal(json_string_value(json_object_get(c, "aud")), "https://as.example");
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1000 + 300);
    assert_non_null(json_object_get(c, "jti"));

    unsigned char der[80];
    const unsigned char *to_verify = sig;
    size_t vlen = sl;
    if (strcmp(alg, "ES256") == 0) {        /* JOSE R||S -> DER for OpenSSL */
        assert_int_equal(sl, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        unsigned char *p = der;
        vlen = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        to_verify = der;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(md, to_verify, vlen, (const unsigned char *)jwt,
                                      (size_t)(d2 - jwt)),
                     1);
    EVP_MD_CTX_free(md);
    json_decref(h);
    json_decref(c);
    mcp__free(hdr);
    mcp__free(claims);
    mcp__free(sig);
}

static void
client_assertion_es256_and_rs256_verify(void **state)
{
    (void)state;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_non_null(ec);
    assert_non_null(rsa);
    char *ec_pem = pem_of(ec), *rsa_pem = pem_of(rsa);
    char *jwt = NULL;
    mcp_error err;

    assert_int_equal(mcp__jwt_sign_assertion(ec_pem, NULL, "k1", "client-a",
                                              "https://as.example", 1000, 300, &jwt, &err),
                     MCP_OK);
    verify_assertion(jwt, ec, "ES256");
    mcp__free(jwt);
    assert_int_equal(mcp__jwt_sign_assertion(rsa_pem, "RS256", "k1", "client-a",
                                              "https://as.example", 1000, 300, &jwt, &err),
                     MCP_OK);
    verify_assertion(jwt, rsa, "RS256");
    mcp__free(jwt);

    /* alg / key mismatches and garbage keys fail with a reason, never a signature */
    assert_int_equal(mcp__jwt_sign_assertion(rsa_pem, "ES256", NULL, "c", "a", 1, 1, &jwt, &err),
                     MCP_ERR_INVALID_ARG);
    assert_null(jwt);
    assert_int_equal(mcp__jwt_sign_assertion(ec_pem, "HS256", NULL, "c", "a", 1, 1, &jwt, &err),
                     MCP_ERR_UNSUPPORTED);
    assert_int_equal(mcp__jwt_check_key("not a key", NULL, &err), MCP_ERR_INVALID_ARG);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *p384_pem = pem_of(p384);
    assert_int_equal(mcp__jwt_check_key(p384_pem, "ES256", &err), MCP_ERR_INVALID_ARG);

    free(ec_pem);
    free(rsa_pem);
    free(p384_pem);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
}

/* ------------------------------------------------------------------------------------------ */
/* token cache                                                                                */

static void
token_cache_is_0600_and_refuses_loose_modes(void **state)
{
    (void)state;
    char dir[] = "/tmp/mcp-client-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/tokens.json", dir);
    mode_t old = umask(0);                 /* even a permissive umask must not matter */
    json_t *doc = json_pack("{s:{s:{s:s}}}", "tokens", "http://x/mcp", "access_token", "secret");
    mcp_error err;
    assert_int_equal(mcp__token_cache_save(path, doc, &err), MCP_OK);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    json_t *back = NULL;
    assert_int_equal(mcp__token_cache_load(path, &back, &err), MCP_OK);
    assert_true(json_equal(doc, back));
    json_decref(back);

    /* a group/world-readable cache is refused, not read */
    assert_int_equal(chmod(path, 0644), 0);
    back = NULL;
    assert_int_equal(mcp__token_cache_load(path, &back, &err), MCP_ERR_STATE);
    assert_null(back);
    assert_non_null(strstr(err.message, "accessible by other users"));
    /* saving replaces it with a fresh 0600 file */
    assert_int_equal(mcp__token_cache_save(path, doc, &err), MCP_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* a symlink is not followed */
    char link[256];
    snprintf(link, sizeof link, "%s/link.json", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(mcp__token_cache_load(link, &back, &err), MCP_ERR_IO);

    /* missing file: empty document */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    assert_int_equal(mcp__token_cache_load(missing, &back, &err), MCP_OK);
    assert_int_equal(json_object_size(back), 0);
    json_decref(back);

    json_decref(doc);
    unlink(link);
    unlink(path);
    rmdir(dir);
}

/* Which OAuth URLs get the SSRF address rule (mcp__oauth_addr_rule): only URLs a remote
 * server could have chosen. */
static void
addr_rule_applies_to_urls_learned_from_a_remote_server(void **state)
{
    (void)state;
    static const struct {
        const char *server, *url;
        bool        opt_in;
        mcp__net_addr_rule want;
    } rows[] = {
        /* a remote server: everything off its own origin is judged */
        { "https://mcp.example.com/mcp", "https://as.example.com/token", false,
          MCP__NET_ADDR_PUBLIC_ONLY },
        { "https://mcp.example.com/mcp", "http://127.0.0.1:8080/admin", false,
          MCP__NET_ADDR_PUBLIC_ONLY },
        { "https://mcp.example.com/mcp", "https://mcp.example.com:8443/x", false,
          MCP__NET_ADDR_PUBLIC_ONLY },                        /* another port: another origin */
        { "https://mcp.example.com/mcp", "http://mcp.example.com/x", false,
          MCP__NET_ADDR_PUBLIC_ONLY },                        /* another scheme */
        { "https://mcp.example.com/mcp", "https://mcp.example.com.evil/x", false,
          MCP__NET_ADDR_PUBLIC_ONLY },
        { "https://127.0.0.1.nip.io/mcp", "http://127.0.0.1/x", false,
          MCP__NET_ADDR_PUBLIC_ONLY },                        /* not a loopback server */
        { "https://mcp.example.com/mcp", "not a url", false, MCP__NET_ADDR_PUBLIC_ONLY },
        /* its own origin (the host the user chose), with the default port spelled out or not */
        { "https://mcp.example.com/mcp", "https://MCP.example.com/.well-known/x", false,
          MCP__NET_ADDR_ANY },
        { "https://mcp.example.com/mcp", "https://mcp.example.com:443/x", false,
          MCP__NET_ADDR_ANY },
        /* a loopback server may use a loopback AS */
        { "http://127.0.0.1:9000/mcp", "http://127.0.0.1:9001/token", false, MCP__NET_ADDR_ANY },
        { "http://localhost:9000/mcp", "http://10.0.0.1/token", false, MCP__NET_ADDR_ANY },
        { "http://[::1]:9000/mcp", "http://127.0.0.1:9001/token", false, MCP__NET_ADDR_ANY },
        /* the opt-in */
        { "https://mcp.example.com/mcp", "http://10.0.0.1/token", true, MCP__NET_ADDR_ANY },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mcp_oauth_opts oo;
        mcp_oauth_opts_default(&oo);
        oo.allow_internal_as = rows[i].opt_in;
        mcp_oauth *o = NULL;
        mcp_error err;
        assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_OK);
        assert_int_equal(mcp__oauth_use_server(o, rows[i].server), MCP_OK);
        if (mcp__oauth_addr_rule(o, rows[i].url) != rows[i].want)
            fail_msg("server %s, url %s: rule %d, want %d", rows[i].server, rows[i].url,
                     (int)mcp__oauth_addr_rule(o, rows[i].url), (int)rows[i].want);
        mcp_oauth_free(o);
    }
    /* no server yet: fail closed */
    mcp_oauth *o = NULL;
    mcp_error err;
    assert_int_equal(mcp_oauth_new(NULL, &o, &err), MCP_OK);
    assert_int_equal(mcp__oauth_addr_rule(o, "http://127.0.0.1/x"), MCP__NET_ADDR_PUBLIC_ONLY);
    /* the configured SEP-990 IdP endpoint is the operator's, not learned */
    mcp_oauth_free(o);
    mcp_oauth_opts oo;
    mcp_oauth_opts_default(&oo);
    oo.idp_token_endpoint = "http://10.0.0.5/token";
    assert_int_equal(mcp_oauth_new(&oo, &o, &err), MCP_OK);
    assert_int_equal(mcp__oauth_use_server(o, "https://mcp.example.com/mcp"), MCP_OK);
    assert_int_equal(mcp__oauth_addr_rule(o, "http://10.0.0.5/token"), MCP__NET_ADDR_ANY);
    assert_int_equal(mcp__oauth_addr_rule(o, "http://10.0.0.5/other"),
                     MCP__NET_ADDR_PUBLIC_ONLY);
    mcp_oauth_free(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(www_auth_parses_mcp_challenges),
        cmocka_unit_test(addr_rule_applies_to_urls_learned_from_a_remote_server),
        cmocka_unit_test(www_auth_picks_bearer_among_several_challenges),
        cmocka_unit_test(www_auth_rejects_bad_input),
        cmocka_unit_test(prm_urls_follow_the_spec_order),
        cmocka_unit_test(as_metadata_urls_follow_the_spec_order),
        cmocka_unit_test(resource_match_and_security_checks),
        cmocka_unit_test(loopback_hosts_are_exactly_loopback),
        cmocka_unit_test(callback_params_and_form_encoding),
        cmocka_unit_test(pkce_matches_rfc7636_appendix_b),
        cmocka_unit_test(client_assertion_es256_and_rs256_verify),
        cmocka_unit_test(token_cache_is_0600_and_refuses_loose_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
