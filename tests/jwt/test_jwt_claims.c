/*
 * Claims profiles, allowed tenants, Entra's {tenantid} issuer form and several trusted issuers
 * (src/jwt/jwt_claims.c, mcp_jwt_verifier_add_issuer). Tokens are HS256, minted here with the
 * claim sets the providers send (shapes as in docs/design/authentication.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_jwt_util.h"

static const unsigned char key_a[32] = "issuer-A-secret-0123456789abcdef";
static const unsigned char key_b[32] = "issuer-B-secret-0123456789abcdef";

#define T_A "11111111-2222-4333-8444-555555555555"
#define T_B "99999999-8888-4777-8666-555555555555"
#define ENTRA_T "https://login.microsoftonline.com/{tenantid}/v2.0"
#define KC_ISS "https://kc.example/realms/r1"

static mcp_jwt_verifier *
verifier(const char *iss, const char *profile, const char *const *tenants,
         const unsigned char *key)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = iss;
    o.audience = TU_AUD;
    o.claims_profile = profile;
    o.allowed_tenants = tenants;
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    mcp_status rc = mcp_jwt_verifier_new(&o, &v, &err);
    if (rc != MCP_OK)
        fprintf(stderr, "verifier: %s\n", err.message);
    assert_int_equal(rc, MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", key, 32, &err), MCP_OK);
    return v;
}

/* Sign claims (a printf format; "%1$lld" is the expiry) with key. */
static char *
mint(const unsigned char *key, const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", key, 32, body, NULL, &tok, &err), MCP_OK);
    return tok;
}

static long long
exp_s(void)
{
    return (long long)mcp__unix_now() + 300;
}

/* Verify tok; on MCP_OK return the permissions space-joined in *perms_out. */
static mcp_status
check(const mcp_jwt_verifier *v, char *tok, mcp_principal **p, mcp_error *err)
{
    *p = NULL;
    mcp_status rc = mcp_jwt_verify(v, tok, strlen(tok), p, err);
    mcp_free(tok);
    return rc;
}

static void
perms_are(const mcp_principal *p, const char *want)
{
    char got[512] = "";
    for (size_t i = 0; i < mcp_principal_permission_count(p); i++) {
        size_t l = strlen(got);
        snprintf(got + l, sizeof got - l, "%s%s", i ? " " : "", mcp_principal_permission(p, i));
    }
    assert_string_equal(got, want);
}

static void
profile_names_checked(void **state)
{
    (void)state;
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = TU_ISS;
    o.audience = TU_AUD;
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    o.claims_profile = "azure";
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "unknown claims profile"));
    assert_null(v);
    o.claims_profile = "none";
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    mcp_jwt_verifier_free(v);
    /* a {tenantid} issuer without an allow-list: refused (any tenant is never the default) */
    o.claims_profile = "entra";
    o.issuer = ENTRA_T;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "an issuer with {tenantid} needs allowed tenants");
    const char *const empty_tenant[] = { "", NULL };
    o.allowed_tenants = empty_tenant;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
}

/* Entra v2: scp (string) for delegated, roles (array) for app permissions, oid as subject, tid
 * from the allow-list, iss = the template with the token's tid. */
