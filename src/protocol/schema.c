/*
 * JSON Schema 2020-12, compiled: the keywords tool schemas use (type, properties, required,
 * additionalProperties, patternProperties, propertyNames, min/maxProperties,
 * dependentRequired/Schemas, prefixItems, items, contains, min/maxItems, uniqueItems, enum,
 * const, pattern, min/maxLength, minimum/maximum/exclusive*, multipleOf, allOf/anyOf/oneOf/not,
 * if/then/else, local $ref) into a tree of nodes, once, at registration. Validation walks the
 * tree; it never parses the schema again and never writes to it, so threads share it.
 *
 * Why compile rather than interpret the json_t each call: a bad schema (a pattern regcomp
 * refuses, "minimum": "3", a $ref to nowhere) must be a registration error naming its path,
 * not a surprise on the first call; and regcomp per call would cost more than the check.
 * Keywords that would restrict but that this code does not implement ($dynamicRef,
 * unevaluated*, remote $ref) are refused at compile time: ignoring them would let arguments
 * through that the author meant to reject. Annotations (format, title, default, ...) and
 * unknown keywords are ignored, as the specification says.
 *
 * Work is bounded: schema nesting and node count at compile time; recursion depth (a
 * self-referencing $ref) and a step budget at validation (anyOf over a recursive $ref is
 * exponential without one). Running out of budget is a validation failure, never a pass.
 * The regex dialect is in schema_re.c.
 */
#include "protocol/schema_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- compile ----------------------------------------------------------------------------- */

typedef struct cctx {
    mcp__schema   *s;
    const json_t  *doc;
    const char    *root;
    char           path[512];
    size_t         plen;
    char          *why;
    size_t         whylen;
    unsigned       depth;
    const json_t **ref_keys;        /* $ref targets and $defs entries compiled so far */
    sch_node     **ref_nodes;
    size_t         nrefs, caprefs;
} cctx;

static mcp_status
cfail(cctx *c, mcp_status rc, const char *fmt, ...) MCP_PRINTF(3, 4);

static mcp_status
cfail(cctx *c, mcp_status rc, const char *fmt, ...)
{
    if (c->why != NULL && c->whylen > 0) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        mcp__sch_format(c->why, c->whylen, c->root, c->path, c->plen, msg);
    }
    return rc;
}

/* "root/path: msg" in out; a path too long to fit loses its beginning ("root/...h: msg"),
 * never the message. */
void
mcp__sch_format(char *out, size_t cap, const char *root, const char *path, size_t plen,
                const char *msg)
{
    size_t fixed = strlen(root) + strlen(msg) + 3;
    if (fixed + plen < cap) {
        snprintf(out, cap, "%s%.*s: %s", root, (int)plen, path, msg);
        return;
    }
    size_t keep = cap > fixed + 4 ? cap - fixed - 4 : 0;
    snprintf(out, cap, "%s/...%.*s: %s", root, (int)keep, path + plen - keep, msg);
}

