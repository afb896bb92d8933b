/*
 * Validation of an instance against a compiled schema (schema.c). The first failure is
 * reported, with the instance path ("arguments/items/2/qty: expected integer"); branches of
 * anyOf/oneOf/not/if/contains are evaluated quietly and only their verdict counts.
 *
 * Bounded: at most MCP__SCHEMA_MAX_EVAL_DEPTH nested node evaluations (stack) and
 * MCP__SCHEMA_MAX_STEPS units of work (time); past either the instance is refused ("too
 * complex to validate"), also under a 'not' (running out of budget is never a pass).
 */
#include "protocol/schema_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vctx {
    char     path[256];
    size_t   plen;
    char    *why;
    size_t   whylen;
    unsigned quiet;        /* > 0: inside a branch whose messages are not reported */
    unsigned depth;
    size_t   steps;
    bool     exhausted;    /* depth or step budget ran out */
    bool     written;      /* why holds the first failure */
    size_t   rootlen;      /* why starts with the root name */
} vctx;

static bool
vfail(vctx *v, const char *fmt, ...) MCP_PRINTF(2, 3);

static bool
vfail(vctx *v, const char *fmt, ...)
{
    if (v->quiet > 0 || v->written || v->exhausted)
        return false;
    v->written = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
char root[64];
    snprintf(root, sizeof root, "%.*s", (int)v->rootlen, v->why);
    mcp__sch_format(v->why, v->whylen, root, v->path, v->plen, msg);
    return false;
}

static bool
spend(vctx *v, size_t units)
{
    v->steps += units;
    if (v->steps > MCP__SCHEMA_MAX_STEPS)
        v->exhausted = true;
    return !v->exhausted;
}

static size_t
push_key(vctx *v, const char *k, size_t n)
{
    return mcp__sch_path_push(v->path, &v->plen, sizeof v->path, k, n);
}

static size_t
push_index(vctx *v, size_t i)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    return push_key(v, b, (size_t)n);
}

/* ---- equality and hashing (enum, const, uniqueItems): 1 and 1.0 are equal ------------- */

static bool
is_integral(const json_t *x)
{
    if (json_is_integer(x))
        return true;
    double d = json_real_value(x);
    return json_is_real(x) && d == floor(d) && isfinite(d);
}

static long double
num(const json_t *x)
{
    return json_is_integer(x) ? (long double)json_integer_value(x)
                              : (long double)json_real_value(x);
}

static bool
json_eq(vctx *v, const json_t *a, const json_t *b, unsigned depth)
{
    if (!spend(v, 1) || depth > 2 * MCP__SCHEMA_MAX_EVAL_DEPTH) {
        v->exhausted = true;
        return false;
    }
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return num(a) == num(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!json_eq(v, json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x) {
            const json_t *y = json_object_get(b, k);
            if (y == NULL || !json_eq(v, x, y, depth + 1))
                return false;
        }
        return true;
    }
    default:
        return true;                                    /* true, false, null */
    }
}

static uint64_t
mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t
json_hash(vctx *v, const json_t *a, unsigned depth)
{
    if (!spend(v, 1) || depth > 2 * MCP__SCHEMA_MAX_EVAL_DEPTH) {
        v->exhausted = true;
        return 0;
    }
    switch (json_typeof(a)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        long double d = num(a);
        if (is_integral(a) && d >= -9.2e18L && d <= 9.2e18L)
            return mix((uint64_t)(int64_t)d);
        double x = (double)d;
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        return mix(bits ^ 0x5555);
    }
    case JSON_STRING: {
        uint64_t h = 1469598103934665603ULL;
        const unsigned char *s = (const unsigned char *)json_string_value(a);
        for (size_t i = 0; i < json_string_length(a); i++)
            h = (h ^ s[i]) * 1099511628211ULL;
        (void)spend(v, json_string_length(a) / 64);
        return mix(h);
    }
    case JSON_ARRAY: {
        uint64_t h = 7;
        for (size_t i = 0; i < json_array_size(a); i++)
            h = mix(h * 31 + json_hash(v, json_array_get(a, i), depth + 1));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 11;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x) {
            uint64_t kh = 1469598103934665603ULL;
            for (const unsigned char *s = (const unsigned char *)k; *s; s++)
                kh = (kh ^ *s) * 1099511628211ULL;
            h += mix(kh ^ (json_hash(v, x, depth + 1) * 0x9e3779b97f4a7c15ULL));
        }
        return h;
    }
    default:
        return (uint64_t)json_typeof(a) + 1;
    }
}

