/*
 * "pattern" and "patternProperties": JSON Schema says ECMA-262 regular expressions; libc has
 * POSIX extended regular expressions (regex.h). Rather than link a second regex engine, a
 * pattern is translated to ERE where the meaning is the same and refused where it is not, at
 * registration, so a schema never means something else than its author wrote:
 *
 *   translated: \d \w \s \D \W \S (ASCII classes, also inside [...]), \n \t \r \f \v,
 *               escaped punctuation, (?: ... ) as a plain group, a '{' that does not start a
 *               quantifier as a literal brace, [\]...] and [...\-] (moved where ERE wants them);
 *   refused:    backreferences (\1), lookaround and named groups ((?= (?! (?<), \b \B, \u \x
 *               \p and other escapes, empty classes [] / [^], POSIX [: :] inside a class,
 *               patterns over MCP__SCHEMA_MAX_PATTERN bytes, counted repetitions whose
 *               expansion (regcomp copies a{n} n times) would exceed 10000 atoms, and a
 *               quantifier with nothing to repeat (a++, a*?*, (|?), ^{2}: ECMA syntax errors;
 *               ERE gives some a meaning, and a run of them grew regcomp past 2 GB).
 *   same as ECMA: unanchored search; lazy quantifiers (*? +? ??) decide a match the same way
 *               as greedy ones, so they are accepted as greedy.
 *
 * Matching runs in the C.UTF-8 locale, so '.' and [^x] take one code point, as ECMA's do for
 * characters of the Basic Multilingual Plane. Without that locale (not on glibc) they take a
 * byte. Case-insensitive and multiline flags do not exist in JSON Schema patterns.
 */
#include "protocol/schema_internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t loc_once = PTHREAD_ONCE_INIT;
static locale_t utf8_loc;

static void
loc_init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8_loc == (locale_t)0)
        utf8_loc = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

typedef struct out {
    char  *p;
    size_t n, cap;
    bool   full;
} out;

static void
put(out *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void
putc1(out *o, char ch)
{
    put(o, &ch, 1);
}

/* The expansion weight: regcomp duplicates a repeated atom, so a{100}{100} is 10000 copies. */
#define MAX_WEIGHT 10000
#define MAX_GROUPS 64

static const char *
esc_class(char ch, bool in_class)
{
    switch (ch) {
    case 'd': return in_class ? "0-9" : "[0-9]";
    case 'w': return in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
    case 's': return in_class ? "[:space:]" : "[[:space:]]";
    case 'D': return in_class ? NULL : "[^0-9]";
    case 'W': return in_class ? NULL : "[^A-Za-z0-9_]";
    case 'S': return in_class ? NULL : "[^[:space:]]";
    default: return NULL;
    }
}

static int
esc_char(char ch)
{
    switch (ch) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    default: return -1;
    }
}

/* Parse a quantifier {n}, {n,} or {n,m} at p; returns its length (0: not a quantifier). */
static size_t
brace_quant(const char *p, const char *end, unsigned long *max)
{
    const char *q = p + 1;
    unsigned long a = 0, b;
    size_t digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 9) {
        a = a * 10 + (unsigned long)(*q++ - '0');
        digits++;
    }
    if (digits == 0 || q >= end)
        return 0;
    b = a;
    if (*q == ',') {
        q++;
        size_t d2 = 0;
        b = 0;
        while (q < end && *q >= '0' && *q <= '9' && d2 < 9) {
            b = b * 10 + (unsigned long)(*q++ - '0');
            d2++;
        }
        if (d2 == 0)
            b = a;           /* {n,}: regcomp does not copy the open end */
    }
    if (q >= end || *q != '}')
        return 0;
    *max = b > a ? b : a;
    return (size_t)(q - p + 1);
}