/* Append "/seg" (JSON Pointer escaped) to the path; returns the old length for pop(). */
size_t
mcp__sch_path_push(char *path, size_t *plen, size_t cap, const char *seg, size_t n)
{
    size_t old = *plen, p = *plen;
    if (p + 1 < cap)
        path[p++] = '/';
    for (size_t i = 0; i < n && i < 64 && p + 2 < cap; i++) {
        unsigned char ch = (unsigned char)seg[i];
        if (ch == '~' || ch == '/') {
            path[p++] = '~';
            path[p++] = ch == '~' ? '0' : '1';
        } else {
            path[p++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;  /* no control bytes */
        }
    }
    if (n > 64 && p + 3 < cap) {
        memcpy(path + p, "...", 3);
        p += 3;
    }
    *plen = p;
    return old;
}

static size_t
push(cctx *c, const char *seg)
{
    return mcp__sch_path_push(c->path, &c->plen, sizeof c->path, seg, strlen(seg));
}

static sch_node *
new_node(cctx *c)
{
    mcp__schema *s = c->s;
    if (s->nnodes >= MCP__SCHEMA_MAX_NODES) {
        cfail(c, MCP_ERR_TOO_LARGE, "more than %d subschemas", MCP__SCHEMA_MAX_NODES);
        return NULL;
    }
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 16;
        sch_node **p = mcp__realloc(s->nodes, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        s->nodes = p;
        s->capnodes = cap;
    }
    sch_node *n = mcp__calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->max_len = n->max_items = n->max_props = n->max_contains = SIZE_MAX;
    n->min_contains = 1;
    s->nodes[s->nnodes++] = n;
    return n;
}

static mcp_status compile_into(cctx *c, const json_t *v, sch_node *n);

static mcp_status
compile(cctx *c, const json_t *v, sch_node **out)
{
    sch_node *n = new_node(c);
    if (n == NULL)
        return c->s->nnodes >= MCP__SCHEMA_MAX_NODES ? MCP_ERR_TOO_LARGE
                                                     : cfail(c, MCP_ERR_NOMEM, "out of memory");
    *out = n;
    return compile_into(c, v, n);
}

static mcp_status
sub(cctx *c, const json_t *obj, const char *key, sch_node **out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return MCP_OK;
    size_t old = push(c, key);
    mcp_status rc = compile(c, v, out);
    c->plen = old;
    return rc;
}

static mcp_status
sub_array(cctx *c, const json_t *obj, const char *key, sch_node ***out, size_t *n)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return MCP_OK;
    size_t old = push(c, key);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfail(c, MCP_ERR_INVALID_ARG, "must be a non-empty array of schemas");
    *out = mcp__calloc(json_array_size(v), sizeof **out);
    if (*out == NULL)
        return cfail(c, MCP_ERR_NOMEM, "out of memory");
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        size_t o2 = push(c, idx);
        mcp_status rc = compile(c, e, &(*out)[i]);
        c->plen = o2;
        if (rc != MCP_OK)
            return rc;
        (*n)++;
    }
    c->plen = old;
    return MCP_OK;
}

/* A non-negative integer keyword (3 and 3.0 both count, as 2020-12 says). */
static mcp_status
count_kw(cctx *c, const json_t *obj, const char *key, size_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return MCP_OK;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d)) {
        size_t old = push(c, key);
        mcp_status rc = cfail(c, MCP_ERR_INVALID_ARG, "must be a non-negative integer");
        c->plen = old;
        return rc;
    }
    *out = d >= 1.8e19 ? SIZE_MAX : (size_t)d;
    return MCP_OK;
}

static mcp_status
num_kw(cctx *c, const json_t *obj, const char *key, unsigned flag, long double *out,
       unsigned *flags)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return MCP_OK;
    if (!json_is_number(v)) {
        size_t old = push(c, key);
        mcp_status rc = cfail(c, MCP_ERR_INVALID_ARG, "must be a number");
        c->plen = old;
        return rc;
    }
    *out = json_is_integer(v) ? (long double)json_integer_value(v)
                              : (long double)json_real_value(v);
    *flags |= flag;
    return MCP_OK;
}

static const struct { const char *name; unsigned bit; } type_names[] = {
    { "null", SCH_T_NULL }, { "boolean", SCH_T_BOOL }, { "object", SCH_T_OBJECT },
    { "array", SCH_T_ARRAY }, { "number", SCH_T_NUMBER }, { "string", SCH_T_STRING },
    { "integer", SCH_T_INTEGER },
};

static unsigned
type_bit(const json_t *v)
{
    for (size_t i = 0; json_is_string(v) && i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(json_string_value(v), type_names[i].name) == 0)
            return type_names[i].bit;
    return 0;
}

const char *
mcp__sch_type_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].bit == bit)
            return type_names[i].name;
    return "?";
}

