/*
 * Our JSON writer (src/jsonrpc/jsonrpc.c write_value, behind mcp__json_dump and every
 * response envelope) against jansson's compact dump of the same values: byte for byte on every
 * JSON file of the test tree (fuzz corpora, vectors, schemas), on generated values (every
 * control character, quotes, backslashes, non-ASCII strings and keys, reals, integer limits,
 * empty containers, nesting past the writer's own depth), and the failures: a cycle and an
 * invalid UTF-8 string fail as with jansson, leaving nothing half-written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonrpc/jsonrpc.h"

static size_t compared;

static void
same(const json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = 0;
    char *got = mcp__json_dump(v, &n);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
    free(want);
    mcp__free(got);
    compared++;
}

static void
walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* the tree's own files only: not node_modules (other tests install into it) */
        if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path);
            continue;
        }
        if (st.st_size > (1 << 20))
            continue;
        json_t *v = json_load_file(path, JSON_DECODE_ANY, NULL);
        if (v != NULL)
            same(v);
        json_decref(v);
    }
    closedir(d);
}

static void
writer_matches_jansson_on_the_test_tree(void **state)
{
    (void)state;
    compared = 0;
    const char *src = getenv("MCP_SRC");
    char root[1024];
    snprintf(root, sizeof root, "%s/tests", src != NULL ? src : "..");
    walk(root);
    fprintf(stderr, "compared %zu documents\n", compared);
    assert_true(compared >= 20);         /* corpora, vectors, schemas: 26 documents today */
}

static void
writer_matches_jansson_on_generated_values(void **state)
{
    (void)state;
    char bytes[130];
    size_t n = 0;
    for (int c = 1; c < 128; c++)
        bytes[n++] = (char)c;
    json_t *v = json_object();
    json_object_set_new(v, "ascii", json_stringn(bytes, n));
    json_object_set_new(v, "utf8", json_string("\xc3\xa4\xe2\x82\xac \xf0\x9f\x98\x80"));
    json_object_set_new(v, "quotes", json_string("\"q\" \\ / \x7f"));
    json_object_set_new(v, "real", json_real(12.5));
    json_object_set_new(v, "tiny", json_real(1e-300));
    json_object_set_new(v, "whole", json_real(3.0));
    json_object_set_new(v, "int", json_integer(0));
    json_object_set_new(v, "max", json_integer(INT64_MAX));
    json_object_set_new(v, "min", json_integer(INT64_MIN));
    json_object_set_new(v, "empty", json_object());
    json_object_set_new(v, "list", json_array());
    json_object_set_new(v, "t", json_true());
    json_object_set_new(v, "f", json_false());
    json_object_set_new(v, "nil", json_null());
    json_object_set_new(v, "esc\"k\\\n", json_string("key escaped"));
    json_object_set_new(v, "mixed", json_pack("[i, s, {s:[]}]", -42, "", "x"));
    assert_non_null(v);
    same(v);
    json_object_set_new(v, "k\xc3\xa4y", json_string("non-ASCII key"));
    same(v);
    json_decref(v);
    /* deeper than the writer goes itself: jansson writes the rest */
    json_t *deep = json_integer(1);
    for (int i = 0; i < 60; i++)
        deep = i % 2 ? json_pack("{s:o}", "d", deep) : json_pack("[o]", deep);
    same(deep);
    json_decref(deep);
    /* bare values (JSON_ENCODE_ANY) */
    json_t *vals[] = { json_string("a\nb"), json_integer(-1), json_real(-0.5), json_true(),
                       json_false(), json_null(), json_string("") };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        same(vals[i]);
        json_decref(vals[i]);
    }
}

static void
writer_fails_where_jansson_fails(void **state)
{
    (void)state;
    /* a cycle: both refuse it */
    json_t *a = json_array(), *o = json_object();
    json_array_append(a, o);
    json_object_set(o, "loop", a);
    assert_null(json_dumps(a, JSON_COMPACT));
    size_t n = 0;
    assert_null(mcp__json_dump(a, &n));
    json_object_del(o, "loop");
    json_decref(o);
    json_decref(a);
    /* a string jansson was told not to check: invalid UTF-8 is refused, nothing half-written */
    json_t *bad = json_pack("{s:s, s:o}", "ok", "x", "bad", json_string_nocheck("\xff\xfe"));
    assert_null(json_dumps(bad, JSON_COMPACT));
    mcp_buf b;
    mcp__buf_init(&b, 0);
    assert_int_equal(mcp__buf_append(&b, "prefix", 6), MCP_OK);
    assert_false(mcp__json_dump_into(&b, bad));
    assert_string_equal(b.ptr, "prefix");
    mcp__buf_cleanup(&b);
    json_decref(bad);
    /* a bounded buffer: too large fails, never truncates */
    json_t *big = json_pack("{s:s}", "k", "0123456789abcdef0123456789abcdef");
    mcp__buf_init(&b, 16);
    assert_false(mcp__json_dump_into(&b, big));
    mcp__buf_cleanup(&b);
    json_decref(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_matches_jansson_on_the_test_tree),
        cmocka_unit_test(writer_matches_jansson_on_generated_values),
        cmocka_unit_test(writer_fails_where_jansson_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
