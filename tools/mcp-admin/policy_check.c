/*
 * mcp-admin policy check|validate: explain an authorization decision offline, from the store
 * (the user's roles and their permissions) and a policy file, the same way the server decides:
 * the permission rule combines the token's claims (--permission) with the store's
 * (mcp_permission_rule_apply), then mcp_policy_evaluate decides. See docs/cli/mcp-admin-policy.md.
 *
 * What it cannot see: the rules a server program registers in code. A target that the policy
 * file does not list (and whose file keeps registration rules) is reported as undetermined,
 * with exit status 4, rather than guessed.
 */
#include "admin.h"

#include <mcp/policy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_DENIED       3
#define EXIT_UNDETERMINED 4

extern const admin_command admin_policy_commands[];

/* The user's roles, from the user list (the hot-path lookup gives only the union). */
struct find_user {
    const char *subject;
    bool        found;
    char      **roles;      /* NULL-terminated copies */
};

static bool
find_user_cb(void *vctx, const mcp_store_user *u)
{
    struct find_user *fu = vctx;
    if (strcmp(u->subject, fu->subject) != 0)
        return true;
    fu->found = true;
    fu->roles = calloc(u->n_roles + 1, sizeof *fu->roles);
    for (size_t i = 0; fu->roles != NULL && i < u->n_roles; i++)
        fu->roles[i] = strdup(u->roles[i]);
    return false;
}

struct role_perms {
    json_t *map;            /* role name -> [permissions] */
};

static bool
role_cb(void *vctx, const mcp_store_role *r)
{
    struct role_perms *rp = vctx;
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->n_permissions; i++)
        json_array_append_new(a, json_string(r->permissions[i]));
    json_object_set_new(rp->map, r->name, a);
    return true;
}

static void
free_strv(char **v)
{
    for (char **q = v; q != NULL && *q != NULL; q++)
        free(*q);
    free(v);
}

static json_t *
str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void
print_words(const char *label, json_t *arr)
{
    size_t i;
    json_t *e;
    printf("%-12s", label);
    if (json_array_size(arr) == 0)
        printf("(none)");
    json_array_foreach(arr, i, e) printf("%s%s", i ? " " : "", json_string_value(e));
    printf("\n");
}

static const char *
source_text(mcp_policy_source s)
{
    return s == MCP_POLICY_SRC_FILE ? "policy file"
           : s == MCP_POLICY_SRC_REGISTRATION ? "registration" : "default";
}

/* Keep in the space-separated list `words` only those ceil holds (as the server's 403 does). */
static void
held_only(char words[MCP_ERROR_MSG_MAX], const mcp_principal *ceil)
{
    char in[MCP_ERROR_MSG_MAX];
    snprintf(in, sizeof in, "%s", words);
    size_t off = 0;
    words[0] = '\0';
    for (char *save = NULL, *w = strtok_r(in, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save))
        if (mcp_principal_has(ceil, w)) {
            int n = snprintf(words + off, MCP_ERROR_MSG_MAX - off, "%s%s", off ? " " : "", w);
            if (n < 0 || (size_t)n >= MCP_ERROR_MSG_MAX - off)
                break;
            off += (size_t)n;
        }
}