static bool
translate(const char *pat, size_t len, out *o, char *why, size_t whylen)
{
    const char *p = pat, *end = pat + len;
    unsigned long acc[MAX_GROUPS + 1];     /* weight of each open group so far */
    size_t depth = 0;
    unsigned long last = 0;                /* weight of the atom before a quantifier */
    bool atom = false;                     /* the previous token can take a quantifier */
    acc[0] = 0;
#define REFUSE(...) do { snprintf(why, whylen, __VA_ARGS__); return false; } while (0)
    /* ECMA-262 "nothing to repeat": a quantifier after another quantifier, an assertion, '(',
     * '|' or at the start is a syntax error there; ERE accepts some of them (a++, a**) with a
     * meaning of its own, and regcomp's memory for a run of them grows without bound. */
#define QUANTIFIER() do { if (!atom) REFUSE("nothing to repeat before '%c'", ch); \
                          atom = false; } while (0)
    while (p < end) {
        char ch = *p;
        if (ch == '\0')
            REFUSE("NUL byte in pattern");
        if (ch == '\\') {
            if (p + 1 >= end)
                REFUSE("pattern ends in a backslash");
            char e = p[1];
            const char *cls = esc_class(e, false);
            int lit = esc_char(e);
            if (cls != NULL) {
                put(o, cls, strlen(cls));
            } else if (lit >= 0) {
                putc1(o, (char)lit);
            } else if (strchr(".^$|?*+()[]{}\\", e) != NULL) {
                putc1(o, '\\');
                putc1(o, e);
            } else if (strchr("/-,:=!<>#&~'\"%@`;_ ", e) != NULL) {
                putc1(o, e);               /* identity escapes of ERE-ordinary characters */
            } else {
                REFUSE("escape \\%c has no POSIX equivalent (not supported)", e);
            }
            p += 2;
            last = 1;
            atom = true;
            acc[depth] += 1;
            continue;
        }
        if (ch == '[') {
            const char *q = p + 1;
            bool neg = q < end && *q == '^';
            if (neg)
                q++;
            char body[512];
            out b = { body, 0, sizeof body, false };
            bool rbracket = false, dash = false, caret = false;
            body[0] = '\0';
            if (q < end && *q == ']')
                REFUSE("empty character class");
            while (q < end && *q != ']') {
                if (*q == '\\') {
                    if (q + 1 >= end)
                        REFUSE("pattern ends in a backslash");
                    char e = q[1];
                    const char *cls = esc_class(e, true);
                    int lit = esc_char(e);
                    if (cls != NULL)
                        put(&b, cls, strlen(cls));
                    else if (lit >= 0)
                        putc1(&b, (char)lit);
                    else if (e == ']')
                        rbracket = true;
                    else if (e == '-')
                        dash = true;
                    else if (e == '^')
                        caret = true;
                    else if (e == 'b')
                        putc1(&b, '\b');
                    else if (e == '\\' || strchr(".$|?*+()[{}/,:=!<>#&~'\"%@`;_ ", e) != NULL)
                        putc1(&b, e);
                    else
                        REFUSE("escape \\%c in a character class is not supported", e);
                    q += 2;
                    continue;
                }
                if (*q == '[' && q + 1 < end && (q[1] == ':' || q[1] == '.' || q[1] == '='))
                    REFUSE("POSIX [%c ... %c] inside a class is not ECMA-262", q[1], q[1]);
                if (*q == '\0')
                    REFUSE("NUL byte in pattern");
                if (*q == '^' && b.n == 0)
                    caret = true;          /* a literal ^ must not come first in ERE */
                else
                    putc1(&b, *q);
                q++;
            }
            if (q >= end)
                REFUSE("unterminated character class");
            if (b.full)
                REFUSE("character class too long");
            if (b.n == 0 && !rbracket && !dash && !caret)
                REFUSE("empty character class");
            if (b.n == 0 && !rbracket && !dash && caret) {
                put(o, neg ? "[^^]" : "\\^", neg ? 4 : 2);
            } else {
                put(o, neg ? "[^" : "[", neg ? 2 : 1);
                if (rbracket)
                    putc1(o, ']');
                put(o, body, b.n);
                if (caret)
                    putc1(o, '^');
                if (dash)
                    putc1(o, '-');
                putc1(o, ']');
            }
            p = q + 1;
            last = 1;
            atom = true;
            acc[depth] += 1;
            continue;
        }
        if (ch == '(') {
            if (p + 1 < end && p[1] == '?') {
                if (p + 2 < end && p[2] == ':')
                    p += 2;                /* (?: ... ) -> ( ... ) */
                else
                    REFUSE("lookaround and named groups ((?...) are not supported");
            }
            if (depth == MAX_GROUPS)
                REFUSE("more than %d nested groups", MAX_GROUPS);
            acc[++depth] = 0;
            putc1(o, '(');
            p++;
            last = 0;
            atom = false;
            continue;
        }
        if (ch == ')') {
            if (depth == 0)
                REFUSE("unbalanced ')'");
            last = acc[depth--];
            acc[depth] += last;
            putc1(o, ')');
            p++;
            atom = true;
            continue;
        }
        if (ch == '{') {
            unsigned long max;
            size_t ql = brace_quant(p, end, &max);
            if (ql == 0) {
                put(o, "\\{", 2);          /* ECMA (Annex B): a literal brace */
                p++;
                last = 1;
                atom = true;
                acc[depth] += 1;
                continue;
            }
            QUANTIFIER();
            if (max > 1000)
                REFUSE("repetition count over 1000");
            unsigned long add = last * (max > 0 ? max - 1 : 0);
            acc[depth] += add;
            put(o, p, ql);
            p += ql;
            if (p < end && *p == '?')
                p++;                       /* lazy: same match decision */
            if (acc[depth] > MAX_WEIGHT)
                REFUSE("pattern too complex (repetitions expand past %d atoms)", MAX_WEIGHT);
            continue;
        }
        if ((ch == '*' || ch == '+' || ch == '?') && p + 1 < end && p[1] == '?') {
            QUANTIFIER();
            putc1(o, ch);                  /* lazy quantifier: same match decision */
            p += 2;
            continue;
        }
        if (ch == '}') {
            put(o, "\\}", 2);
            p++;
            last = 1;
            atom = true;
            acc[depth] += 1;
            continue;
        }
        if (ch == '*' || ch == '+' || ch == '?')
            QUANTIFIER();
        putc1(o, ch);
        p++;
        if (ch == '|' || ch == '^' || ch == '$') {
            atom = false;
        } else if (ch != '*' && ch != '+' && ch != '?') {
            last = 1;
            atom = true;
            acc[depth] += 1;
        }
        if (acc[depth] > MAX_WEIGHT)
            REFUSE("pattern too complex");
    }
    if (depth != 0)
        REFUSE("unbalanced '('");
    if (o->full)
        REFUSE("pattern too long once translated");
    return true;