typedef struct hidx {
    uint64_t h;
    size_t   i;
} hidx;

static int
hidx_cmp(const void *a, const void *b)
{
    const hidx *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* uniqueItems in O(n log n): sort by hash, compare only items whose hashes agree. */
static bool
check_unique(vctx *v, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return true;
    hidx *t = mcp__calloc(n, sizeof *t);
    if (t == NULL)
        return vfail(v, "out of memory checking uniqueItems");
    for (size_t i = 0; i < n && !v->exhausted; i++) {
        t[i].h = json_hash(v, json_array_get(arr, i), 0);
        t[i].i = i;
    }
    if (!v->exhausted)
        qsort(t, n, sizeof *t, hidx_cmp);
    bool ok = !v->exhausted;
    for (size_t a = 0; ok && a < n; a++) {
        for (size_t b = a + 1; ok && b < n && t[b].h == t[a].h; b++) {
            if (json_eq(v, json_array_get(arr, t[a].i), json_array_get(arr, t[b].i), 0)) {
                ok = vfail(v, "items %zu and %zu are equal (uniqueItems)", t[a].i, t[b].i);
                break;
            }
            if (v->exhausted)
                ok = false;
        }
    }
    mcp__free(t);
    return ok;
}

/* ---- the keywords ------------------------------------------------------------------------ */

static bool validate(vctx *v, const sch_node *n, const json_t *x);

static bool
quiet_ok(vctx *v, const sch_node *n, const json_t *x)
{
    size_t plen = v->plen;
    v->quiet++;
    bool ok = validate(v, n, x);
    v->quiet--;
    v->plen = plen;                    /* a failing branch leaves the path where it failed */
    return ok;
}

static unsigned
kind_bits(const json_t *x)
{
    switch (json_typeof(x)) {
    case JSON_NULL: return SCH_T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return SCH_T_BOOL;
    case JSON_OBJECT: return SCH_T_OBJECT;
    case JSON_ARRAY: return SCH_T_ARRAY;
    case JSON_STRING: return SCH_T_STRING;
    default: return is_integral(x) ? SCH_T_INTEGER | SCH_T_NUMBER : SCH_T_NUMBER;
    }
}

static bool
type_fail(vctx *v, unsigned types)
{
    char list[96];
    size_t off = 0;
    list[0] = '\0';
    for (unsigned b = 1; b <= SCH_T_INTEGER; b <<= 1) {
        if (!(types & b))
            continue;
        int w = snprintf(list + off, sizeof list - off, "%s%s", off ? " or " : "",
                         mcp__sch_type_name(b));
        if (w > 0 && (size_t)w < sizeof list - off)
            off += (size_t)w;
    }
    return vfail(v, "expected %s", list);
}

static size_t
code_points(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static bool
check_string(vctx *v, const sch_node *n, const json_t *x)
{
    const char *s = json_string_value(x);
    size_t len = json_string_length(x);
    if (n->min_len > 0 || n->max_len != SIZE_MAX) {
        size_t cp = code_points(s, len);
        if (cp < n->min_len)
            return vfail(v, "shorter than minLength %zu", n->min_len);
        if (cp > n->max_len)
            return vfail(v, "longer than maxLength %zu", n->max_len);
    }
    if (n->has_re) {
        if (!spend(v, 1 + len / 16))
            return false;
        if (!mcp__sch_re_search(&n->re, s, len))
            return vfail(v, "does not match the pattern");
    }
    return true;
}

static bool
multiple_ok(const sch_node *n, const json_t *x)
{
    long double m = n->multiple;
    if (json_is_integer(x) && m == floorl(m) && m <= 9.2e18L)
        return json_integer_value(x) % (json_int_t)m == 0;
    double q = (double)(num(x) / m);
    if (!isfinite(q) || fabs(q) > 9007199254740992.0)
        return isfinite((double)num(x));   /* beyond 2^53 every double is integral */
    double tol = fmax(1e-9, fabs(q) * DBL_EPSILON * 64);
    return fabs(q - round(q)) <= tol;
}

static bool
check_number(vctx *v, const sch_node *n, const json_t *x)
{
    long double d = num(x);
    if ((n->nflags & SCH_N_MIN) && d < n->minimum)
        return vfail(v, "less than minimum %Lg", n->minimum);
    if ((n->nflags & SCH_N_MAX) && d > n->maximum)
        return vfail(v, "greater than maximum %Lg", n->maximum);
    if ((n->nflags & SCH_N_XMIN) && d <= n->exmin)
        return vfail(v, "must be greater than %Lg (exclusiveMinimum)", n->exmin);
    if ((n->nflags & SCH_N_XMAX) && d >= n->exmax)
        return vfail(v, "must be less than %Lg (exclusiveMaximum)", n->exmax);
    if ((n->nflags & SCH_N_MULT) && !multiple_ok(n, x))
        return vfail(v, "not a multiple of %Lg", n->multiple);
    return true;
}

static bool
check_object(vctx *v, const sch_node *n, const json_t *x)
{
    size_t cnt = json_object_size(x);
    if (cnt < n->min_props)
        return vfail(v, "fewer than minProperties %zu properties", n->min_props);
    if (cnt > n->max_props)
        return vfail(v, "more than maxProperties %zu properties", n->max_props);
    size_t i;
    const json_t *r;
    json_array_foreach(n->required, i, r) {
        if (json_object_get(x, json_string_value(r)) == NULL)
            return vfail(v, "missing required property '%.64s'", json_string_value(r));
    }
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)n->dep_required, k, val) {
        if (json_object_get(x, k) == NULL)
            continue;
        json_array_foreach(val, i, r)
            if (json_object_get(x, json_string_value(r)) == NULL)
                return vfail(v, "property '%.64s' requires property '%.64s'", k,
                             json_string_value(r));
    }
    for (size_t d = 0; d < n->ndeps; d++)
        if (json_object_get(x, n->dep_names[d]) != NULL && !validate(v, n->dep_nodes[d], x))
            return false;
    json_object_foreach((json_t *)x, k, val) {
        size_t klen = strlen(k);
        size_t old = push_key(v, k, klen);
        bool matched = false;
        const json_t *pi = json_object_get(n->props, k);
        if (pi != NULL) {
            matched = true;
            if (!validate(v, n->prop_nodes[(size_t)json_integer_value(pi)], val))
                return false;
        }
        for (size_t p = 0; p < n->npp; p++) {
            if (!spend(v, 1 + klen / 16))
                return false;
            if (mcp__sch_re_search(&n->pp_re[p], k, klen)) {
                matched = true;
                if (!validate(v, n->pp_nodes[p], val))
                    return false;
            }
        }
        v->plen = old;
        if (!matched && n->additional != NULL) {
            if (n->additional->never)
                return vfail(v, "unexpected property '%.64s'", k);
            push_key(v, k, klen);
            if (!validate(v, n->additional, val))
                return false;
            v->plen = old;
        }
        if (n->prop_names != NULL) {
            json_t *name = json_stringn(k, klen);
            if (name == NULL)
                return vfail(v, "out of memory");
            bool ok = quiet_ok(v, n->prop_names, name);
            json_decref(name);
            if (!ok)
                return vfail(v, "property name '%.64s' does not match propertyNames", k);
        }
    }
    return true;
}