static mcp_status
compile_type(cctx *c, const json_t *v, sch_node *n)
{
    const json_t *t = json_object_get(v, "type");
    if (t == NULL)
        return MCP_OK;
    size_t old = push(c, "type");
    mcp_status rc = MCP_OK;
    if (json_is_string(t)) {
        n->types = type_bit(t);
        if (n->types == 0)
            rc = cfail(c, MCP_ERR_INVALID_ARG, "unknown type '%.40s'", json_string_value(t));
    } else if (json_is_array(t) && json_array_size(t) > 0) {
        size_t i;
        const json_t *e;
        json_array_foreach(t, i, e) {
            unsigned b = type_bit(e);
            if (b == 0 || (n->types & b) != 0) {
                rc = cfail(c, MCP_ERR_INVALID_ARG, "entry %zu is not a distinct type name", i);
                break;
            }
            n->types |= b;
        }
    } else {
        rc = cfail(c, MCP_ERR_INVALID_ARG, "must be a type name or a non-empty array of them");
    }
    c->plen = old;
    return rc;
}

/* Resolve a local reference ("#" or "#/json/pointer", percent-encoded as a URI fragment). */
static const json_t *
resolve(const json_t *doc, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *cur = doc;
    const char *p = ref + 1;
    if (*p == '\0')
        return cur;
    if (*p != '/')
        return NULL;
    char tok[256];
    while (*p == '/' && cur != NULL) {
        p++;
        size_t k = 0;
        while (*p != '\0' && *p != '/') {
            char ch = *p++;
            if (ch == '~' && (*p == '0' || *p == '1'))
                ch = *p++ == '0' ? '~' : '/';
            else if (ch == '%' && p[0] != '\0' && p[1] != '\0') {
                char hex[3] = { p[0], p[1], 0 };
                char *end;
                long x = strtol(hex, &end, 16);
                if (*end != '\0' || x == 0)
                    return NULL;
                ch = (char)x;
                p += 2;
            }
            if (k + 1 >= sizeof tok)
                return NULL;
            tok[k++] = ch;
        }
        tok[k] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            cur = k > 0 && *end == '\0' && (k == 1 || tok[0] != '0') ? json_array_get(cur, i)
                                                                      : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* The node for a $ref target or a $defs entry: compiled once, shared by every reference
 * (registered before its body is compiled, so a recursive schema terminates). */
static mcp_status
shared_node(cctx *c, const json_t *target, const char *where, sch_node **out)
{
    for (size_t i = 0; i < c->nrefs; i++) {
        if (c->ref_keys[i] == target) {
            *out = c->ref_nodes[i];
            return MCP_OK;
        }
    }
    if (c->nrefs == c->caprefs) {
        size_t cap = c->caprefs ? c->caprefs * 2 : 8;
        const json_t **k = mcp__realloc(c->ref_keys, cap * sizeof *k);
        if (k != NULL)
            c->ref_keys = k;
        sch_node **v = k ? mcp__realloc(c->ref_nodes, cap * sizeof *v) : NULL;
        if (v == NULL)
            return cfail(c, MCP_ERR_NOMEM, "out of memory");
        c->ref_nodes = v;
        c->caprefs = cap;
    }
    sch_node *n = new_node(c);
    if (n == NULL)
        return c->s->nnodes >= MCP__SCHEMA_MAX_NODES ? MCP_ERR_TOO_LARGE
                                                     : cfail(c, MCP_ERR_NOMEM, "out of memory");
    c->ref_keys[c->nrefs] = target;
    c->ref_nodes[c->nrefs] = n;
    c->nrefs++;
    *out = n;
    /* errors inside the target name its own location */
    char saved[sizeof c->path];
    size_t slen = c->plen;
    memcpy(saved, c->path, slen);
    int w = snprintf(c->path, sizeof c->path, "%s", where);
    c->plen = w < 0 ? 0 : (size_t)w < sizeof c->path ? (size_t)w : sizeof c->path - 1;
    mcp_status rc = compile_into(c, target, n);
    memcpy(c->path, saved, slen);
    c->plen = slen;
    return rc;
}

static mcp_status
compile_ref(cctx *c, const json_t *v, sch_node *n)
{
    const json_t *r = json_object_get(v, "$ref");
    if (r == NULL)
        return MCP_OK;
    size_t old = push(c, "$ref");
    mcp_status rc;
    if (!json_is_string(r)) {
        rc = cfail(c, MCP_ERR_INVALID_ARG, "must be a string");
    } else if (json_string_value(r)[0] != '#') {
        rc = cfail(c, MCP_ERR_INVALID_ARG,
                   "only local references (\"#/$defs/...\") are supported, not '%.80s'",
                   json_string_value(r));
    } else {
        const json_t *target = resolve(c->doc, json_string_value(r));
        if (target == NULL) {
            rc = cfail(c, MCP_ERR_INVALID_ARG, "'%.80s' does not resolve in this document",
                       json_string_value(r));
        } else {
            c->plen = old;
            rc = shared_node(c, target, json_string_value(r) + 1, &n->ref);
        }
    }
    c->plen = old;
    return rc;
}

/* $defs (and draft-07 "definitions") are compiled even when unreferenced: a broken
 * definition is a broken schema. */
static mcp_status
compile_defs(cctx *c, const json_t *v, const char *key)
{
    const json_t *d = json_object_get(v, key);
    if (d == NULL)
        return MCP_OK;
    size_t old = push(c, key);
    mcp_status rc = MCP_OK;
    if (!json_is_object(d)) {
        rc = cfail(c, MCP_ERR_INVALID_ARG, "must be an object of schemas");
    } else {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)d, k, e) {
            size_t o2 = push(c, k);
            char where[sizeof c->path];
            snprintf(where, sizeof where, "%.*s", (int)c->plen, c->path);
            c->plen = o2;
            sch_node *unused;
            if ((rc = shared_node(c, e, where, &unused)) != MCP_OK)
                break;
        }
    }
    c->plen = old;
    return rc;
}