static int
policy_check(admin_ctx *ctx, int argc, char **argv)
{
    const char *user = NULL, *tool = NULL, *resource = NULL, *prompt = NULL, *path = NULL;
    const char *rule_name = NULL;
    const char **perms = NULL;
    size_t nperms = 0;
    const admin_opt opts[] = {
        { .name = "--user", .value = &user },
        { .name = "--tool", .value = &tool },
        { .name = "--resource", .value = &resource },
        { .name = "--prompt", .value = &prompt },
        { .name = "--policy", .value = &path },
        { .name = "--permission", .list = &perms, .count = &nperms },
        { .name = "--permission-rule", .value = &rule_name },
        { 0 },
    };
    int rc = admin_parse(ctx, "policy", "check", argc, argv, opts, NULL, 0, 0, NULL);
    mcp_policy *pol = NULL;
    mcp_principal *p = NULL, *tp = NULL, *ceil = NULL;
    mcp_permission_rule prule = MCP_PERMISSION_RULE_STORE;
    bool not_granted = false;
    mcp_store_user_info info;
    struct find_user fu = { 0 };
    struct role_perms rp = { json_object() };
    json_t *out = json_object();
    mcp_error err;
    mcp_error_clear(&err);
    mcp_store_user_info_init(&info);
    if (rc != ADMIN_EXIT_OK)
        goto done;
    int ntargets = (tool != NULL) + (resource != NULL) + (prompt != NULL);
    if (user == NULL || ntargets != 1) {
        rc = admin_usage_error("policy", "check",
                               "need --user and exactly one of --tool, --resource, --prompt");
        goto done;
    }
    if (rule_name != NULL && !mcp_permission_rule_parse(rule_name, &prule)) {
        rc = admin_usage_error("policy", "check",
                               "--permission-rule wants store, union or token-only");
        goto done;
    }
    const char *kind = tool ? "tool" : resource ? "resource" : "prompt";
    const char *name = tool ? tool : resource ? resource : prompt;
    if (path == NULL) {
        const char *env = getenv("MCP_POLICY");
        path = env != NULL && env[0] != '\0' ? env : NULL;
    }
    if (path != NULL && mcp_policy_load_file(path, &pol, &err) != MCP_OK) {
        rc = admin_fail_err(&err);
        goto done;
    }
    if (pol == NULL && mcp_policy_new_default(&pol, &err) != MCP_OK) {
        rc = admin_fail_err(&err);
        goto done;
    }

    /* the user, its roles and what each role gives */
    mcp_store *st = admin_store(ctx);
    if (st == NULL) {
        rc = ADMIN_EXIT_ERROR;
        goto done;
    }
    fu.subject = user;
    if (mcp_store_user_lookup(st, user, &info, &err) != MCP_OK ||
        mcp_store_user_list(st, find_user_cb, &fu, &err) != MCP_OK ||
        mcp_store_role_list(st, role_cb, &rp, &err) != MCP_OK) {
        rc = admin_fail_err(&err);
        goto done;
    }
    /* the token's claims (--permission), combined with the store's as the server would */
    mcp_principal_fields pf = { .kind = MCP_CRED_JWT, .subject = user };
    if (mcp_principal_new(&pf, &tp, &err) != MCP_OK) {
        rc = admin_fail_err(&err);
        goto done;
    }
    for (size_t i = 0; i < nperms; i++)
        if (mcp_principal_add_permission(tp, perms[i], &err) != MCP_OK) {
            rc = admin_fail_err(&err);
            goto done;
        }
    if (mcp_permission_rule_apply(prule, tp, info.permissions, info.n_permissions, &p, &err) !=
            MCP_OK ||
        mcp_principal_new(&pf, &ceil, &err) != MCP_OK) {
        rc = admin_fail_err(&err);
        goto done;
    }
    /* the ceiling: what the store grants (under the store rule no token gets more) */
    for (size_t i = 0; i < info.n_permissions; i++)
        if (mcp_principal_add_permission(ceil, info.permissions[i], &err) != MCP_OK) {
            rc = admin_fail_err(&err);
            goto done;
        }

    json_t *roles = json_object();
    for (char **r = fu.roles; r != NULL && *r != NULL; r++)
        json_object_set(roles, *r, json_object_get(rp.map, *r) ? json_object_get(rp.map, *r)
                                                                : json_array());
    json_t *eff = json_array();
    for (size_t i = 0; i < mcp_principal_permission_count(p); i++)
        json_array_append_new(eff, json_string(mcp_principal_permission(p, i)));

    const char *decision, *why;
    char whybuf[2 * MCP_ERROR_MSG_MAX + 128];
    mcp_policy_result res;
    bool allowed = false;
    memset(&res, 0, sizeof res);
    if (!info.exists) {
        decision = "deny";
        why = "user unknown (not in the store)";
        rc = EXIT_DENIED;
    } else if (!info.enabled) {
        decision = "deny";
        why = "user disabled";
        rc = EXIT_DENIED;
    } else {
        /* registered = NULL: the rules compiled into the server are not visible here */
        allowed = mcp_policy_evaluate(pol, p, kind, name, NULL, &res);
        bool undetermined = !allowed && res.source == MCP_POLICY_SRC_DEFAULT &&
                            mcp_policy_inherits_registration(pol);
        if (allowed) {
            decision = "allow";
            snprintf(whybuf, sizeof whybuf, "needs %s", res.required);
            why = whybuf;
            rc = ADMIN_EXIT_OK;
        } else if (undetermined) {
            decision = "undetermined";
            why = path != NULL ? "not in the policy file: the rule the server registered in code "
                                 "decides (not visible to mcp-admin)"
                               : "no policy file (--policy or $MCP_POLICY): the rule the server "
                                 "registered in code decides (not visible to mcp-admin)";
            rc = EXIT_UNDETERMINED;
        } else {
            decision = "deny";
            mcp_policy_result cres;
            if (prule == MCP_PERMISSION_RULE_STORE &&
                !mcp_policy_evaluate(pol, ceil, kind, name, NULL, &cres)) {
                /* as the server: a wider token cannot help, no step-up is invited */
                not_granted = true;
                snprintf(whybuf, sizeof whybuf, "needs %s; the store does not grant it to the "
                         "user (a token with a wider scope cannot help)", res.required);
            } else if (prule == MCP_PERMISSION_RULE_STORE && res.missing[0] != '\0') {
                held_only(res.missing, ceil);  /* a step-up can ask only for what is held */
                snprintf(whybuf, sizeof whybuf, "needs %s; the user holds it but the token's "
                         "claims leave it out (missing %s)", res.required, res.missing);
            }
            else if (res.missing[0] != '\0')
                snprintf(whybuf, sizeof whybuf, "needs %s; missing %s", res.required,
                         res.missing);
            else
                snprintf(whybuf, sizeof whybuf, "needs %s", res.required);
            why = whybuf;
            rc = EXIT_DENIED;
        }
    }

    if (ctx->json) {
        json_object_set_new(out, "user", json_string(user));
        json_object_set_new(out, "exists", json_boolean(info.exists));
        json_object_set_new(out, "enabled", json_boolean(info.enabled));
        json_object_set_new(out, "roles", roles);
        json_object_set_new(out, "extra_permissions", str_array(perms, nperms));
        json_object_set_new(out, "permission_rule",
                            json_string(mcp_permission_rule_name(prule)));
        json_object_set_new(out, "effective_permissions", eff);
        json_object_set_new(out, "kind", json_string(kind));
        json_object_set_new(out, "target", json_string(name));
        json_object_set_new(out, "policy", path ? json_string(path) : json_null());
        if (info.exists && info.enabled) {
            json_object_set_new(out, "rule_source", json_string(source_text(res.source)));
            json_object_set_new(out, "entry", res.entry[0] ? json_string(res.entry) : json_null());
            json_object_set_new(out, "required", json_string(res.required));
            json_object_set_new(out, "missing", json_string(not_granted ? "" : res.missing));
            json_object_set_new(out, "not_granted", json_boolean(not_granted));
        }
        json_object_set_new(out, "decision", json_string(decision));
        json_object_set_new(out, "reason", json_string(why));
        int prc = admin_print_json(out);
        out = NULL;
        if (prc != ADMIN_EXIT_OK)
            rc = prc;
        goto done;
    }
    printf("%-12s%s (%s)\n", "user:", user,
           !info.exists ? "not in the store" : info.enabled ? "enabled" : "disabled");
    const char *rk;
    json_t *rv;
    if (json_object_size(roles) == 0)
        printf("%-12s(none)\n", "roles:");
    json_object_foreach(roles, rk, rv) {
        char label[MCP_STORE_ROLE_MAX + 16];
        snprintf(label, sizeof label, "role %s:", rk);
        print_words(label, rv);
    }
    if (nperms > 0) {
        json_t *x = str_array(perms, nperms);
        print_words("token:", x);
        json_decref(x);
    }
    printf("%-12s%s\n", "combine:",
           prule == MCP_PERMISSION_RULE_STORE ? "store (the store grants, the token narrows)"
           : prule == MCP_PERMISSION_RULE_UNION ? "union (token claims add to the roles)"
                                                : "token-only (the token's claims alone)");
    print_words("effective:", eff);
    printf("%-12s%s %s\n", "target:", kind, name);
    if (rc == EXIT_UNDETERMINED)
        printf("%-12s(none in the policy file)\n", "rule:");
    else if (info.exists && info.enabled) {
        if (res.source == MCP_POLICY_SRC_FILE)
            printf("%-12s%s (policy file %s, entry \"%s\")\n", "rule:", res.required, path,
                   res.entry);
        else
            printf("%-12s%s\n", "rule:", res.required);
    }
    printf("%-12s%s: %s\n", "decision:",
           strcmp(decision, "allow") == 0 ? "ALLOW" : strcmp(decision, "deny") == 0
                                                          ? "DENY" : "UNDETERMINED", why);
    json_decref(roles);
    json_decref(eff);
done:
    json_decref(out);
    json_decref(rp.map);
    free_strv(fu.roles);
    mcp_store_user_info_cleanup(&info);
    mcp_principal_unref(p);
    mcp_principal_unref(tp);
    mcp_principal_unref(ceil);
    mcp_policy_unref(pol);
    admin_list_free(perms);
    return rc;
}

