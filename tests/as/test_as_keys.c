/* Unit tests of signing-key rotation in the embedded authorization server (mcp_as_rotate_key,
 * mcp-admin as rotate-key): a token signed before the rotation still verifies, new tokens carry
 * the new kid, /jwks keeps the old key for the lifetime of its tokens and drops it after, a
 * restarted server loads the retired key only while it is needed, and the resource server's
 * verifier learns the new key before its first token. */
#include "../store/test_store_util.h"

#include "as/internal.h"

#include <dirent.h>
#include <sys/stat.h>

#define ISSUER "http://127.0.0.1:1"
#define TTL    5

static mcp_as *
as_open(tdir *t, mcp_store *s, const char *key, mcp_jwt_verifier *rsv)
{
    (void)t;
    const char *res[] = { ISSUER "/mcp", NULL };
    mcp_as_opts o;
    mcp_as_opts_default(&o);
    o.store = s;
    o.resources = res;
    o.key_file = key;
    o.issuer = ISSUER;
    o.access_ttl_s = TTL;
    o.verifier = rsv;
    mcp_as *as = NULL;
    mcp_error e;
    if (mcp_as_new(&o, &as, &e) != MCP_OK)
        fail_msg("mcp_as_new: %s", e.message);
    return as;
}

static char *
mint(mcp_as *as)
{
    char *tok = NULL;
    mcp_error e;
    assert_int_equal(mcp__as_mint(as, "alice", "c", ISSUER "/mcp", "User.Read",
                                  mcp__unix_now(), &tok, NULL, &e), MCP_OK);
    return tok;
}

static char *
kid_of(const char *tok)
{
    char *h = NULL, *p = NULL;
    assert_int_equal(mcp_jwt_decode_unverified(tok, strlen(tok), &h, &p, NULL), MCP_OK);
    json_error_t je;
    json_t *doc = json_loads(h, 0, &je);
    char *kid = mcp__strdup(json_string_value(json_object_get(doc, "kid")));
    json_decref(doc);
    mcp_free(h);
    mcp_free(p);
    return kid;
}

/* A verifier of our tokens with the keys of jwks. */
static mcp_jwt_verifier *
verifier(const char *jwks)
{
    mcp_jwt_opts jo;
    mcp_jwt_opts_default(&jo);
    jo.issuer = ISSUER;
    jo.audience = ISSUER "/mcp";
    jo.cache_size = 0;
    jo.jwks_refresh_s = 0;
    mcp_jwt_verifier *v = NULL;
    mcp_error e;
    assert_int_equal(mcp_jwt_verifier_new(&jo, &v, &e), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_jwks(v, jwks, strlen(jwks), &e), MCP_OK);
    return v;
}

static bool
verifies(const mcp_jwt_verifier *v, const char *tok)
{
    mcp_principal *p = NULL;
    mcp_error e;
    bool ok = mcp_jwt_verify(v, tok, strlen(tok), &p, &e) == MCP_OK;
    mcp_principal_unref(p);
    return ok;
}

/* The number of retired key files beside key. */
static int
retired_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".retired.") != NULL)
            n++;
    closedir(d);
    return n;
}

static void
rotation_keeps_old_tokens_valid(void **state)
{
    tdir *t = *state;
    mcp_store *s = NULL;
    mcp_error e;
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &e), MCP_OK);
    char key[200];
    snprintf(key, sizeof key, "%s/as.pem", t->dir);
    /* no key file yet: nothing to rotate */
    assert_int_equal(mcp_as_rotate_key(key, NULL, &e), MCP_ERR_NOT_FOUND);

    mcp_as *probe = as_open(t, s, key, NULL);
    mcp_jwt_verifier *rsv = verifier(mcp_as_jwks_json(probe));   /* the resource server's */
    mcp_as_free(probe);
    mcp_as *as = as_open(t, s, key, rsv);
    char *before = mint(as);
    char *kid1 = kid_of(before);
    assert_true(verifies(rsv, before));

    char *kid2 = NULL;
    assert_int_equal(mcp_as_rotate_key(key, &kid2, &e), MCP_OK);
    assert_string_not_equal(kid1, kid2);
    struct stat sb;
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(retired_files(t->dir), 1);
    /* twice in the same second is refused rather than losing a key */
    char *kid3 = NULL;
    mcp_status rc2 = mcp_as_rotate_key(key, &kid3, &e);
    if (rc2 == MCP_OK) {
        /* the second changed in between: a third key then; fine, but it must differ */
        assert_string_not_equal(kid3, kid2);
        mcp_free(kid2);
        kid2 = kid3;
    } else {
        assert_int_equal(rc2, MCP_ERR_IO);
        assert_non_null(strstr(e.message, "this second"));
    }

    /* the running server takes the new key (forced here; it looks once a second) */
    mcp__as_key_check(as, mcp__unix_now(), true);
    char *after = mint(as);
    char *kidn = kid_of(after);
    assert_string_equal(kidn, kid2);
    /* the resource server's verifier knew the new key before its first token */
    assert_true(verifies(rsv, after));
    assert_true(verifies(rsv, before));
    /* /jwks: both keys now, only the new one after the old key's tokens' lifetime */
    int64_t now = mcp__unix_now();
    char *j = mcp__as_jwks_at(as, now);
    assert_non_null(strstr(j, kid1));
    assert_non_null(strstr(j, kid2));
    mcp_jwt_verifier *fromjwks = verifier(j);
    assert_true(verifies(fromjwks, before));
    assert_true(verifies(fromjwks, after));
    mcp_jwt_verifier_free(fromjwks);
    mcp__free(j);
    j = mcp__as_jwks_at(as, now + TTL + 61);
    assert_null(strstr(j, kid1));
    assert_non_null(strstr(j, kid2));
    mcp__free(j);
    mcp_as_free(as);

    /* a restarted server loads the retired key while its tokens live */
    as = as_open(t, s, key, NULL);
    assert_non_null(strstr(mcp_as_jwks_json(as), kid1));
    mcp_jwt_verifier *v2 = verifier(mcp_as_jwks_json(as));
    assert_true(verifies(v2, before));
    mcp_jwt_verifier_free(v2);
    char *again = mint(as);
    char *kida = kid_of(again);
    assert_string_equal(kida, kid2);
    mcp_as_free(as);

    /* once the retired key's tokens are past their lifetime, a start drops and deletes it */
    DIR *d = opendir(t->dir);
    struct dirent *de;
    char oldname[400] = "", newname[400] = "";
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".retired.") != NULL) {
            snprintf(oldname, sizeof oldname, "%s/%s", t->dir, de->d_name);
            snprintf(newname, sizeof newname, "%s.retired.%lld", key,
                     (long long)(mcp__unix_now() - TTL - 61));
            break;
        }
    closedir(d);
    assert_int_equal(rename(oldname, newname), 0);   /* as if that much time had passed */
    as = as_open(t, s, key, NULL);
    assert_null(strstr(mcp_as_jwks_json(as), kid1));
    assert_int_equal(retired_files(t->dir), rc2 == MCP_OK ? 1 : 0);
    mcp_as_free(as);

    mcp_free(again);
    mcp__free(kida);
    mcp_free(before);
    mcp_free(after);
    mcp__free(kid1);
    mcp__free(kidn);
    mcp_free(kid2);
    mcp_jwt_verifier_free(rsv);
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
        cmocka_unit_test_setup_teardown(rotation_keeps_old_tokens_valid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