static mcp_status
compile_object(cctx *c, const json_t *v, sch_node *n)
{
    mcp_status rc;
    const json_t *props = json_object_get(v, "properties");
    if (props != NULL) {
        size_t old = push(c, "properties");
        if (!json_is_object(props))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be an object of schemas");
        n->props = json_object();
        n->prop_nodes = mcp__calloc(json_object_size(props) + 1, sizeof *n->prop_nodes);
        if (n->props == NULL || n->prop_nodes == NULL)
            return cfail(c, MCP_ERR_NOMEM, "out of memory");
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)props, k, e) {
            size_t o2 = push(c, k);
            rc = compile(c, e, &n->prop_nodes[n->nprops]);
            c->plen = o2;
            if (rc != MCP_OK)
                return rc;
            json_object_set_new(n->props, k, json_integer((json_int_t)n->nprops++));
        }
        c->plen = old;
    }
    const json_t *pp = json_object_get(v, "patternProperties");
    if (pp != NULL) {
        size_t old = push(c, "patternProperties");
        if (!json_is_object(pp))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be an object of schemas");
        size_t cnt = json_object_size(pp) + 1;
        n->pp_re = mcp__calloc(cnt, sizeof *n->pp_re);
        n->pp_nodes = mcp__calloc(cnt, sizeof *n->pp_nodes);
        if (n->pp_re == NULL || n->pp_nodes == NULL)
            return cfail(c, MCP_ERR_NOMEM, "out of memory");
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)pp, k, e) {
            size_t o2 = push(c, k);
            char msg[160];
            if (mcp__sch_re_compile(k, strlen(k), &n->pp_re[n->npp], msg, sizeof msg) != MCP_OK)
                return cfail(c, MCP_ERR_INVALID_ARG, "%s", msg);
            n->npp++;
            rc = compile(c, e, &n->pp_nodes[n->npp - 1]);
            c->plen = o2;
            if (rc != MCP_OK)
                return rc;
        }
        c->plen = old;
    }
    const json_t *req = json_object_get(v, "required");
    if (req != NULL) {
        size_t old = push(c, "required");
        size_t i;
        const json_t *e;
        if (!json_is_array(req))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be an array of property names");
        json_array_foreach(req, i, e)
            if (!json_is_string(e))
                return cfail(c, MCP_ERR_INVALID_ARG, "entry %zu is not a string", i);
        n->required = json_incref((json_t *)req);
        c->plen = old;
    }
    const json_t *dr = json_object_get(v, "dependentRequired");
    if (dr != NULL) {
        size_t old = push(c, "dependentRequired");
        const char *k;
        const json_t *e;
        if (!json_is_object(dr))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be an object of name arrays");
        json_object_foreach((json_t *)dr, k, e) {
            size_t i;
            const json_t *x;
            if (!json_is_array(e))
                return cfail(c, MCP_ERR_INVALID_ARG, "'%.64s' must be an array of names", k);
            json_array_foreach(e, i, x)
                if (!json_is_string(x))
                    return cfail(c, MCP_ERR_INVALID_ARG, "'%.64s' must be an array of names", k);
        }
        n->dep_required = json_incref((json_t *)dr);
        c->plen = old;
    }
    const json_t *ds = json_object_get(v, "dependentSchemas");
    if (ds != NULL) {
        size_t old = push(c, "dependentSchemas");
        if (!json_is_object(ds))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be an object of schemas");
        n->dep_names = mcp__calloc(json_object_size(ds) + 1, sizeof *n->dep_names);
        n->dep_nodes = mcp__calloc(json_object_size(ds) + 1, sizeof *n->dep_nodes);
        if (n->dep_names == NULL || n->dep_nodes == NULL)
            return cfail(c, MCP_ERR_NOMEM, "out of memory");
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)ds, k, e) {
            size_t o2 = push(c, k);
            if ((n->dep_names[n->ndeps] = mcp__strdup(k)) == NULL)
                return cfail(c, MCP_ERR_NOMEM, "out of memory");
            rc = compile(c, e, &n->dep_nodes[n->ndeps++]);
            c->plen = o2;
            if (rc != MCP_OK)
                return rc;
        }
        c->plen = old;
    }
    if ((rc = sub(c, v, "additionalProperties", &n->additional)) != MCP_OK ||
        (rc = sub(c, v, "propertyNames", &n->prop_names)) != MCP_OK ||
        (rc = count_kw(c, v, "minProperties", &n->min_props)) != MCP_OK ||
        (rc = count_kw(c, v, "maxProperties", &n->max_props)) != MCP_OK)
        return rc;
    return MCP_OK;
}