static bool
collect_role(void *ctx, const mcp_store_role *role)
{
    json_t *granted = ctx;
    for (size_t i = 0; i < role->n_permissions; i++)
        if (json_object_set_new(granted, role->permissions[i], json_true()) != 0)
            return false;
    return true;
}

/*
 * The permissions the policy file names that no role of the store grants: nobody whose
 * permissions come from the store can ever satisfy them (a typo, or a role not created yet).
 * Appends {"entry": "tools.NAME", "permission": P} objects to out. The file was already
 * parsed by the server's parser, so its shape is known to be right.
 */
static bool
ungranted_permissions(const char *path, const json_t *granted, json_t *out)
{
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    static const char *const kinds[] = { "tools", "resources", "prompts" };
    static const char *const lists[] = { "any_of", "all_of" };
    bool ok = doc != NULL;
    for (size_t k = 0; ok && k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *name;
        json_t *entry;
        json_object_foreach(json_object_get(doc, kinds[k]), name, entry) {
            for (size_t l = 0; l < 2; l++) {
                size_t i;
                json_t *perm;
                json_array_foreach(json_object_get(entry, lists[l]), i, perm) {
                    const char *pn = json_string_value(perm);
                    if (pn == NULL || json_object_get(granted, pn) != NULL)
                        continue;
                    char where[512];
                    snprintf(where, sizeof where, "%s.%s.%s", kinds[k], name, lists[l]);
                    ok = ok && json_array_append_new(out, json_pack("{s:s, s:s}", "entry", where,
                                                                    "permission", pn)) == 0;
                }
            }
        }
    }
    json_decref(doc);
    return ok;
}