static bool
check_array(vctx *v, const sch_node *n, const json_t *x)
{
    size_t cnt = json_array_size(x);
    if (cnt < n->min_items)
        return vfail(v, "fewer than minItems %zu items", n->min_items);
    if (cnt > n->max_items)
        return vfail(v, "more than maxItems %zu items", n->max_items);
    for (size_t i = 0; i < cnt; i++) {
        const sch_node *s = i < n->nprefix ? n->prefix[i] : n->items;
        if (s == NULL)
            continue;
        if (s->never)
            return vfail(v, "at most %zu items allowed", n->nprefix);
        size_t old = push_index(v, i);
        if (!validate(v, s, json_array_get(x, i)))
            return false;
        v->plen = old;
    }
    if (n->contains != NULL) {
        size_t hits = 0;
        for (size_t i = 0; i < cnt; i++) {
            if (quiet_ok(v, n->contains, json_array_get(x, i)))
                hits++;
            if (v->exhausted)
                return false;
        }
        if (hits < n->min_contains)
            return vfail(v, "%zu items match contains, at least %zu expected", hits,
                         n->min_contains);
        if (hits > n->max_contains)
            return vfail(v, "%zu items match contains, at most %zu allowed", hits,
                         n->max_contains);
    }
    return !n->unique || check_unique(v, x);
}