static mcp_status
compile_array(cctx *c, const json_t *v, sch_node *n)
{
    mcp_status rc;
    const json_t *items = json_object_get(v, "items");
    if (json_is_array(items)) {
        /* draft 2019 and earlier tuple form: items[] + additionalItems */
        if (json_object_get(v, "prefixItems") != NULL)
            return cfail(c, MCP_ERR_INVALID_ARG, "items as an array cannot go with prefixItems");
        if ((rc = sub_array(c, v, "items", &n->prefix, &n->nprefix)) != MCP_OK ||
            (rc = sub(c, v, "additionalItems", &n->items)) != MCP_OK)
            return rc;
    } else {
        if (json_object_get(v, "additionalItems") != NULL) {
            size_t old = push(c, "additionalItems");
            rc = cfail(c, MCP_ERR_INVALID_ARG, "needs items as an array; use prefixItems and "
                       "items (2020-12)");
            c->plen = old;
            return rc;
        }
        if ((rc = sub_array(c, v, "prefixItems", &n->prefix, &n->nprefix)) != MCP_OK ||
            (rc = sub(c, v, "items", &n->items)) != MCP_OK)
            return rc;
    }
    if ((rc = sub(c, v, "contains", &n->contains)) != MCP_OK ||
        (rc = count_kw(c, v, "minContains", &n->min_contains)) != MCP_OK ||
        (rc = count_kw(c, v, "maxContains", &n->max_contains)) != MCP_OK ||
        (rc = count_kw(c, v, "minItems", &n->min_items)) != MCP_OK ||
        (rc = count_kw(c, v, "maxItems", &n->max_items)) != MCP_OK)
        return rc;
    const json_t *u = json_object_get(v, "uniqueItems");
    if (u != NULL && !json_is_boolean(u)) {
        size_t old = push(c, "uniqueItems");
        rc = cfail(c, MCP_ERR_INVALID_ARG, "must be a boolean");
        c->plen = old;
        return rc;
    }
    n->unique = json_is_true(u);
    return MCP_OK;
}

