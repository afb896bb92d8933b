/*
 * Unit tests for src/authz/policy.c: the data-driven evaluation and parsing vectors of
 * tests/vectors/rbac.json (one case per row), policy files, limits and rate-limit look-ups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <mcp/policy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/internal.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* NULL-terminated copy of a JSON array of strings (NULL for null/absent); free with free_strv. */
static const char **
strv(json_t *a)
{
    if (!json_is_array(a))
        return NULL;
    const char **v = calloc(json_array_size(a) + 1, sizeof *v);
    assert_non_null(v);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) v[i] = json_string_value(e);
    return v;
}

static mcp_principal *
principal_with(json_t *perms)
{
    if (json_is_null(perms) || perms == NULL)
        return NULL;
    mcp_principal_fields f = { .kind = MCP_CRED_JWT, .subject = "vector-subject" };
    mcp_principal *p = NULL;
    assert_int_equal(mcp_principal_new(&f, &p, NULL), MCP_OK);
    size_t i;
    json_t *e;
    json_array_foreach(perms, i, e)
        assert_int_equal(mcp_principal_add_permission(p, json_string_value(e), NULL), MCP_OK);
    return p;
}

static mcp_policy *
policy_from_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    mcp_policy *pol = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc = mcp_policy_parse(text, strlen(text), "vector", &pol, &err);
    if (rc != MCP_OK)
        fail_msg("policy did not parse: %s", err.message);
    free(text);
    return pol;
}

static const char *
source_name(mcp_policy_source s)
{
    return s == MCP_POLICY_SRC_FILE ? "file" : s == MCP_POLICY_SRC_REGISTRATION ? "registration"
                                                                                : "default";
}

/* ---- vectors ----------------------------------------------------------------------------- */

static void
rbac_vectors_evaluate(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file("vectors/rbac.json", JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fail_msg("vectors/rbac.json: %s line %d", jerr.text, jerr.line);
    json_t *policies = json_object_get(doc, "policies");
    json_t *cases = json_object_get(doc, "cases");
    assert_true(json_array_size(cases) >= 40);
    size_t i;
    json_t *c;
    int failures = 0;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *pname = json_object_get(c, "policy");
        mcp_policy *pol = NULL;
        if (json_is_null(pname))
            assert_int_equal(mcp_policy_new_default(&pol, NULL), MCP_OK);
        else
            pol = policy_from_json(json_object_get(policies, json_string_value(pname)));
        json_t *reg = json_object_get(c, "registered");
        mcp_access acc = { 0 };
        const char **any = NULL, **all = NULL;
        if (json_is_object(reg)) {
            any = strv(json_object_get(reg, "any_of"));
            all = strv(json_object_get(reg, "all_of"));
            acc.any_of_perms = any;
            acc.all_of_perms = all;
            acc.any_authenticated = json_is_true(json_object_get(reg, "any_authenticated"));
        }
        mcp_principal *p = principal_with(json_object_get(c, "perms"));
        mcp_policy_result res;
        bool ok = mcp_policy_evaluate(pol, p, json_string_value(json_object_get(c, "kind")),
                                      json_string_value(json_object_get(c, "target")),
                                      json_is_object(reg) ? &acc : NULL, &res);
        bool want = strcmp(json_string_value(json_object_get(c, "expect")), "allow") == 0;
        const char *wsrc = json_string_value(json_object_get(c, "source"));
        const char *wmissing = json_string_value(json_object_get(c, "missing"));
        const char *wrequired = json_string_value(json_object_get(c, "required"));
        const char *wentry = json_string_value(json_object_get(c, "entry"));
        if (ok != want || res.allowed != ok) {
            print_error("%s: expected %s, got %s (required '%s', missing '%s')\n", name,
                        want ? "allow" : "deny", ok ? "allow" : "deny", res.required,
                        res.missing);
            failures++;
        }
        if (wsrc != NULL && strcmp(wsrc, source_name(res.source)) != 0) {
            print_error("%s: source %s, expected %s\n", name, source_name(res.source), wsrc);
            failures++;
        }
        if (wmissing != NULL && strcmp(wmissing, res.missing) != 0) {
            print_error("%s: missing '%s', expected '%s'\n", name, res.missing, wmissing);
            failures++;
        }
        if (wrequired != NULL && strcmp(wrequired, res.required) != 0) {
            print_error("%s: required '%s', expected '%s'\n", name, res.required, wrequired);
            failures++;
        }
        if (wentry != NULL && strcmp(wentry, res.entry) != 0) {
            print_error("%s: entry '%s', expected '%s'\n", name, res.entry, wentry);
            failures++;
        }
        if (ok && res.missing[0] != '\0') {
            print_error("%s: allowed but missing '%s'\n", name, res.missing);
            failures++;
        }
        free(any);
        free(all);
        mcp_principal_unref(p);
        mcp_policy_unref(pol);
    }
    json_decref(doc);
    assert_int_equal(failures, 0);
}

