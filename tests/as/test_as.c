/* Unit tests of the embedded authorization server (src/as): PKCE, redirect matching, scopes,
 * forms, password hashing, the store's code and refresh-family rules, the key file, and the
 * route's answers to malformed requests. */
#include "../store/test_store_util.h"

#include "as/internal.h"

#include <sys/stat.h>

/* ---- pure helpers ----------------------------------------------------------------------- */

static void
pkce_rfc7636_vector(void **state)
{
    (void)state;
    const char *v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_true(mcp__as_pkce_ok(v, c));
    assert_false(mcp__as_pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", c));
    assert_false(mcp__as_pkce_ok(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
    /* RFC 7636 section 4.1: 43..128 unreserved characters */
    assert_false(mcp__as_pkce_ok("short", c));
    assert_false(mcp__as_pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX", c));
    assert_false(mcp__as_pkce_ok("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c));
    assert_false(mcp__as_pkce_ok(NULL, c));
    assert_false(mcp__as_pkce_ok(v, NULL));
}

static void
redirect_matching(void **state)
{
    (void)state;
    const char *reg = "https://app.example/cb http://127.0.0.1/callback";
    assert_true(mcp__as_redirect_ok(reg, "https://app.example/cb"));
    assert_true(mcp__as_redirect_ok(reg, "http://127.0.0.1/callback"));
    assert_true(mcp__as_redirect_ok(reg, "http://127.0.0.1:45123/callback"));
    /* exact match only: no prefix, suffix, other path, other host or fragment */
    assert_false(mcp__as_redirect_ok(reg, "https://app.example/cb/../evil"));
    assert_false(mcp__as_redirect_ok(reg, "https://app.example/cb?x=1"));
    assert_false(mcp__as_redirect_ok(reg, "https://app.example/c"));
    assert_false(mcp__as_redirect_ok(reg, "https://app.example:444/cb"));
    assert_false(mcp__as_redirect_ok(reg, "https://app.example/cb#f"));
    assert_false(mcp__as_redirect_ok(reg, "http://127.0.0.1:45123/callback2"));
    assert_false(mcp__as_redirect_ok(reg, "http://127.0.0.1.evil.example/callback"));
    assert_false(mcp__as_redirect_ok(reg, "http://127.0.0.1:/callback"));
    assert_false(mcp__as_redirect_ok(reg, "http://[::1]:8/callback")); /* other host */
    assert_false(mcp__as_redirect_ok(reg, ""));
    assert_false(mcp__as_redirect_ok("", "https://app.example/cb"));
    assert_false(mcp__as_redirect_ok(NULL, "https://app.example/cb"));
}

static void
scope_grants(void **state)
{
    (void)state;
    const char *have[] = { "Guest.Read", "User.Read", NULL };
    char *g = mcp__as_scope_grant("User.Write User.Read User.Read", have, NULL);
    assert_string_equal(g, "User.Read");
    mcp__free(g);
    g = mcp__as_scope_grant(NULL, have, NULL);
    assert_string_equal(g, "Guest.Read User.Read");
    mcp__free(g);
    g = mcp__as_scope_grant("Admin.Write", have, NULL);
    assert_string_equal(g, "");
    mcp__free(g);
    g = mcp__as_scope_grant("b c", NULL, "a b");
    assert_string_equal(g, "b");
    mcp__free(g);
    assert_true(mcp__as_scope_ok("a b.c"));
    assert_false(mcp__as_scope_ok("a\"b"));
    assert_false(mcp__as_scope_ok("a\nb"));
}

static void
form_parsing(void **state)
{
    (void)state;
    mcp__as_form f;
    const char *b = "a=1&b=x+y%21&empty=&c";
    assert_int_equal(mcp__as_form_parse(&f, b, strlen(b)), MCP_OK);
    assert_string_equal(mcp__as_form_get(&f, "a"), "1");
    assert_string_equal(mcp__as_form_get(&f, "b"), "x y!");
    assert_string_equal(mcp__as_form_get(&f, "empty"), "");
    assert_string_equal(mcp__as_form_get(&f, "c"), "");
    assert_null(mcp__as_form_get(&f, "d"));
    assert_false(f.dup);
    mcp__as_form_cleanup(&f);
    b = "a=1&a=2";
    assert_int_equal(mcp__as_form_parse(&f, b, strlen(b)), MCP_OK);
    assert_true(f.dup);
    mcp__as_form_cleanup(&f);
    const char *bad[] = { "a=%2", "a=%zz", "a=%00", "%" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mcp__as_form_parse(&f, bad[i], strlen(bad[i])), MCP_ERR_PARSE);
        mcp__as_form_cleanup(&f);
    }
}

static void
password_hashing(void **state)
{
    (void)state;
    char *h = mcp__as_password_hash("secret pass", 11, 10);
    assert_non_null(h);
    assert_int_equal(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0);
    assert_true(mcp__as_password_check("secret pass", 11, h));
    assert_false(mcp__as_password_check("secret pasS", 11, h));
    assert_false(mcp__as_password_check("secret pass", 10, h));
    char *h2 = mcp__as_password_hash("secret pass", 11, 10);
    assert_string_not_equal(h, h2);  /* salted */
    assert_false(mcp__as_password_check("secret pass", 11, NULL));
    assert_false(mcp__as_password_check("x", 1, "$scrypt$ln=99,r=8,p=1$AA$AA"));
    assert_false(mcp__as_password_check("x", 1, "plain"));
    assert_null(mcp__as_password_hash("x", 1, 5));
    mcp__free(h);
    mcp__free(h2);
}

/* ---- the store's rules ------------------------------------------------------------------ */

static mcp_store *
store_with_alice(tdir *t)
{
    mcp_store *s = NULL;
    mcp_error e;
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &e), MCP_OK);
    const char *roles[] = { "user", NULL };
    assert_int_equal(mcp_store_user_add_with_roles(s, "alice", "Alice", roles, &e), MCP_OK);
    return s;
}

static void
codes_are_single_use(void **state)
{
    tdir *t = *state;
    mcp_store *s = store_with_alice(t);
    mcp_error e;
    int64_t now = mcp__unix_now();
    mcp__store_as_grant g = { .client_id = "c", .subject = "alice", .redirect_uri = "r",
                              .challenge = "ch", .resource = "http://x/mcp", .scope = "User.Read",
                              .expires = now + 60 };
    assert_int_equal(mcp__store_as_code_put(s, "h1", &g, &e), MCP_OK);
    g.expires = now - 1;
    assert_int_equal(mcp__store_as_code_put(s, "h2", &g, &e), MCP_OK);
    mcp__store_as_take res;
    mcp__store_as_grant out;
    assert_int_equal(mcp__store_as_code_take(s, "h1", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_OK);
    assert_string_equal(out.subject, "alice");
    assert_string_equal(out.challenge, "ch");
    mcp__store_as_grant_cleanup(&out);
    assert_int_equal(mcp__store_as_code_take(s, "h1", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_REUSED);
    assert_int_equal(mcp__store_as_code_take(s, "h2", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_EXPIRED);
    assert_int_equal(mcp__store_as_code_take(s, "nope", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_UNKNOWN);
    mcp_store_close(s);
}

static void
refresh_reuse_revokes_the_family(void **state)
{
    tdir *t = *state;
    mcp_store *s = store_with_alice(t);
    mcp_error e;
    int64_t now = mcp__unix_now();
    mcp__store_as_grant g = { .client_id = "c", .subject = "alice", .resource = "http://x/mcp",
                              .scope = "User.Read", .family = "fam1", .expires = now + 600 };
    assert_int_equal(mcp__store_as_refresh_put(s, "r1", &g, "jti-1", now + 300, now, &e),
                     MCP_OK);
    mcp__store_as_take res;
    mcp__store_as_grant out;
    assert_int_equal(mcp__store_as_refresh_take(s, "r1", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_OK);
    assert_string_equal(out.family, "fam1");
    mcp__store_as_grant_cleanup(&out);
    /* rotation: r2 in the same family */
    assert_int_equal(mcp__store_as_refresh_put(s, "r2", &g, "jti-2", now + 300, now, &e),
                     MCP_OK);
    bool revoked = true;
    assert_int_equal(mcp__store_as_family_is_revoked(s, "fam1", &revoked, &e), MCP_OK);
    assert_false(revoked);
    /* r1 again: reuse, the family goes, r2 with it, and both access tokens are revoked */
    assert_int_equal(mcp__store_as_refresh_take(s, "r1", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_REUSED);
    assert_string_equal(out.family, "fam1");
    mcp__store_as_grant_cleanup(&out);
    assert_int_equal(mcp__store_as_family_is_revoked(s, "fam1", &revoked, &e), MCP_OK);
    assert_true(revoked);
    assert_int_equal(mcp__store_as_refresh_take(s, "r2", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_REUSED);
    mcp__store_as_grant_cleanup(&out);
    bool jr = false;
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &jr, &e), MCP_OK);
    assert_true(jr);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-2", &jr, &e), MCP_OK);
    assert_true(jr);
    /* expiry */
    g.family = "fam2";
    g.expires = now - 1;
    assert_int_equal(mcp__store_as_refresh_put(s, "r3", &g, "", 0, now, &e), MCP_OK);
    assert_int_equal(mcp__store_as_refresh_take(s, "r3", now, &res, &out, &e), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_EXPIRED);
    mcp_store_close(s);
}

static void
passwords_and_clients_in_the_store(void **state)
{
    tdir *t = *state;
    mcp_store *s = store_with_alice(t);
    mcp_error e;
    assert_int_equal(mcp_as_user_set_password(s, "alice", "short", 5, &e), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_as_user_set_password(s, "bob", "long enough", 11, &e),
                     MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_as_user_set_password(s, "alice", "long enough", 11, &e), MCP_OK);
    char *h = NULL;
    assert_int_equal(mcp__store_as_password_get(s, "alice", &h, &e), MCP_OK);
    assert_non_null(h);
    assert_null(strstr(h, "long enough"));
    assert_true(mcp__as_password_check("long enough", 11, h));
    mcp__free(h);
    const char *uris[] = { "http://127.0.0.1/cb", NULL };
    mcp_as_client_def d = { .id = "app", .redirect_uris = uris };
    char *secret = NULL;
    assert_int_equal(mcp_as_client_add(s, &d, &secret, &e), MCP_OK);
    assert_null(secret);
    assert_int_equal(mcp_as_client_add(s, &d, &secret, &e), MCP_ERR_STATE);
    mcp_as_client_def bad = { .id = "has space" };
    assert_int_equal(mcp_as_client_add(s, &bad, &secret, &e), MCP_ERR_INVALID_ARG);
    mcp_as_client_def own = { .id = "robot", .confidential = true, .owner = "nobody" };
    assert_int_equal(mcp_as_client_add(s, &own, &secret, &e), MCP_ERR_NOT_FOUND);
    own.owner = "alice";
    assert_int_equal(mcp_as_client_add(s, &own, &secret, &e), MCP_OK);
    assert_non_null(secret);
    assert_int_equal(strlen(secret), 43);
    mcp__store_as_client c;
    assert_int_equal(mcp__store_as_client_get(s, "robot", &c, &e), MCP_OK);
    char hex[65];
    assert_true(mcp__as_sha256_hex(secret, strlen(secret), hex));
    assert_string_equal(c.secret_hash, hex);
    assert_string_equal(c.owner, "alice");
    mcp__store_as_client_cleanup(&c);
    mcp_free(secret);
    assert_int_equal(mcp_as_client_remove(s, "robot", &e), MCP_OK);
    assert_int_equal(mcp_as_client_remove(s, "robot", &e), MCP_ERR_NOT_FOUND);
    mcp_store_close(s);
}

/* ---- the object and the route ----------------------------------------------------------- */

typedef struct fake {
    mcp_http_route_req rq;
    const char *ctype;
} fake;

static const char *
fake_header(const mcp_http_route_req *rq, const char *name)
{
    const fake *f = (const fake *)(const void *)rq;
    return strcmp(name, "Content-Type") == 0 ? f->ctype : NULL;
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
route(mcp_as *as, const char *method, const char *path, const char *ctype, const char *body,
      mcp_http_route_resp *rs)
{
    fake f = { .rq = { .method = method, .path = path, .peer = "127.0.0.1", .body = body,
                       .body_len = strlen(body), .header = fake_header, .query = fake_query },
               .ctype = ctype };
    memset(rs, 0, sizeof *rs);
    mcp_as_route(as, &f.rq, rs);
}

static void
resp_free(mcp_http_route_resp *rs)
{
    mcp__free(rs->body);
    for (unsigned i = 0; i < rs->nheaders; i++)
        mcp__free(rs->header_value[i]);
}

static void
as_object_and_route(void **state)
{
    tdir *t = *state;
    mcp_store *s = store_with_alice(t);
    char key[160];
    snprintf(key, sizeof key, "%s/k.pem", t->dir);
    const char *res[] = { "http://127.0.0.1:1/mcp", NULL };
    mcp_as_opts o;
    mcp_as_opts_default(&o);
    o.store = s;
    o.resources = res;
    o.key_file = key;
    mcp_as *as = NULL;
    mcp_error e;
    o.issuer = "http://127.0.0.1:1/path";
    assert_int_equal(mcp_as_new(&o, &as, &e), MCP_ERR_INVALID_ARG);
    o.issuer = "ftp://127.0.0.1:1";
    assert_int_equal(mcp_as_new(&o, &as, &e), MCP_ERR_INVALID_ARG);
    o.issuer = "http://127.0.0.1:1";
    assert_int_equal(mcp_as_new(&o, &as, &e), MCP_OK);
    struct stat sb;
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *jwks = mcp__strdup(mcp_as_jwks_json(as));
    mcp_as_free(as);
    /* the same file gives the same key (and kid) */
    assert_int_equal(mcp_as_new(&o, &as, &e), MCP_OK);
    assert_string_equal(mcp_as_jwks_json(as), jwks);
    mcp__free(jwks);

    mcp_http_route_resp rs;
    route(as, "GET", "/.well-known/oauth-authorization-server", NULL, "", &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"code_challenge_methods_supported\":[\"S256\"]"));
    assert_non_null(strstr(rs.body, "\"issuer\":\"http://127.0.0.1:1\""));
    resp_free(&rs);
    route(as, "GET", "/elsewhere", NULL, "", &rs);
    assert_int_equal(rs.status, 0);
    assert_false(rs.defer);
    resp_free(&rs);
    /* the sign-in (scrypt) asks to be run on a worker thread, never answers on an IO thread */
    route(as, "POST", "/authorize", "application/x-www-form-urlencoded", "username=a", &rs);
    assert_true(rs.defer);
    assert_int_equal(rs.status, 0);
    assert_null(rs.body);
    resp_free(&rs);
    route(as, "GET", "/token", NULL, "", &rs);
    assert_int_equal(rs.status, 405);
    resp_free(&rs);
    route(as, "POST", "/token", "application/json", "{}", &rs);
    assert_int_equal(rs.status, 400);
    resp_free(&rs);
    route(as, "POST", "/token", "application/x-www-form-urlencoded",
          "grant_type=authorization_code&client_id=nobody&code=x&code_verifier=y", &rs);
    assert_int_equal(rs.status, 401);
    assert_non_null(strstr(rs.body, "invalid_client"));
    resp_free(&rs);
    route(as, "POST", "/token", "application/x-www-form-urlencoded",
          "grant_type=refresh_token&grant_type=refresh_token", &rs);
    assert_int_equal(rs.status, 400);
    resp_free(&rs);
    mcp_as_free(as);

    /* a key file that is not an EC P-256 private key is refused */
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    assert_int_equal(mcp_as_new(&o, &as, &e), MCP_ERR_INVALID_ARG);
    unlink(key);
    mcp_store_close(s);
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
        cmocka_unit_test(pkce_rfc7636_vector),
        cmocka_unit_test(redirect_matching),
        cmocka_unit_test(scope_grants),
        cmocka_unit_test(form_parsing),
        cmocka_unit_test(password_hashing),
        cmocka_unit_test_setup_teardown(codes_are_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(refresh_reuse_revokes_the_family, setup, teardown),
        cmocka_unit_test_setup_teardown(passwords_and_clients_in_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(as_object_and_route, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
