/*
 * --trusted-issuers FILE (src/app/trusted_issuers.c): the claim-path members (subject_claim,
 * name_claim, client_id_claim, permission_claims) reach the issuer's verifier, so a token of
 * that issuer is read through them (and another issuer's is not); a malformed path, or a
 * member of the wrong type, fails the whole file (start-up) with the entry and the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../jwt/test_jwt_util.h"

#include "app/internal.h"

#include <unistd.h>

static const char secret[] = "trusted-issuer-secret-0123456789abcdef";

typedef struct fx {
    char dir[64];
    char key[128];
    char file[128];
} fx;

static int
setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/mcp-ti-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->key, sizeof f->key, "%s/hs.key", f->dir);
    snprintf(f->file, sizeof f->file, "%s/issuers.json", f->dir);
    FILE *k = fopen(f->key, "w");
    if (k == NULL)
        return -1;
    fprintf(k, "%s\n", secret);
    fclose(k);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fx *f = *state;
    unlink(f->key);
    unlink(f->file);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* in with every "@" replaced by rep, into out. */
static void
subst(const char *in, const char *rep, char *out, size_t cap)
{
    size_t n = 0, rl = strlen(rep);
    for (; *in != '\0'; in++) {
        if (*in == '@') {
            assert_true(n + rl < cap);
            memcpy(out + n, rep, rl);
            n += rl;
        } else {
            assert_true(n + 1 < cap);
            out[n++] = *in;
        }
    }
    out[n] = '\0';
}

/* Write the file (every "@" is the key file) and load it into a verifier of issuer TU_ISS.
 * Returns the status; *v is the verifier (NULL on failure). */
static mcp_status
load(const fx *f, const char *json, mcp_jwt_verifier **v, mcp_error *err)
{
    char text[2048];
    subst(json, f->key, text, sizeof text);
    FILE *o = fopen(f->file, "w");
    assert_non_null(o);
    fputs(text, o);
    fclose(o);
    mcp_jwt_opts base;
    mcp_jwt_opts_default(&base);
    base.issuer = TU_ISS;
    base.audience = TU_AUD;
    *v = NULL;
    assert_int_equal(mcp_jwt_verifier_new(&base, v, err), MCP_OK);
    mcp_status rc = mcp__app_trusted_issuers(f->file, &base, *v, NULL, err);
    if (rc != MCP_OK) {
        mcp_jwt_verifier_free(*v);
        *v = NULL;
    }
    return rc;
}

static char *
mint(const char *body)
{
    char *tok = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_sign("HS256", secret, strlen(secret), body, NULL, &tok, &err),
                     MCP_OK);
    return tok;
}

static void
paths_reach_the_issuer(void **state)
{
    fx *f = *state;
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    mcp_status rc = load(f,
                         "[ { \"issuer\": \"https://kc.test\", \"secret_file\": \"@\","
                         "    \"subject_claim\": \"ext.uid\", \"name_claim\": \"preferred_username\","
                         "    \"client_id_claim\": \"azp\","
                         "    \"permission_claims\": [\"realm_access.roles\","
                         "      \"resource_access.my-client.roles\", \"https://x\\\\.test/p\"] },"
                         "  { \"issuer\": \"https://plain.test\", \"secret_file\": \"@\" } ]",
                         &v, &err);
    if (rc != MCP_OK)
        fail_msg("%s", err.message);
    char body[1024], exp[32];
    snprintf(exp, sizeof exp, "%lld", (long long)mcp__unix_now() + 300);
    const char *claims =
        "\"aud\":\"" TU_AUD "\",\"exp\":@,\"sub\":\"kc-sub\",\"ext\":{\"uid\":\"u-7\"},"
        "\"preferred_username\":\"zoe\",\"azp\":\"web\","
        "\"realm_access\":{\"roles\":[\"Realm.Role\"]},"
        "\"resource_access\":{\"my-client\":{\"roles\":[\"Client.Role\"]}},"
        "\"https://x.test/p\":\"Ns.One Ns.Two\"}";
    char fmt[1024];
    snprintf(fmt, sizeof fmt, "{\"iss\":\"https://kc.test\",%s", claims);
    subst(fmt, exp, body, sizeof body);
    char *tok = mint(body);
    mcp_principal *p = NULL;
    rc = mcp_jwt_verify(v, tok, strlen(tok), &p, &err);
    mcp_free(tok);
    if (rc != MCP_OK)
        fail_msg("%s", err.message);
    assert_string_equal(mcp_principal_subject(p), "u-7");
    assert_string_equal(mcp_principal_name(p), "zoe");
    assert_string_equal(mcp_principal_client_id(p), "web");
    assert_int_equal(mcp_principal_permission_count(p), 4);
    assert_string_equal(mcp_principal_permission(p, 0), "Realm.Role");
    assert_string_equal(mcp_principal_permission(p, 1), "Client.Role");
    assert_string_equal(mcp_principal_permission(p, 2), "Ns.One");
    assert_string_equal(mcp_principal_permission(p, 3), "Ns.Two");
    mcp_principal_unref(p);
    /* the other issuer has no paths: sub is the subject, the nested roles grant nothing */
    snprintf(fmt, sizeof fmt, "{\"iss\":\"https://plain.test\",%s", claims);
    subst(fmt, exp, body, sizeof body);
    tok = mint(body);
    rc = mcp_jwt_verify(v, tok, strlen(tok), &p, &err);
    mcp_free(tok);
    assert_int_equal(rc, MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "kc-sub");
    assert_int_equal(mcp_principal_permission_count(p), 0);
    mcp_principal_unref(p);
    mcp_jwt_verifier_free(v);
}

static void
malformed_paths_refused(void **state)
{
    fx *f = *state;
    static const struct {
        const char *member, *why;
    } bad[] = {
        { "\"permission_claims\": [\"realm_access..roles\"]",
          "trusted issuer 2: permission claim: bad claim path (an empty segment)" },
        { "\"subject_claim\": \"a\\\\b\"",
          "trusted issuer 2: subject claim: bad claim path (a backslash escapes only a dot or a "
          "backslash)" },
        { "\"name_claim\": \"x.\"", "trusted issuer 2: name claim: bad claim path (an empty "
                                    "segment)" },
        { "\"client_id_claim\": \"\"", "trusted issuer 2: a member that must be a non-empty "
                                       "string is not" },
        { "\"permission_claims\": \"realm_access.roles\"",
          "trusted issuer 2: jwks_files, public_keys, allowed_tenants, permission_claims: arrays "
          "of strings" },
        { "\"permission_claims\": [\"a\", 7]",
          "trusted issuer 2: jwks_files, public_keys, allowed_tenants, permission_claims: arrays "
          "of strings" },
        { "\"permission_claims\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]",
          "trusted issuer 2: too many permission_claims" },
        { "\"permission_claim\": [\"a\"]", "trusted issuer 2: unknown member \"permission_claim\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "[ { \"issuer\": \"https://ok.test\", \"secret_file\": \"@\" },"
                 "  { \"issuer\": \"https://kc.test\", \"secret_file\": \"@\", %s } ]",
                 bad[i].member);
        mcp_jwt_verifier *v = NULL;
        mcp_error err;
        mcp_error_clear(&err);
        if (load(f, json, &v, &err) != MCP_ERR_INVALID_ARG)
            fail_msg("%s: accepted", bad[i].member);
        assert_null(v);
        if (strcmp(err.message, bad[i].why) != 0)
            fail_msg("%s: got \"%s\"", bad[i].member, err.message);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(paths_reach_the_issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_paths_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