static void
rbac_vectors_parse(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file("vectors/rbac.json", JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(doc);
    json_t *policies = json_object_get(doc, "policies");
    json_t *rows = json_object_get(doc, "parse");
    assert_true(json_array_size(rows) >= 25);
    size_t i;
    json_t *c;
    int failures = 0;
    json_array_foreach(rows, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        char *text = NULL;
        json_t *pj = json_object_get(c, "policy");
        if (json_is_string(pj) && json_string_value(pj)[0] == '@')
            pj = json_object_get(policies, json_string_value(pj) + 1);
        if (pj != NULL)
            text = json_dumps(pj, JSON_COMPACT);
        else
            text = strdup(json_string_value(json_object_get(c, "text")));
        assert_non_null(text);
        mcp_policy *pol = NULL;
        mcp_error err;
        mcp_error_clear(&err);
        mcp_status rc = mcp_policy_parse(text, strlen(text), "vector", &pol, &err);
        bool want_ok = json_is_true(json_object_get(c, "ok"));
        const char *want_err = json_string_value(json_object_get(c, "error"));
        if (want_ok && rc != MCP_OK) {
            print_error("%s: rejected: %s\n", name, err.message);
            failures++;
        } else if (!want_ok && rc == MCP_OK) {
            print_error("%s: accepted, expected an error\n", name);
            failures++;
        } else if (!want_ok && (rc != MCP_ERR_PARSE || err.code != MCP_ERR_PARSE ||
                                strstr(err.message, want_err) == NULL)) {
            print_error("%s: status %s, message '%s', expected '%s'\n", name,
                        mcp_status_name(rc), err.message, want_err);
            failures++;
        }
        if (rc != MCP_OK && pol != NULL) {
            print_error("%s: *out set on failure\n", name);
            failures++;
        }
        mcp_policy_unref(pol);
        free(text);
    }
    json_decref(doc);
    assert_int_equal(failures, 0);
}

/* ---- files and limits -------------------------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void
policy_file_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/mcp-policy-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], big[128];
    snprintf(path, sizeof path, "%s/policy.json", dir);
    snprintf(big, sizeof big, "%s/big.json", dir);
    mcp_policy *pol = NULL;
    mcp_error err;

    mcp_error_clear(&err);
    assert_int_equal(mcp_policy_load_file(path, &pol, &err), MCP_ERR_IO);
    assert_null(pol);
    assert_non_null(strstr(err.message, "cannot open"));

    assert_int_equal(mcp_policy_load_file(dir, &pol, &err), MCP_ERR_IO);   /* a directory */
    assert_non_null(strstr(err.message, "not a regular file"));

    write_file(path, "{\"tools\": {\"t\": {\"any_of\": [\"A\"]}}}\n");
    assert_int_equal(mcp_policy_load_file(path, &pol, &err), MCP_OK);
    assert_int_equal(mcp_policy_entry_count(pol), 1);
    assert_true(mcp_policy_inherits_registration(pol));
    mcp_access a;
    bool deny = true;
    assert_true(mcp_policy_lookup(pol, "tool", "t", &a, &deny));
    assert_false(deny);
    assert_string_equal(a.any_of_perms[0], "A");
    assert_null(a.any_of_perms[1]);
    assert_null(a.all_of_perms);
    assert_false(mcp_policy_lookup(pol, "tool", "u", &a, &deny));
    assert_false(mcp_policy_lookup(pol, "prompt", "t", &a, &deny));
    /* references: the policy outlives the first unref while another is held */
    mcp_policy *second = mcp_policy_ref(pol);
    mcp_policy_unref(pol);
    assert_int_equal(mcp_policy_entry_count(second), 1);
    mcp_policy_unref(second);
    mcp_policy_unref(NULL);
    pol = NULL;

    /* one byte over the limit: refused before parsing */
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    fputc('{', f);
    for (int i = 1; i < MCP_POLICY_FILE_MAX; i++)
        fputc(' ', f);
    fputs("}", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mcp_policy_load_file(big, &pol, &err), MCP_ERR_TOO_LARGE);
    assert_null(pol);

    /* a parse error names the file */
    write_file(path, "{\"tools\": {\"t\": {\"any_of\": \"A\"}}}");
    assert_int_equal(mcp_policy_load_file(path, &pol, &err), MCP_ERR_PARSE);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "tools.t.any_of"));

    assert_int_equal(mcp_policy_load_file(NULL, &pol, &err), MCP_ERR_INVALID_ARG);
    unlink(path);
    unlink(big);
    rmdir(dir);
}