static mcp_status
compile_scalar(cctx *c, const json_t *v, sch_node *n)
{
    mcp_status rc;
    const json_t *e = json_object_get(v, "enum");
    if (e != NULL) {
        if (!json_is_array(e)) {
            size_t old = push(c, "enum");
            rc = cfail(c, MCP_ERR_INVALID_ARG, "must be an array");
            c->plen = old;
            return rc;
        }
        n->enum_vals = json_incref((json_t *)e);
    }
    if (json_object_get(v, "const") != NULL)
        n->const_val = json_incref(json_object_get(v, "const"));
    const json_t *p = json_object_get(v, "pattern");
    if (p != NULL) {
        size_t old = push(c, "pattern");
        char msg[160];
        if (!json_is_string(p))
            return cfail(c, MCP_ERR_INVALID_ARG, "must be a string");
        if (mcp__sch_re_compile(json_string_value(p), json_string_length(p), &n->re, msg,
                                sizeof msg) != MCP_OK)
            return cfail(c, MCP_ERR_INVALID_ARG, "%s", msg);
        n->has_re = true;
        c->plen = old;
    }
    if ((rc = count_kw(c, v, "minLength", &n->min_len)) != MCP_OK ||
        (rc = count_kw(c, v, "maxLength", &n->max_len)) != MCP_OK ||
        (rc = num_kw(c, v, "minimum", SCH_N_MIN, &n->minimum, &n->nflags)) != MCP_OK ||
        (rc = num_kw(c, v, "maximum", SCH_N_MAX, &n->maximum, &n->nflags)) != MCP_OK ||
        (rc = num_kw(c, v, "exclusiveMinimum", SCH_N_XMIN, &n->exmin, &n->nflags)) != MCP_OK ||
        (rc = num_kw(c, v, "exclusiveMaximum", SCH_N_XMAX, &n->exmax, &n->nflags)) != MCP_OK ||
        (rc = num_kw(c, v, "multipleOf", SCH_N_MULT, &n->multiple, &n->nflags)) != MCP_OK)
        return rc;
    if ((n->nflags & SCH_N_MULT) && !(n->multiple > 0)) {
        size_t old = push(c, "multipleOf");
        rc = cfail(c, MCP_ERR_INVALID_ARG, "must be greater than 0");
        c->plen = old;
        return rc;
    }
    return MCP_OK;
}

/* Keywords that restrict instances but that this validator does not implement. */
static const char *const unsupported[] = {
    "$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems", "dependencies",
};