static void
entra_shapes_and_tenants(void **state)
{
    (void)state;
    const char *const tenants[] = { T_A, NULL };
    mcp_jwt_verifier *v = verifier(ENTRA_T, "entra", tenants, key_a);
    mcp_principal *p;
    mcp_error err;
    const char *user = "{\"iss\":\"https://login.microsoftonline.com/%2$s/v2.0\",\"aud\":\"" TU_AUD
                       "\",\"exp\":%1$lld,\"ver\":\"2.0\",\"tid\":\"%2$s\",\"sub\":\"pairwise-1\","
                       "\"oid\":\"0a0b-oid\",\"azp\":\"client-guid\",\"name\":\"Ann\","
                       "\"scp\":\"User.Read User.Write\"}";
    assert_int_equal(check(v, mint(key_a, user, exp_s(), T_A), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "0a0b-oid");
    assert_string_equal(mcp_principal_client_id(p), "client-guid");
    assert_string_equal(mcp_principal_name(p), "Ann");
    perms_are(p, "User.Read User.Write");
    mcp_principal_unref(p);

    const char *app = "{\"iss\":\"https://login.microsoftonline.com/%2$s/v2.0\",\"aud\":\"" TU_AUD
                      "\",\"exp\":%1$lld,\"tid\":\"%2$s\",\"sub\":\"sp\",\"oid\":\"sp-oid\","
                      "\"azp\":\"daemon\",\"roles\":[\"Admin.Write\",\"Guest.Read\"]}";
    assert_int_equal(check(v, mint(key_a, app, exp_s(), T_A), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "sp-oid");
    perms_are(p, "Admin.Write Guest.Read");
    mcp_principal_unref(p);

    /* the other tenant: refused even though signed with the right key */
    assert_int_equal(check(v, mint(key_a, app, exp_s(), T_B), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "tenant not allowed");
    /* allowed tid, but iss names another tenant */
    const char *mixed = "{\"iss\":\"https://login.microsoftonline.com/" T_B "/v2.0\",\"aud\":\""
                        TU_AUD "\",\"exp\":%lld,\"tid\":\"" T_A "\",\"sub\":\"s\"}";
    assert_int_equal(check(v, mint(key_a, mixed, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "issuer mismatch");
    /* no tid */
    const char *notid = "{\"iss\":\"https://login.microsoftonline.com/" T_A "/v2.0\",\"aud\":\""
                        TU_AUD "\",\"exp\":%lld,\"sub\":\"s\"}";
    assert_int_equal(check(v, mint(key_a, notid, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "missing tid");
    /* roles not an array */
    const char *badroles = "{\"iss\":\"https://login.microsoftonline.com/" T_A "/v2.0\",\"aud\":\""
                           TU_AUD "\",\"exp\":%lld,\"tid\":\"" T_A "\",\"sub\":\"s\","
                           "\"roles\":\"Admin.Write\"}";
    assert_int_equal(check(v, mint(key_a, badroles, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: roles");
    mcp_jwt_verifier_free(v);

    /* without the profile, roles grant nothing and sub stays the subject; tid is not looked
     * at without tenants (even of another type) */
    v = verifier(TU_ISS, NULL, NULL, key_a);
    const char *plain = "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                        "\"sub\":\"pw\",\"oid\":\"o\",\"tid\":5,\"roles\":[\"Admin.Write\"]}";
    assert_int_equal(check(v, mint(key_a, plain, exp_s()), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "pw");
    perms_are(p, "");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
}

static void
keycloak_realm_and_client_roles(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = verifier(KC_ISS, "keycloak", NULL, key_a);
    mcp_principal *p;
    mcp_error err;
    const char *tok = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                      "\"sub\":\"u-uuid\",\"typ\":\"Bearer\",\"azp\":\"mcp-app\","
                      "\"preferred_username\":\"kim\",\"scope\":\"profile\","
                      "\"realm_access\":{\"roles\":[\"User.Read\"]},"
                      "\"resource_access\":{\"mcp-app\":{\"roles\":[\"Admin.Write\"]},"
                      "\"other\":{\"roles\":[\"Other.Power\"]}}}";
    assert_int_equal(check(v, mint(key_a, tok, exp_s()), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_name(p), "kim");
    assert_string_equal(mcp_principal_client_id(p), "mcp-app");
    /* scope kept, realm roles, the azp client's roles; never another client's */
    perms_are(p, "profile User.Read Admin.Write");
    mcp_principal_unref(p);
    const char *bad = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                      "\"sub\":\"u\",\"realm_access\":[\"User.Read\"]}";
    assert_int_equal(check(v, mint(key_a, bad, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: realm_access");
    mcp_jwt_verifier_free(v);

    /* claims_client names the resource server's client explicitly */
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = KC_ISS;
    o.audience = TU_AUD;
    o.claims_profile = "keycloak";
    o.claims_client = "other";
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", key_a, 32, &err), MCP_OK);
    assert_int_equal(check(v, mint(key_a, tok, exp_s()), &p, &err), MCP_OK);
    perms_are(p, "profile User.Read Other.Power");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
}

static void
auth0_and_okta(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = verifier(TU_ISS, "auth0", NULL, key_a);
    mcp_principal *p;
    mcp_error err;
    const char *a0 = "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                     "\"sub\":\"cli@clients\",\"azp\":\"cli\",\"gty\":\"client-credentials\","
                     "\"permissions\":[\"User.Read\",\"Admin.Write\"],\"scope\":\"User.Read\"}";
    assert_int_equal(check(v, mint(key_a, a0, exp_s()), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "cli@clients");
    assert_string_equal(mcp_principal_client_id(p), "cli");
    perms_are(p, "User.Read Admin.Write");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);

    v = verifier(TU_ISS, "okta", NULL, key_a);
    const char *ok = "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,\"ver\":1,"
                     "\"sub\":\"ann@example.com\",\"cid\":\"0oa-client\",\"uid\":\"00u1\","
                     "\"scp\":[\"User.Read\",\"User.Write\"]}";
    assert_int_equal(check(v, mint(key_a, ok, exp_s()), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_client_id(p), "0oa-client");
    perms_are(p, "User.Read User.Write");
    mcp_principal_unref(p);
    const char *badcid = "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                         "\"sub\":\"s\",\"cid\":5}";
    assert_int_equal(check(v, mint(key_a, badcid, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: cid");
    mcp_jwt_verifier_free(v);
}

/* Two issuers, each with its own key: a token naming A is checked against A's key only. */
static void
several_issuers(void **state)
{
    (void)state;
    const char *iss_a = "https://a.example", *iss_b = "https://b.example";
    mcp_jwt_verifier *v = verifier(iss_a, NULL, NULL, key_a);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_issuer(v, verifier(iss_b, "okta", NULL, key_b), &err),
                     MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_issuer(v, verifier(iss_b, NULL, NULL, key_b), &err),
                     MCP_ERR_INVALID_ARG); /* trusted twice (and freed) */
    assert_string_equal(err.message, "issuer trusted twice");
    mcp_principal *p;
    const char *fmt = "{\"iss\":\"%2$s\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,\"sub\":\"s\","
                      "\"cid\":\"c\",\"scp\":[\"User.Read\"]}";
    assert_int_equal(check(v, mint(key_a, fmt, exp_s(), iss_a), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_issuer(p), iss_a);
    assert_null(mcp_principal_client_id(p)); /* A has no profile: cid means nothing */
    mcp_principal_unref(p);
    char *tb = mint(key_b, fmt, exp_s(), iss_b);
    for (int round = 0; round < 2; round++) { /* the second time from the caches */
        assert_int_equal(mcp_jwt_verify(v, tb, strlen(tb), &p, &err), MCP_OK);
        assert_string_equal(mcp_principal_issuer(p), iss_b);
        assert_string_equal(mcp_principal_client_id(p), "c"); /* B's okta profile */
        mcp_principal_unref(p);
    }
    mcp_free(tb);
    /* issuer A's name, issuer B's key: refused; and the other way round */
    assert_int_equal(check(v, mint(key_b, fmt, exp_s(), iss_a), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "signature invalid");
    assert_int_equal(check(v, mint(key_a, fmt, exp_s(), iss_b), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "signature invalid");
    /* an issuer nobody trusts, and none at all */
    assert_int_equal(check(v, mint(key_a, fmt, exp_s(), "https://c.example"), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "issuer not trusted");
    const char *noiss = "{\"aud\":\"" TU_AUD "\",\"exp\":%lld,\"sub\":\"s\"}";
    assert_int_equal(check(v, mint(key_a, noiss, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "missing iss");
    assert_int_equal(mcp_jwt_verify(v, "a.b", 3, &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(mcp_jwt_verifier_add_issuer(v, NULL, &err), MCP_ERR_INVALID_ARG);
    mcp_jwt_verifier_free(v);
}

static void
permission_map(void **state)
{
    (void)state;
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = KC_ISS;
    o.audience = TU_AUD;
    o.claims_profile = "keycloak";
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    const char *const odd[] = { "Products.Admin", NULL };
    const char *const spaced[] = { "Products.Admin", "Admin Write", NULL };
    const char *const twice[] = { "A", "Admin.Write", "A", "User.Read", NULL };
    const char *const empty[] = { "", "Admin.Write", NULL };
    const char *const *bad[] = { odd, spaced, twice, empty };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.permission_map = bad[i];
        assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
        assert_non_null(strstr(err.message, "permission map"));
        assert_null(v);
    }
    const char *const map[] = { "Products.Admin", "Admin.Write", "Products.Reader", "User.Read",
                                NULL };
    o.permission_map = map;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", key_a, 32, &err), MCP_OK);
    mcp_principal *p;
    const char *tok = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%lld,"
                      "\"sub\":\"u\",\"azp\":\"app\",\"scope\":\"Products.Reader\","
                      "\"realm_access\":{\"roles\":[\"Products.Admin\",\"Other\",\"User.Read\"]}}";
    assert_int_equal(check(v, mint(key_a, tok, exp_s()), &p, &err), MCP_OK);
    /* mapped names replaced (and de-duplicated), others kept */
    perms_are(p, "User.Read Admin.Write Other");
    assert_string_equal(mcp_principal_subject(p), "u");
    assert_string_equal(mcp_principal_client_id(p), "app");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
}

/* Claim paths: a verifier with subject/name/client/permission paths (NULL-terminated perms). */
static mcp_status
path_verifier(const char *sub, const char *name, const char *client,
              const char *const *perms, mcp_jwt_verifier **v, mcp_error *err)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = KC_ISS;
    o.audience = TU_AUD;
    o.subject_claim = sub;
    o.name_claim = name;
    o.client_id_claim = client;
    o.permission_claims = perms;
    *v = NULL;
    mcp_status rc = mcp_jwt_verifier_new(&o, v, err);
    if (rc == MCP_OK)
        assert_int_equal(mcp_jwt_verifier_add_hmac(*v, NULL, "HS256", key_a, 32, err), MCP_OK);
    return rc;
}

/* Malformed paths are refused when the verifier is made (start-up), naming the reason. */
static void
claim_paths_refused_when_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *path, *why;
    } bad[] = {
        { "", "1..256 bytes" },
        { ".roles", "an empty segment" },
        { "realm_access.", "an empty segment" },
        { "realm_access..roles", "an empty segment" },
        { "a\\b", "a backslash escapes only a dot or a backslash" },
        { "roles\\", "a backslash escapes only a dot or a backslash" },
        { "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", "more than 16 segments" },
        { "ro\tles", "a control character" },
    };
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const perms[] = { bad[i].path, NULL };
        assert_int_equal(path_verifier(NULL, NULL, NULL, perms, &v, &err), MCP_ERR_INVALID_ARG);
        assert_null(v);
        if (strstr(err.message, bad[i].why) == NULL)
            fail_msg("path \"%s\": %s", bad[i].path, err.message);
        assert_non_null(strstr(err.message, "permission claim"));
        assert_int_equal(path_verifier(bad[i].path, NULL, NULL, NULL, &v, &err),
                         MCP_ERR_INVALID_ARG);
        assert_non_null(strstr(err.message, "subject claim"));
    }
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(path_verifier(NULL, longp, NULL, NULL, &v, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "name claim"));
    longp[256] = '\0'; /* exactly 256 bytes: fine */
    assert_int_equal(path_verifier(NULL, NULL, longp, NULL, &v, &err), MCP_OK);
    mcp_jwt_verifier_free(v);
    /* 16 segments is the limit, not more; 17 paths are too many */
    assert_int_equal(path_verifier("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", NULL, NULL, NULL, &v, &err),
                     MCP_OK);
    mcp_jwt_verifier_free(v);
    const char *many[18];
    for (int i = 0; i < 17; i++)
        many[i] = "roles";
    many[17] = NULL;
    assert_int_equal(path_verifier(NULL, NULL, NULL, many, &v, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "more than 16 permission claims"));
}

/* Keycloak-shaped token read through explicit paths (no profile): realm and client roles, a
 * client id containing a dash, the subject from a nested claim, arrays of strings and a
 * space-separated string, an array index, and a claim whose name contains dots. */
static void
claim_paths_nested_and_escaped(void **state)
{
    (void)state;
    const char *const perms[] = {
        "realm_access.roles",
        "resource_access.my-client.roles",
        "https://example\\.com/permissions", /* the one claim "https://example.com/permissions" */
        "ext.scopes",                         /* a string: its words */
        "groups.1.name",                      /* an index into an array of objects */
        "absent.path",                        /* absent: nothing, no error */
        NULL,
    };
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    assert_int_equal(path_verifier("user.id", "user.display\\\\name", "ext.client",
                                   perms, &v, &err),
                     MCP_OK);
    const char *tok =
        "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,\"sub\":\"kc-sub\","
        "\"user\":{\"id\":\"u-42\",\"display\\\\name\":\"Bea\"},"
        "\"ext\":{\"client\":\"web-app\",\"scopes\":\"Docs.Read  Docs.Write\"},"
        "\"realm_access\":{\"roles\":[\"offline_access\",\"Realm.Admin\"]},"
        "\"resource_access\":{\"my-client\":{\"roles\":[\"Products.Write\"]},"
        "\"other\":{\"roles\":[\"Not.Mine\"]}},"
        "\"https://example.com/permissions\":[\"Dotted.Key\",\"\"],"
        "\"https://example\":{\"com/permissions\":[\"Wrong.Split\"]},"
        "\"groups\":[{\"name\":\"g0\"},{\"name\":\"Group.One\"}]}";
    mcp_principal *p;
    assert_int_equal(check(v, mint(key_a, tok, exp_s()), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "u-42");
    assert_string_equal(mcp_principal_name(p), "Bea");
    assert_string_equal(mcp_principal_client_id(p), "web-app");
    perms_are(p, "offline_access Realm.Admin Products.Write Dotted.Key Docs.Read Docs.Write "
                 "Group.One");
    mcp_principal_unref(p);

    /* the same claims without the nested parts: nothing from the paths, the subject refused */
    const char *bare = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,"
                       "\"sub\":\"kc-sub\",\"user\":{}}";
    assert_int_equal(check(v, mint(key_a, bare, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "missing subject claim user.id");
    mcp_jwt_verifier_free(v);
}

/* A value of the wrong type anywhere on a path: "malformed token: <path>", never skipped. */
static void
claim_paths_wrong_types(void **state)
{
    (void)state;
    const char *const perms[] = { "realm_access.roles", "groups.0", NULL };
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    assert_int_equal(path_verifier(NULL, NULL, NULL, perms, &v, &err), MCP_OK);
    static const char *const bodies[] = {
        "\"realm_access\":\"Admin\"",                   /* a string where an object is */
        "\"realm_access\":{\"roles\":[\"ok\",7]}",      /* a number in the array */
        "\"realm_access\":{\"roles\":{\"a\":\"b\"}}",   /* an object at the end */
        "\"realm_access\":{\"roles\":null}",            /* null is not absent */
        "\"realm_access\":[{\"roles\":[\"x\"]}]",       /* a name on an array */
        "\"groups\":[{\"a\":\"x\"}]",                   /* an object at index 0 */
        "\"groups\":[[\"x\",1]]",                       /* index 0: a number inside */
    };
    mcp_principal *p;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char fmt[512];
        snprintf(fmt, sizeof fmt,
                 "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%%1$lld,"
                 "\"sub\":\"s\",%s}", bodies[i]);
        if (check(v, mint(key_a, fmt, exp_s()), &p, &err) != MCP_ERR_UNAUTHENTICATED)
            fail_msg("accepted: %s", bodies[i]);
        assert_null(p);
        if (strncmp(err.message, "malformed token: ", 17) != 0)
            fail_msg("%s: %s", bodies[i], err.message);
    }
    /* an index past the end, and a non-canonical index, on an array of strings */
    const char *const idx[] = { "groups.5", NULL };
    mcp_jwt_verifier_free(v);
    assert_int_equal(path_verifier(NULL, NULL, NULL, idx, &v, &err), MCP_OK);
    const char *g = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,"
                    "\"sub\":\"s\",\"groups\":[\"a\",\"b\"]}";
    assert_int_equal(check(v, mint(key_a, g, exp_s()), &p, &err), MCP_OK);
    perms_are(p, "");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
    const char *const lead0[] = { "groups.01", NULL };
    assert_int_equal(path_verifier(NULL, NULL, NULL, lead0, &v, &err), MCP_OK);
    assert_int_equal(check(v, mint(key_a, g, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: groups.01");
    /* a subject path naming a number */
    mcp_jwt_verifier_free(v);
    assert_int_equal(path_verifier("uid", NULL, NULL, NULL, &v, &err), MCP_OK);
    const char *num = "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,"
                      "\"sub\":\"s\",\"uid\":42}";
    assert_int_equal(check(v, mint(key_a, num, exp_s()), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: uid");
    mcp_jwt_verifier_free(v);
}

/* Paths add to a profile's claims, and the permission map applies to what they found. */
static void
claim_paths_with_profile_and_map(void **state)
{
    (void)state;
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = KC_ISS;
    o.audience = TU_AUD;
    o.claims_profile = "keycloak";
    o.claims_client = "mcp";
    const char *const perms[] = { "resource_access.reporting.roles", NULL };
    const char *const map[] = { "report-viewer", "Reports.Read", NULL };
    o.permission_claims = perms;
    o.permission_map = map;
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", key_a, 32, &err), MCP_OK);
    const char *tok =
        "{\"iss\":\"" KC_ISS "\",\"aud\":\"" TU_AUD "\",\"exp\":%1$lld,\"sub\":\"s\","
        "\"realm_access\":{\"roles\":[\"R1\"]},\"resource_access\":{\"mcp\":{\"roles\":"
        "[\"C1\"]},\"reporting\":{\"roles\":[\"report-viewer\"]}}}";
    mcp_principal *p;
    assert_int_equal(check(v, mint(key_a, tok, exp_s()), &p, &err), MCP_OK);
    perms_are(p, "R1 C1 Reports.Read");
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profile_names_checked),
        cmocka_unit_test(entra_shapes_and_tenants),
        cmocka_unit_test(keycloak_realm_and_client_roles),
        cmocka_unit_test(auth0_and_okta),
        cmocka_unit_test(several_issuers),
        cmocka_unit_test(permission_map),
        cmocka_unit_test(claim_paths_refused_when_malformed),
        cmocka_unit_test(claim_paths_nested_and_escaped),
        cmocka_unit_test(claim_paths_wrong_types),
        cmocka_unit_test(claim_paths_with_profile_and_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