static void
policy_rejects_oversized_lists(void **state)
{
    (void)state;
    json_t *perms = json_array();
    for (int i = 0; i <= MCP_POLICY_LIST_MAX; i++) {
        char p[16];
        snprintf(p, sizeof p, "P%d", i);
        json_array_append_new(perms, json_string(p));
    }
    json_t *doc = json_pack("{s:{s:{s:O}}}", "tools", "t", "any_of", perms);
    char *text = json_dumps(doc, 0);
    mcp_policy *pol = NULL;
    mcp_error err;
    assert_int_equal(mcp_policy_parse(text, strlen(text), NULL, &pol, &err), MCP_ERR_TOO_LARGE);
    assert_null(pol);
    free(text);
    json_decref(doc);

    /* a permission name longer than the limit */
    char longp[MCP_POLICY_PERM_MAX + 2];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    doc = json_pack("{s:{s:{s:[s]}}}", "tools", "t", "any_of", longp);
    text = json_dumps(doc, 0);
    assert_int_equal(mcp_policy_parse(text, strlen(text), NULL, &pol, &err), MCP_ERR_PARSE);
    free(text);
    json_decref(doc);
    json_decref(perms);
}

static void
policy_rate_lookup(void **state)
{
    (void)state;
    static const char text[] =
        "{\"rate_limits\": {\"per_principal\": {\"rate\": 5, \"burst\": 10},"
        " \"per_tool\": {\"*\": {\"rate\": 1}, \"create_product\": {\"rate\": 0.5, \"burst\": 2}},"
        " \"principals\": {\"svc\": {\"rate\": 100}}}}";
    mcp_policy *pol = NULL;
    assert_int_equal(mcp_policy_parse(text, sizeof text - 1, NULL, &pol, NULL), MCP_OK);
    const mcp__rate *r = mcp__policy_principal_rate(pol, "alice");
    assert_non_null(r);
    assert_true(r->rate == 5 && r->burst == 10);
    r = mcp__policy_principal_rate(pol, "svc");
    assert_true(r->rate == 100 && r->burst == 100);     /* burst defaults to the rate */
    r = mcp__policy_principal_rate(pol, NULL);          /* anonymous: the default */
    assert_true(r->rate == 5);
    r = mcp__policy_tool_rate(pol, "create_product");
    assert_true(r->rate == 0.5 && r->burst == 2);
    r = mcp__policy_tool_rate(pol, "list_products");   /* "*" */
    assert_true(r->rate == 1 && r->burst == 1);
    mcp_policy_unref(pol);

    assert_int_equal(mcp_policy_new_default(&pol, NULL), MCP_OK);
    assert_null(mcp__policy_principal_rate(pol, "alice"));
    assert_null(mcp__policy_tool_rate(pol, "x"));
    assert_int_equal(mcp_policy_entry_count(pol), 0);
    mcp_policy_unref(pol);
}

static void
uri_template_matching(void **state)
{
    (void)state;
    assert_true(mcp__uri_template_match("products://{id}", "products://1"));
    assert_true(mcp__uri_template_match("a/{x}/b/{y}", "a/1/b/22"));
    assert_true(mcp__uri_template_match("a/{x}.json", "a/abc.json"));
    assert_false(mcp__uri_template_match("products://{id}", "products://"));
    assert_false(mcp__uri_template_match("products://{id}", "products://1/2"));
    assert_false(mcp__uri_template_match("products://{id}", "product://1"));
    assert_false(mcp__uri_template_match("a/{x}.json", "a/abc.txt"));
    assert_true(mcp__uri_template_match("plain", "plain"));
    assert_false(mcp__uri_template_match("plain", "plain2"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rbac_vectors_evaluate),
        cmocka_unit_test(rbac_vectors_parse),
        cmocka_unit_test(policy_file_errors),
        cmocka_unit_test(policy_rejects_oversized_lists),
        cmocka_unit_test(policy_rate_lookup),
        cmocka_unit_test(uri_template_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