#undef QUANTIFIER
#undef REFUSE
}

mcp_status
mcp__sch_re_compile(const char *pat, size_t len, regex_t *re, char *why, size_t whylen)
{
    if (len > MCP__SCHEMA_MAX_PATTERN) {
        snprintf(why, whylen, "pattern longer than %d bytes", MCP__SCHEMA_MAX_PATTERN);
        return MCP_ERR_TOO_LARGE;
    }
    char buf[4 * MCP__SCHEMA_MAX_PATTERN + 64];
    out o = { buf, 0, sizeof buf, false };
    buf[0] = '\0';
    char msg[128];
    if (!translate(pat, len, &o, msg, sizeof msg)) {
        snprintf(why, whylen, "pattern not supported: %s (see the ECMA-262/POSIX note)", msg);
        return MCP_ERR_INVALID_ARG;
    }
    pthread_once(&loc_once, loc_init);
    locale_t old = utf8_loc ? uselocale(utf8_loc) : (locale_t)0;
    int rc = regcomp(re, buf, REG_EXTENDED | REG_NOSUB);
    if (utf8_loc)
        uselocale(old);
    if (rc != 0) {
        regerror(rc, re, msg, sizeof msg);
        snprintf(why, whylen, "pattern does not compile as a POSIX extended regex: %s", msg);
        return MCP_ERR_INVALID_ARG;
    }
    return MCP_OK;
}

bool
mcp__sch_re_search(const regex_t *re, const char *s, size_t len)
{
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    locale_t old = utf8_loc ? uselocale(utf8_loc) : (locale_t)0;
    int rc = regexec(re, s, 1, m, REG_STARTEND);
    if (utf8_loc)
        uselocale(old);
    return rc == 0;
}