static int
policy_validate(admin_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int rc = admin_parse(ctx, "policy", "validate", argc, argv, NULL, pos, 1, 1, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    mcp_policy *pol = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    if (mcp_policy_load_file(pos[0], &pol, &err) != MCP_OK)
        return admin_fail_err(&err);
    /* With a store (--db, $MCP_DB, ./mcp.db when it exists), every permission the file names
     * is checked against the roles: one that no role grants is a warning (exit status 0). */
    struct stat sb;
    bool have_store = strstr(ctx->db_path, "://") != NULL || stat(ctx->db_path, &sb) == 0;
    json_t *granted = json_object(), *ungranted = json_array();
    if (granted == NULL || ungranted == NULL) {
        rc = admin_fail("out of memory");
        goto out;
    }
    if (have_store) {
        mcp_store *st = admin_store(ctx);
        if (st == NULL) {
            rc = ADMIN_EXIT_ERROR;
            goto out;
        }
        if (mcp_store_role_list(st, collect_role, granted, &err) != MCP_OK) {
            rc = admin_fail_err(&err);
            goto out;
        }
        if (!ungranted_permissions(pos[0], granted, ungranted)) {
            rc = admin_fail("%s: cannot read it again", pos[0]);
            goto out;
        }
    }
    char shown[512];
    mcp_store_display_name(ctx->db_path, shown, sizeof shown);
    if (ctx->json) {
        rc = admin_print_json(json_pack("{s:s, s:b, s:I, s:b, s:b, s:O}", "policy", pos[0],
                                        "valid", 1, "entries",
                                        (json_int_t)mcp_policy_entry_count(pol),
                                        "inherit_registration",
                                        mcp_policy_inherits_registration(pol), "roles_checked",
                                        have_store, "ungranted", ungranted));
    } else {
        printf("%s: valid, %zu entries, registration rules %s\n", pos[0],
               mcp_policy_entry_count(pol),
               mcp_policy_inherits_registration(pol) ? "apply to unlisted targets"
                                                     : "ignored (unlisted targets are denied)");
        size_t i;
        json_t *w;
        json_array_foreach(ungranted, i, w)
            fprintf(stderr, "mcp-admin: warning: %s: %s: %s is granted by no role in %s\n",
                    pos[0], json_string_value(json_object_get(w, "entry")),
                    json_string_value(json_object_get(w, "permission")), shown);
        if (!have_store)
            printf("%s: roles not checked (no store at %s; give --db)\n", pos[0], shown);
    }
out:
    json_decref(granted);
    json_decref(ungranted);
    mcp_policy_unref(pol);
    return rc;
}

const admin_command admin_policy_commands[] = {
    { "policy", "check",
      /* main.c prints "group action args" in 96 bytes: keep this short */
      "--user U (--tool T|--resource URI|--prompt P) [--policy F] [--permission P]...",
      "explain whether a user may use a target, and why (exit 0 allow, 3 deny, "
      "4 undetermined); [--permission-rule store|union|token-only] as the server's", false, policy_check },
    { "policy", "validate", "FILE", "parse a policy file and report what is wrong", false,
      policy_validate },
    { 0 },
};
