/*
 * The RBAC policy: parsing a policy document and evaluating one (principal, target) pair.
 *
 * A policy is immutable once built and reference counted; the engine (rbac_engine.c) swaps the
 * current one atomically on reload. Parsing is strict on purpose: an unknown key, a misspelt
 * "any_off", an empty list or an entry that names no requirement is an error, because accepting
 * it would silently change who may call a tool. The alternative, ignoring unknown keys for
 * forward compatibility, is what "version" is for.
 */
#include "authz/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[MCP__KIND_COUNT_] = { "tool", "resource", "prompt" };
static const char *const section_names[MCP__KIND_COUNT_] = { "tools", "resources", "prompts" };

int
mcp__policy_kind(const char *kind)
{
    for (int i = 0; kind != NULL && i < MCP__KIND_COUNT_; i++)
        if (strcmp(kind, kind_names[i]) == 0)
            return i;
    return -1;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void
free_list(char **l)
{
    for (char **q = l; q != NULL && *q != NULL; q++)
        mcp__free(*q);
    mcp__free(l);
}

static void
policy_free(mcp_policy *pol)
{
    for (int k = 0; k < MCP__KIND_COUNT_; k++) {
        for (size_t i = 0; i < pol->nrules[k]; i++) {
            mcp__free(pol->rules[k][i].name);
            free_list(pol->rules[k][i].any_of);
            free_list(pol->rules[k][i].all_of);
        }
        mcp__free(pol->rules[k]);
    }
    for (size_t i = 0; i < pol->nprincipal_rates; i++)
        mcp__free(pol->principal_rates[i].name);
    mcp__free(pol->principal_rates);
    for (size_t i = 0; i < pol->ntool_rates; i++)
        mcp__free(pol->tool_rates[i].name);
    mcp__free(pol->tool_rates);
    mcp__free(pol->origin);
    mcp__free(pol);
}

mcp_policy *
mcp_policy_ref(const mcp_policy *p)
{
    mcp_policy *m = (mcp_policy *)p;
    if (m != NULL)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void
mcp_policy_unref(const mcp_policy *p)
{
    mcp_policy *m = (mcp_policy *)p;
    if (m != NULL && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        policy_free(m);
}

static mcp_policy *
policy_alloc(const char *origin)
{
    mcp_policy *pol = mcp__calloc(1, sizeof *pol);
    if (pol == NULL)
        return NULL;
    atomic_init(&pol->refs, 1);
    pol->inherit = true;
    pol->origin = mcp__strdup(origin != NULL ? origin : "policy");
    if (pol->origin == NULL) {
        mcp__free(pol);
        return NULL;
    }
    return pol;
}

mcp_status
mcp_policy_new_default(mcp_policy **out, mcp_error *err)
{
    *out = policy_alloc("(built-in default)");
    return *out != NULL ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
}

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct parse_ctx {
    mcp_policy *pol;
    mcp_error  *err;
    const char *origin;
} parse_ctx;

static mcp_status
perr(parse_ctx *pc, const char *where, const char *fmt, ...) MCP_PRINTF(3, 4);

static mcp_status
perr(parse_ctx *pc, const char *where, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mcp_error_set(pc->err, MCP_ERR_PARSE, "%.60s: %.100s: %s", pc->origin, where, what);
}

static bool
valid_perm(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MCP_POLICY_PERM_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static bool
valid_name(const char *s, size_t *len)
{
    *len = strlen(s);
    if (*len == 0 || *len > MCP_POLICY_NAME_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

static mcp_status
parse_perm_list(parse_ctx *pc, const char *where, const char *key, json_t *v, char ***out)
{
    char at[MCP_POLICY_NAME_MAX + 32];
    snprintf(at, sizeof at, "%s.%s", where, key);
    if (!json_is_array(v))
        return perr(pc, at, "must be an array of permission strings");
    size_t n = json_array_size(v);
    if (n == 0)
        return perr(pc, at, "is empty (a rule must name at least one permission; use "
                            "\"deny\": true to close a target)");
    if (n > MCP_POLICY_LIST_MAX)
        return mcp_error_set(pc->err, MCP_ERR_TOO_LARGE, "%.60s: %.100s: more than %d permissions",
                             pc->origin, at, MCP_POLICY_LIST_MAX);
    char **l = mcp__calloc(n + 1, sizeof *l);
    if (l == NULL)
        return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        if (s == NULL || !valid_perm(s)) {
            free_list(l);
            return perr(pc, at, "entries must be non-empty permission strings of printable "
                                "ASCII without spaces");
        }
        if ((l[i] = mcp__strdup(s)) == NULL) {
            free_list(l);
            return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
        }
    }
    *out = l;
    return MCP_OK;
}

static mcp_status
parse_rule(parse_ctx *pc, int kind, const char *name, json_t *v, mcp__prule *r)
{
    char where[MCP_POLICY_NAME_MAX + 32];
    size_t nlen;
    snprintf(where, sizeof where, "%s.%s", section_names[kind], name);
    memset(r, 0, sizeof *r);
    if (!valid_name(name, &nlen))
        return perr(pc, section_names[kind], "bad name '%.80s' (empty, too long or control "
                                             "characters)", name);
    if (!json_is_object(v))
        return perr(pc, where, "must be an object such as {\"any_of\": [\"User.Read\"]}");
    if ((r->name = mcp__strdup(name)) == NULL)
        return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
    if (kind == MCP__KIND_RESOURCE && strchr(name, '{') != NULL) {
        bool ok;
        r->is_template = true;
        r->literal_len = mcp__uri_template_specificity(name, &ok);
        if (!ok)
            return perr(pc, where, "malformed URI template");
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        mcp_status rc = MCP_OK;
        if (strcmp(key, "any_of") == 0)
            rc = parse_perm_list(pc, where, key, val, &r->any_of);
        else if (strcmp(key, "all_of") == 0)
            rc = parse_perm_list(pc, where, key, val, &r->all_of);
        else if (strcmp(key, "any_authenticated") == 0 || strcmp(key, "deny") == 0) {
            if (!json_is_boolean(val))
                return perr(pc, where, "'%s' must be true or false", key);
            if (strcmp(key, "deny") == 0)
                r->deny = json_is_true(val);
            else
                r->any_authenticated = json_is_true(val);
        } else if (strcmp(key, "description") == 0) {
            if (!json_is_string(val))
                return perr(pc, where, "'description' must be a string");
        } else
            return perr(pc, where, "unknown key '%.40s' (expected any_of, all_of, "
                                   "any_authenticated, deny, description)", key);
        if (rc != MCP_OK)
            return rc;
    }
    int kinds = (r->any_of || r->all_of) + r->any_authenticated + r->deny;
    if (kinds == 0)
        return perr(pc, where, "grants nothing: give any_of, all_of, \"any_authenticated\": "
                               "true or \"deny\": true");
    if (kinds > 1)
        return perr(pc, where, "mixes deny / any_authenticated / permission lists; give exactly "
                               "one");
    return MCP_OK;
}

static int
rule_cmp(const void *a, const void *b)
{
    return strcmp(((const mcp__prule *)a)->name, ((const mcp__prule *)b)->name);
}

static mcp_status
parse_section(parse_ctx *pc, int kind, json_t *v)
{
    if (!json_is_object(v))
        return perr(pc, section_names[kind], "must be an object mapping names to rules");
    size_t n = json_object_size(v);
    if (n > MCP_POLICY_ENTRIES_MAX)
        return mcp_error_set(pc->err, MCP_ERR_TOO_LARGE, "%.60s: %s: more than %d entries",
                             pc->origin, section_names[kind], MCP_POLICY_ENTRIES_MAX);
    if (n == 0)
        return MCP_OK;
    mcp__prule *rules = mcp__calloc(n, sizeof *rules);
    if (rules == NULL)
        return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
    pc->pol->rules[kind] = rules;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        /* counted before parsing so that policy_free() releases a half-built rule */
        mcp_status rc = parse_rule(pc, kind, key, val, &rules[pc->pol->nrules[kind]++]);
        if (rc != MCP_OK)
            return rc;
    }
    qsort(rules, n, sizeof *rules, rule_cmp);
    return MCP_OK;
}

static mcp_status
parse_rate(parse_ctx *pc, const char *where, json_t *v, mcp__rate *out)
{
    if (!json_is_object(v))
        return perr(pc, where, "must be an object {\"rate\": PER_SECOND, \"burst\": N}");
    json_t *rate = NULL, *burst = NULL;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        if (strcmp(key, "rate") == 0)
            rate = val;
        else if (strcmp(key, "burst") == 0)
            burst = val;
        else if (strcmp(key, "description") != 0)
            return perr(pc, where, "unknown key '%.40s' (expected rate, burst)", key);
    }
    if (!json_is_number(rate) || json_number_value(rate) <= 0 ||
        json_number_value(rate) > 1e6)
        return perr(pc, where, "'rate' must be a number of requests per second in (0, 1e6]");
    out->rate = json_number_value(rate);
    out->burst = out->rate < 1 ? 1 : out->rate;
    if (burst != NULL) {
        if (!json_is_number(burst) || json_number_value(burst) < 1 ||
            json_number_value(burst) > 1e6)
            return perr(pc, where, "'burst' must be a number in [1, 1e6]");
        out->burst = json_number_value(burst);
    }
    return MCP_OK;
}

static int
named_rate_cmp(const void *a, const void *b)
{
    return strcmp(((const mcp__named_rate *)a)->name, ((const mcp__named_rate *)b)->name);
}

static mcp_status
parse_named_rates(parse_ctx *pc, const char *where, json_t *v, const char *default_key,
                  mcp__named_rate **out, size_t *nout, bool *has_default, mcp__rate *def)
{
    if (!json_is_object(v))
        return perr(pc, where, "must be an object mapping names to {rate, burst}");
    size_t n = json_object_size(v);
    if (n > MCP_POLICY_ENTRIES_MAX)
        return mcp_error_set(pc->err, MCP_ERR_TOO_LARGE, "%.60s: %s: too many entries",
                             pc->origin, where);
    if (n == 0)
        return MCP_OK;
    if ((*out = mcp__calloc(n, sizeof **out)) == NULL)
        return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        char at[MCP_POLICY_NAME_MAX + 48];
        size_t nlen;
        snprintf(at, sizeof at, "%s.%s", where, key);
        if (!valid_name(key, &nlen))
            return perr(pc, where, "bad name '%.80s'", key);
        mcp__rate r;
        mcp_status rc = parse_rate(pc, at, val, &r);
        if (rc != MCP_OK)
            return rc;
        if (default_key != NULL && strcmp(key, default_key) == 0) {
            *has_default = true;
            *def = r;
            continue;
        }
        if (((*out)[*nout].name = mcp__strdup(key)) == NULL)
            return mcp_error_set(pc->err, MCP_ERR_NOMEM, "out of memory");
        (*out)[(*nout)++].rate = r;
    }
    qsort(*out, *nout, sizeof **out, named_rate_cmp);
    return MCP_OK;
}

static mcp_status
parse_rate_limits(parse_ctx *pc, json_t *v)
{
    mcp_policy *pol = pc->pol;
    if (!json_is_object(v))
        return perr(pc, "rate_limits", "must be an object");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        mcp_status rc;
        if (strcmp(key, "per_principal") == 0) {
            rc = parse_rate(pc, "rate_limits.per_principal", val, &pol->principal_rate);
            pol->has_principal_rate = rc == MCP_OK;
        } else if (strcmp(key, "per_tool") == 0) {
            rc = parse_named_rates(pc, "rate_limits.per_tool", val, "*", &pol->tool_rates,
                                   &pol->ntool_rates, &pol->has_tool_default_rate,
                                   &pol->tool_default_rate);
        } else if (strcmp(key, "principals") == 0) {
            bool unused = false;
            mcp__rate unused_rate;
            rc = parse_named_rates(pc, "rate_limits.principals", val, NULL,
                                   &pol->principal_rates, &pol->nprincipal_rates, &unused,
                                   &unused_rate);
        } else if (strcmp(key, "description") == 0) {
            rc = MCP_OK;
        } else
            return perr(pc, "rate_limits", "unknown key '%.40s' (expected per_principal, "
                                           "per_tool, principals)", key);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

mcp_status
mcp_policy_parse(const char *json, size_t len, const char *origin, mcp_policy **out,
                 mcp_error *err)
{
    *out = NULL;
    if (json == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no policy text");
    if (origin == NULL)
        origin = "policy";
    if (len > MCP_POLICY_FILE_MAX)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "%.60s: larger than %d bytes", origin,
                             MCP_POLICY_FILE_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mcp_error_set(err, MCP_ERR_PARSE, "%.60s: line %d column %d: %.120s", origin,
                             jerr.line, jerr.column, jerr.text);
    mcp_policy *pol = policy_alloc(origin);
    mcp_status rc = MCP_OK;
    parse_ctx pc = { pol, err, origin };
    if (pol == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = perr(&pc, "top level", "must be an object");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int k = -1;
        for (int i = 0; i < MCP__KIND_COUNT_; i++)
            if (strcmp(key, section_names[i]) == 0)
                k = i;
        if (k >= 0)
            rc = parse_section(&pc, k, val);
        else if (strcmp(key, "version") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) != 1)
                rc = perr(&pc, "version", "must be 1 (the only version this library "
                                          "knows)");
        } else if (strcmp(key, "inherit_registration") == 0) {
            if (!json_is_boolean(val))
                rc = perr(&pc, key, "must be true or false");
            else
                pol->inherit = json_is_true(val);
        } else if (strcmp(key, "rate_limits") == 0)
            rc = parse_rate_limits(&pc, val);
        else if (strcmp(key, "description") == 0) {
            if (!json_is_string(val))
                rc = perr(&pc, key, "must be a string");
        } else
            rc = perr(&pc, "top level", "unknown key '%.40s' (expected version, "
                                        "inherit_registration, tools, resources, prompts, "
                                        "rate_limits, description)", key);
        if (rc != MCP_OK)
            goto out;
    }
out:
    json_decref(root);
    if (rc != MCP_OK) {
        if (pol != NULL)
            policy_free(pol);
        return rc;
    }
    *out = pol;
    return MCP_OK;
}

mcp_status
mcp_policy_load_file(const char *path, mcp_policy **out, mcp_error *err)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no policy file name");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mcp_error_set(err, MCP_ERR_IO, "%.120s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_IO, "%.120s: not a regular file", path);
    }
    if (st.st_size > MCP_POLICY_FILE_MAX) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "%.120s: larger than %d bytes", path,
                             MCP_POLICY_FILE_MAX);
    }
    /* read up to the limit + 1 so a file that grows while we read is still caught */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = mcp__alloc(cap);
    if (buf == NULL) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        if (len == cap) {
            if (cap > MCP_POLICY_FILE_MAX) {
                mcp__free(buf);
                close(fd);
                return mcp_error_set(err, MCP_ERR_TOO_LARGE, "%.120s: larger than %d bytes",
                                     path, MCP_POLICY_FILE_MAX);
            }
            char *nb = mcp__realloc(buf, cap * 2);
            if (nb == NULL) {
                mcp__free(buf);
                close(fd);
                return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            mcp__free(buf);
            close(fd);
            return mcp_error_set(err, MCP_ERR_IO, "%.120s: read: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    mcp_status rc = mcp_policy_parse(buf, len, path, out, err);
    mcp__free(buf);
    return rc;
}

/* ---- look-ups ---------------------------------------------------------------------------- */

const mcp__prule *
mcp__policy_find(const mcp_policy *pol, int kind, const char *name)
{
    if (pol == NULL || kind < 0 || kind >= MCP__KIND_COUNT_ || name == NULL)
        return NULL;
    const mcp__prule *rules = pol->rules[kind];
    size_t n = pol->nrules[kind];
    mcp__prule key = { .name = (char *)name };
    const mcp__prule *hit = n ? bsearch(&key, rules, n, sizeof *rules, rule_cmp) : NULL;
    /* A template name (the server authorizes a templated resource by the template that serves
     * it) matches only its own entry: never another file template. */
    if (hit != NULL || kind != MCP__KIND_RESOURCE || strchr(name, '{') != NULL)
        return hit;
    /* A concrete URI: the most specific matching template (most literal bytes; ties go to the
     * name that sorts first, so the choice never depends on the file's key order). */
    for (size_t i = 0; i < n; i++)
        if (rules[i].is_template && mcp__uri_template_match(rules[i].name, name) &&
            (hit == NULL || rules[i].literal_len > hit->literal_len))
            hit = &rules[i];
    return hit;
}

static const mcp__named_rate *
find_named_rate(const mcp__named_rate *v, size_t n, const char *name)
{
    mcp__named_rate key = { .name = (char *)name };
    return n && name ? bsearch(&key, v, n, sizeof *v, named_rate_cmp) : NULL;
}

const mcp__rate *
mcp__policy_principal_rate(const mcp_policy *pol, const char *subject)
{
    const mcp__named_rate *r = find_named_rate(pol->principal_rates, pol->nprincipal_rates,
                                               subject);
    if (r != NULL)
        return &r->rate;
    return pol->has_principal_rate ? &pol->principal_rate : NULL;
}

const mcp__rate *
mcp__policy_tool_rate(const mcp_policy *pol, const char *tool)
{
    const mcp__named_rate *r = find_named_rate(pol->tool_rates, pol->ntool_rates, tool);
    if (r != NULL)
        return &r->rate;
    return pol->has_tool_default_rate ? &pol->tool_default_rate : NULL;
}

bool
mcp_policy_lookup(const mcp_policy *pol, const char *kind, const char *name, mcp_access *out,
                  bool *deny)
{
    const mcp__prule *r = mcp__policy_find(pol, mcp__policy_kind(kind), name);
    memset(out, 0, sizeof *out);
    if (deny != NULL)
        *deny = false;
    if (r == NULL)
        return false;
    out->any_of_perms = (const char *const *)r->any_of;
    out->all_of_perms = (const char *const *)r->all_of;
    out->any_authenticated = r->any_authenticated;
    if (deny != NULL)
        *deny = r->deny;
    return true;
}

bool
mcp_policy_inherits_registration(const mcp_policy *pol)
{
    return pol != NULL && pol->inherit;
}

size_t
mcp_policy_entry_count(const mcp_policy *pol)
{
    size_t n = 0;
    for (int k = 0; pol != NULL && k < MCP__KIND_COUNT_; k++)
        n += pol->nrules[k];
    return n;
}

/* ---- evaluation -------------------------------------------------------------------------- */

/* Append the words of list to buf (space-separated), within cap; stops before a word that
 * does not fit. */
static void
append_words(char *buf, size_t cap, const char *const *list)
{
    size_t off = strlen(buf);
    for (; list != NULL && *list != NULL; list++) {
        int n = snprintf(buf + off, cap - off, "%s%s", off ? " " : "", *list);
        if (n < 0 || (size_t)n >= cap - off) {
            buf[off] = '\0';          /* never leave half a permission name */
            return;
        }
        off += (size_t)n;
    }
}

static void
describe(char *buf, size_t cap, const char *const *any, const char *const *all)
{
    buf[0] = '\0';
    if (any != NULL) {
        snprintf(buf, cap, "any of:");
        append_words(buf, cap, any);
    }
    if (all != NULL) {
        size_t off = strlen(buf);
        snprintf(buf + off, cap - off, "%sall of:", off ? "; " : "");
        append_words(buf, cap, all);
    }
}

/*
 * The one rule check behind both "may call" and "may see". any and all may both be given
 * (then both must hold, as for mcp_access).
 */
static bool
in_list(const char *const *list, const char *s)
{
    for (; list != NULL && *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static bool
eval_perms(const mcp_principal *p, const char *const *any, const char *const *all,
           mcp_policy_result *out)
{
    bool ok = true;
    describe(out->required, sizeof out->required, any, all);
    bool any_failed = any != NULL && (p == NULL || !mcp_principal_has_any(p, any));
    if (any_failed) {
        ok = false;
        append_words(out->missing, sizeof out->missing, any);
    }
    for (const char *const *q = all; q != NULL && *q != NULL; q++) {
        if (p != NULL && mcp_principal_has(p, *q))
            continue;
        ok = false;
        if (any_failed && in_list(any, *q))
            continue;                    /* already listed */
        const char *one[2] = { *q, NULL };
        append_words(out->missing, sizeof out->missing, one);
    }
    out->allowed = ok;
    if (ok)
        out->missing[0] = '\0';
    return ok;
}

bool
mcp_policy_evaluate(const mcp_policy *pol, const mcp_principal *p, const char *kind,
                    const char *name, const mcp_access *registered, mcp_policy_result *out)
{
    memset(out, 0, sizeof *out);
    out->allowed = false;
    out->source = MCP_POLICY_SRC_DEFAULT;
    int k = mcp__policy_kind(kind);
    const mcp__prule *r = mcp__policy_find(pol, k, name);
    if (r != NULL) {
        out->source = MCP_POLICY_SRC_FILE;
        snprintf(out->entry, sizeof out->entry, "%s", r->name);
        if (r->deny) {
            snprintf(out->required, sizeof out->required, "nobody (deny)");
            return false;
        }
        if (r->any_authenticated) {
            snprintf(out->required, sizeof out->required, "any authenticated caller");
            out->allowed = true;
            return true;
        }
        return eval_perms(p, (const char *const *)r->any_of, (const char *const *)r->all_of,
                          out);
    }
    if (k < 0 || registered == NULL || (pol != NULL && !pol->inherit)) {
        snprintf(out->required, sizeof out->required, "nobody (not in the policy)");
        return false;
    }
    out->source = MCP_POLICY_SRC_REGISTRATION;
    if (registered->any_authenticated) {
        snprintf(out->required, sizeof out->required, "any authenticated caller");
        out->allowed = true;
        return true;
    }
    if (registered->any_of_perms == NULL && registered->all_of_perms == NULL) {
        /* cannot happen for a registered target (the server rejects it), but fail closed */
        snprintf(out->required, sizeof out->required, "nobody (rule names nothing)");
        return false;
    }
    return eval_perms(p, registered->any_of_perms, registered->all_of_perms, out);
}