static mcp_status
compile_into(cctx *c, const json_t *v, sch_node *n)
{
    if (json_is_true(v))
        return MCP_OK;
    if (json_is_false(v)) {
        n->never = true;
        return MCP_OK;
    }
    if (!json_is_object(v))
        return cfail(c, MCP_ERR_INVALID_ARG, "a schema must be an object or a boolean");
    if (c->depth >= MCP__SCHEMA_MAX_DEPTH)
        return cfail(c, MCP_ERR_TOO_LARGE, "schema nested deeper than %d",
                     MCP__SCHEMA_MAX_DEPTH);
    c->depth++;
    mcp_status rc = MCP_OK;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0] && rc == MCP_OK; i++) {
        if (json_object_get(v, unsupported[i]) != NULL) {
            size_t old = push(c, unsupported[i]);
            rc = cfail(c, MCP_ERR_INVALID_ARG, "keyword not supported by this validator");
            c->plen = old;
        }
    }
    if (rc == MCP_OK)
        rc = compile_defs(c, v, "$defs");
    if (rc == MCP_OK)
        rc = compile_defs(c, v, "definitions");
    if (rc == MCP_OK)
        rc = compile_ref(c, v, n);
    if (rc == MCP_OK)
        rc = compile_type(c, v, n);
    if (rc == MCP_OK)
        rc = compile_scalar(c, v, n);
    if (rc == MCP_OK)
        rc = compile_object(c, v, n);
    if (rc == MCP_OK)
        rc = compile_array(c, v, n);
    if (rc == MCP_OK)
        rc = sub_array(c, v, "allOf", &n->all_of, &n->nall);
    if (rc == MCP_OK)
        rc = sub_array(c, v, "anyOf", &n->any_of, &n->nany);
    if (rc == MCP_OK)
        rc = sub_array(c, v, "oneOf", &n->one_of, &n->none);
    if (rc == MCP_OK)
        rc = sub(c, v, "not", &n->not_);
    if (rc == MCP_OK)
        rc = sub(c, v, "if", &n->if_);
    if (rc == MCP_OK)
        rc = sub(c, v, "then", &n->then_);
    if (rc == MCP_OK)
        rc = sub(c, v, "else", &n->else_);
    c->depth--;
    return rc;
}

static void
node_free(sch_node *n)
{
    json_decref(n->props);
    mcp__free(n->prop_nodes);
    for (size_t i = 0; i < n->npp; i++)
        regfree(&n->pp_re[i]);
    mcp__free(n->pp_re);
    mcp__free(n->pp_nodes);
    json_decref(n->required);
    json_decref(n->dep_required);
    for (size_t i = 0; i < n->ndeps; i++)
        mcp__free(n->dep_names[i]);
    mcp__free(n->dep_names);
    mcp__free(n->dep_nodes);
    mcp__free(n->prefix);
    json_decref(n->enum_vals);
    json_decref(n->const_val);
    if (n->has_re)
        regfree(&n->re);
    mcp__free(n->all_of);
    mcp__free(n->any_of);
    mcp__free(n->one_of);
    mcp__free(n);
}

void
mcp__schema_free(mcp__schema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        node_free(s->nodes[i]);
    mcp__free(s->nodes);
    mcp__free(s);
}

mcp_status
mcp__schema_compile(const json_t *schema, const char *root, mcp__schema **out, char *why,
                    size_t whylen)
{
    *out = NULL;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    mcp__schema *s = mcp__calloc(1, sizeof *s);
    if (s == NULL)
        return MCP_ERR_NOMEM;
    cctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.doc = schema;
    c.root = root ? root : "schema";
    c.why = why;
    c.whylen = whylen;
    sch_node *r = NULL;
    /* the root is a $ref target too ("#"), so it is compiled once even when referenced */
    mcp_status rc = shared_node(&c, schema, "", &r);
    mcp__free(c.ref_keys);
    mcp__free(c.ref_nodes);
    if (rc != MCP_OK) {
        if (why != NULL && whylen > 0 && why[0] == '\0')
            snprintf(why, whylen, "%s: %s", c.root, mcp_status_str(rc));
        mcp__schema_free(s);
        return rc;
    }
    s->root = r;
    *out = s;
    return MCP_OK;
}