static bool
check_applicators(vctx *v, const sch_node *n, const json_t *x)
{
    for (size_t i = 0; i < n->nall; i++)
        if (!validate(v, n->all_of[i], x))
            return false;
    if (n->nany > 0) {
        bool any = false;
        for (size_t i = 0; i < n->nany && !any && !v->exhausted; i++)
            any = quiet_ok(v, n->any_of[i], x);
        if (!any)
            return vfail(v, "matches none of the anyOf schemas");
    }
    if (n->none > 0) {
        size_t first = SIZE_MAX, hits = 0;
        for (size_t i = 0; i < n->none && hits < 2 && !v->exhausted; i++) {
            if (quiet_ok(v, n->one_of[i], x)) {
                if (hits++ == 0)
                    first = i;
                else
                    return vfail(v, "matches oneOf schemas %zu and %zu; exactly one expected",
                                 first, i);
            }
        }
        if (hits == 0)
            return vfail(v, "matches none of the oneOf schemas");
    }
    if (n->not_ != NULL) {
        bool m = quiet_ok(v, n->not_, x);
        if (v->exhausted)
            return false;
        if (m)
            return vfail(v, "must not match the 'not' schema");
    }
    if (n->if_ != NULL) {
        bool cond = quiet_ok(v, n->if_, x);
        if (v->exhausted)
            return false;
        const sch_node *next = cond ? n->then_ : n->else_;
        if (next != NULL && !validate(v, next, x))
            return false;
    }
    return !v->exhausted;
}

static bool
validate(vctx *v, const sch_node *n, const json_t *x)
{
    if (!spend(v, 1))
        return false;
    if (v->depth >= MCP__SCHEMA_MAX_EVAL_DEPTH) {
        v->exhausted = true;
        return false;
    }
    if (n->never)
        return vfail(v, "no value is allowed here");
    v->depth++;
    bool ok = true;
    unsigned kind = kind_bits(x);
    if (n->ref != NULL && !validate(v, n->ref, x))
        ok = false;
    else if (n->types != 0 && (n->types & kind) == 0)
        ok = type_fail(v, n->types);
    else if (n->const_val != NULL && !json_eq(v, n->const_val, x, 0))
        ok = vfail(v, "must equal the const value");
    if (ok && n->enum_vals != NULL) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(n->enum_vals) && !found && !v->exhausted; i++)
            found = json_eq(v, json_array_get(n->enum_vals, i), x, 0);
        if (!found)
            ok = vfail(v, "not one of the enum values");
    }
    if (ok && (kind & SCH_T_STRING))
        ok = check_string(v, n, x);
    else if (ok && (kind & SCH_T_NUMBER))
        ok = check_number(v, n, x);
    else if (ok && (kind & SCH_T_OBJECT))
        ok = check_object(v, n, x);
    else if (ok && (kind & SCH_T_ARRAY))
        ok = check_array(v, n, x);
    if (ok)
        ok = check_applicators(v, n, x);
    v->depth--;
    return ok && !v->exhausted;
}

bool
mcp__schema_validate(const mcp__schema *s, const json_t *instance, const char *root, char *why,
                     size_t whylen)
{
    vctx v;
    memset(&v, 0, sizeof v);
    char scratch[8];
    v.why = why != NULL && whylen > 0 ? why : scratch;
    v.whylen = why != NULL && whylen > 0 ? whylen : sizeof scratch;
    int w = snprintf(v.why, v.whylen, "%s", root ? root : "instance");
    v.rootlen = w < 0 ? 0 : (size_t)w < v.whylen ? (size_t)w : v.whylen - 1;
    bool ok = instance != NULL && validate(&v, s->root, instance);
    if (ok) {
        v.why[0] = '\0';
    } else if (v.exhausted) {
        snprintf(v.why, v.whylen, "%s: too complex to validate (nesting or work limit)",
                 root ? root : "instance");
    } else if (!v.written) {
        snprintf(v.why, v.whylen, "%s: invalid", root ? root : "instance");
    }
    return ok;
}
