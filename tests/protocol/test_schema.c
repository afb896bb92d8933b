/*
 * Unit tests for src/protocol/schema*.c: JSON Schema 2020-12 validation of tool arguments.
 * One table of rows: a schema, an instance, and the exact message expected ("" = valid).
 * A second table: schemas refused at compile time (registration) and the message naming the
 * path. Then the work limits: a hostile schema or instance ends with an error, in bounded time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "protocol/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    const char *schema;
    const char *instance;
    const char *expect;        /* "" = valid; else the whole message */
} row;

static const row rows[] = {
    /* type, integer vs number, arrays of types */
    { "{\"type\":\"integer\"}", "3", "" },
    { "{\"type\":\"integer\"}", "3.0", "" },
    { "{\"type\":\"integer\"}", "3.5", "arguments: expected integer" },
    { "{\"type\":\"integer\"}", "\"3\"", "arguments: expected integer" },
    { "{\"type\":\"number\"}", "3", "" },
    { "{\"type\":\"number\"}", "-0.5e3", "" },
    { "{\"type\":\"number\"}", "true", "arguments: expected number" },
    { "{\"type\":[\"string\",\"null\"]}", "null", "" },
    { "{\"type\":[\"string\",\"null\"]}", "1", "arguments: expected null or string" },
    { "{\"type\":\"boolean\"}", "false", "" },
    { "{\"type\":\"array\"}", "{}", "arguments: expected array" },
    { "true", "{\"anything\":[1]}", "" },
    { "false", "{}", "arguments: no value is allowed here" },
    /* objects: properties, required, additionalProperties (bool or schema), nesting */
    { "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"type\":"
      "\"object\",\"properties\":{\"qty\":{\"type\":\"integer\"}}}}}}",
      "{\"items\":[{\"qty\":1},{\"qty\":2},{\"qty\":\"3\"}]}",
      "arguments/items/2/qty: expected integer" },
    { "{\"type\":\"object\",\"required\":[\"id\"]}", "{}",
      "arguments: missing required property 'id'" },
    { "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"required\":[\"b\"]}}}",
      "{\"a\":{}}", "arguments/a: missing required property 'b'" },
    { "{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":false}",
      "{\"a\":1,\"zz\":2}", "arguments: unexpected property 'zz'" },
    { "{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":false}",
      "{\"a\":1}", "" },
    { "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}",
      "{\"x\":\"ok\",\"y\":5}", "arguments/y: expected string" },
    { "{\"type\":\"object\",\"patternProperties\":{\"^n_\":{\"type\":\"number\"}},"
      "\"additionalProperties\":false}", "{\"n_a\":1,\"n_b\":\"x\"}",
      "arguments/n_b: expected number" },
    { "{\"type\":\"object\",\"patternProperties\":{\"^n_\":{}},\"additionalProperties\":false}",
      "{\"n_a\":1,\"m\":1}", "arguments: unexpected property 'm'" },
    { "{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}",
      "arguments: property name 'abcd' does not match propertyNames" },
    { "{\"minProperties\":1}", "{}", "arguments: fewer than minProperties 1 properties" },
    { "{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
      "arguments: more than maxProperties 1 properties" },
    { "{\"dependentRequired\":{\"card\":[\"cvv\"]}}", "{\"card\":1}",
      "arguments: property 'card' requires property 'cvv'" },
    { "{\"dependentSchemas\":{\"card\":{\"required\":[\"zip\"]}}}", "{\"card\":1}",
      "arguments: missing required property 'zip'" },
    { "{\"properties\":{\"a/b~c\":{\"type\":\"string\"}}}", "{\"a/b~c\":1}",
      "arguments/a~1b~0c: expected string" },
    { "{\"properties\":{\"a\":{\"type\":\"string\"}}}", "[1]", "" },  /* only for objects */
    /* arrays */
    { "{\"type\":\"array\",\"minItems\":2}", "[1]", "arguments: fewer than minItems 2 items" },
    { "{\"type\":\"array\",\"maxItems\":1}", "[1,2]", "arguments: more than maxItems 1 items" },
    { "{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
      "[\"a\",1]", "" },
    { "{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
      "[\"a\",1.5]", "arguments/1: expected integer" },
    { "{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",2]",
      "arguments: at most 1 items allowed" },
    { "{\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":\"integer\"}}",
      "[\"a\",1,\"b\"]", "arguments/2: expected integer" },
    { "{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1}]", "" },
    { "{\"uniqueItems\":true}", "[1,2,1.0]", "arguments: items 0 and 2 are equal (uniqueItems)" },
    { "{\"uniqueItems\":true}", "[{\"a\":1,\"b\":[2]},{\"b\":[2],\"a\":1}]",
      "arguments: items 0 and 1 are equal (uniqueItems)" },
    { "{\"contains\":{\"const\":5}}", "[1,2]",
      "arguments: 0 items match contains, at least 1 expected" },
    { "{\"contains\":{\"const\":5},\"maxContains\":1}", "[5,5]",
      "arguments: 2 items match contains, at most 1 allowed" },
    /* enum, const */
    { "{\"enum\":[\"red\",\"green\",1]}", "\"green\"", "" },
    { "{\"enum\":[\"red\",\"green\",1]}", "1.0", "" },
    { "{\"enum\":[\"red\",\"green\"]}", "\"blue\"", "arguments: not one of the enum values" },
    { "{\"const\":{\"a\":[1,null]}}", "{\"a\":[1,null]}", "" },
    { "{\"const\":{\"a\":[1,null]}}", "{\"a\":[1,false]}", "arguments: must equal the const value" },
    /* strings: lengths in code points, pattern (ECMA-262 features translated to POSIX) */
    { "{\"minLength\":2}", "\"\xc3\xa9\"", "arguments: shorter than minLength 2" },
    { "{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"", "" },
    { "{\"maxLength\":2}", "\"abc\"", "arguments: longer than maxLength 2" },
    { "{\"pattern\":\"^\\\\d{3}-\\\\d{4}$\"}", "\"555-1234\"", "" },
    { "{\"pattern\":\"^\\\\d{3}-\\\\d{4}$\"}", "\"555-12345\"", "arguments: does not match the pattern" },
    { "{\"pattern\":\"^[\\\\w.-]+@[\\\\w-]+\\\\.(?:com|org)$\"}", "\"a.b-c@x-y.org\"", "" },
    { "{\"pattern\":\"^[\\\\w.-]+@[\\\\w-]+\\\\.(?:com|org)$\"}", "\"a b@x.org\"",
      "arguments: does not match the pattern" },
    { "{\"pattern\":\"es\"}", "\"yes\"", "" },                         /* unanchored search */
    { "{\"pattern\":\"^.$\"}", "\"\xc3\xa9\"", "" },                    /* '.' is one code point */
    { "{\"pattern\":\"^a{2}\\\\}$\"}", "\"aa}\"", "" },
    { "{\"pattern\":\"^[^\\\\]x]+$\"}", "\"ab\"", "" },
    { "{\"pattern\":\"^[^\\\\]x]+$\"}", "\"a]\"", "arguments: does not match the pattern" },
    { "{\"pattern\":\"x$\"}", "\"x\\u0000y\"", "arguments: does not match the pattern" },
    { "{\"pattern\":\"^(ab)+?c{1,2}?d*?e??$\"}", "\"ababccd\"", "" },  /* lazy = greedy */
    { "{\"pattern\":\"^(?:a|b)*\\\\{+$\"}", "\"ab{{\"", "" },        /* quantified atoms */
    { "{\"type\":\"string\",\"format\":\"email\"}", "\"not an email\"", "" },  /* annotation */
    /* numbers */
    { "{\"minimum\":1,\"maximum\":100}", "0", "arguments: less than minimum 1" },
    { "{\"minimum\":1,\"maximum\":100}", "100", "" },
    { "{\"minimum\":1,\"maximum\":100}", "100.5", "arguments: greater than maximum 100" },
    { "{\"exclusiveMinimum\":0}", "0", "arguments: must be greater than 0 (exclusiveMinimum)" },
    { "{\"exclusiveMaximum\":1.5}", "1.5", "arguments: must be less than 1.5 (exclusiveMaximum)" },
    { "{\"multipleOf\":0.1}", "0.3", "" },
    { "{\"multipleOf\":5}", "12", "arguments: not a multiple of 5" },
    { "{\"multipleOf\":5}", "9223372036854775805", "" },
    { "{\"minimum\":9223372036854775807}", "9223372036854775806",
      "arguments: less than minimum 9.22337e+18" },
    { "{\"minimum\":0}", "\"-1\"", "" },                              /* only for numbers */
    /* combinators */
    { "{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":5}]}", "7", "" },
    { "{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":5}]}", "3",
      "arguments: matches none of the anyOf schemas" },
    { "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1.5",
      "arguments: matches none of the oneOf schemas" },
    { "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3",
      "arguments: matches oneOf schemas 0 and 1; exactly one expected" },
    { "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "2.5", "" },
    { "{\"allOf\":[{\"type\":\"object\"},{\"properties\":{\"n\":{\"maximum\":3}}}]}",
      "{\"n\":4}", "arguments/n: greater than maximum 3" },
    { "{\"not\":{\"type\":\"null\"}}", "null", "arguments: must not match the 'not' schema" },
    { "{\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},"
      "\"else\":{\"required\":[\"b\"]}}", "{\"k\":\"z\"}", "arguments: missing required property 'b'" },
    /* local $ref, recursion */
    { "{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"type\":\"object\","
      "\"properties\":{\"qty\":{\"$ref\":\"#/$defs/pos\"}}}", "{\"qty\":0}",
      "arguments/qty: less than minimum 1" },
    { "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
      "\"next\":{\"$ref\":\"#/$defs/node\"}}}},\"$ref\":\"#/$defs/node\"}",
      "{\"v\":1,\"next\":{\"v\":2,\"next\":{\"v\":\"x\"}}}", "arguments/next/next/v: expected integer" },
    { "{\"definitions\":{\"s\":{\"type\":\"string\"}},\"items\":{\"$ref\":\"#/definitions/s\"}}",
      "[\"a\",3]", "arguments/1: expected string" },
    { "{\"properties\":{\"a b\":{\"type\":\"string\"}},\"items\":{\"$ref\":\"#/properties/a%20b\"}}",
      "[1]", "arguments/0: expected string" },
    { "{\"$ref\":\"#\"}", "{}", "arguments: too complex to validate (nesting or work limit)" },
    { NULL, NULL, NULL },
};

static void
table_rows(void **state)
{
    (void)state;
    int failures = 0;
    for (const row *r = rows; r->schema != NULL; r++) {
        json_error_t je;
        json_t *s = json_loads(r->schema, JSON_DECODE_ANY, &je);
        json_t *x = json_loads(r->instance, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        assert_non_null(s);
        assert_non_null(x);
        mcp__schema *c = NULL;
        char why[256];
        if (mcp__schema_compile(s, "inputSchema", &c, why, sizeof why) != MCP_OK) {
            printf("row %td: schema refused: %s\n", r - rows, why);
            failures++;
        } else {
            bool ok = mcp__schema_validate(c, x, "arguments", why, sizeof why);
            bool want = r->expect[0] == '\0';
            if (ok != want || (!ok && strcmp(why, r->expect) != 0)) {
                printf("row %td: %s with %s: got %s \"%s\", want \"%s\"\n", r - rows, r->schema,
                       r->instance, ok ? "valid" : "invalid", ok ? "" : why, r->expect);
                failures++;
            }
        }
        mcp__schema_free(c);
        json_decref(s);
        json_decref(x);
    }
    assert_int_equal(failures, 0);
}

typedef struct bad {
    const char *schema;
    const char *expect;        /* the whole compile message */
} bad;

static const bad bads[] = {
    { "{\"type\":\"int\"}", "inputSchema/type: unknown type 'int'" },
    { "{\"type\":[\"string\",\"string\"]}", "inputSchema/type: entry 1 is not a distinct type name" },
    { "{\"properties\":{\"a\":{\"minimum\":\"3\"}}}", "inputSchema/properties/a/minimum: must be a number" },
    { "{\"properties\":{\"a\":{\"minLength\":-1}}}",
      "inputSchema/properties/a/minLength: must be a non-negative integer" },
    { "{\"properties\":{\"a\":5}}", "inputSchema/properties/a: a schema must be an object or a boolean" },
    { "{\"required\":\"a\"}", "inputSchema/required: must be an array of property names" },
    { "{\"multipleOf\":0}", "inputSchema/multipleOf: must be greater than 0" },
    { "{\"anyOf\":[]}", "inputSchema/anyOf: must be a non-empty array of schemas" },
    { "{\"properties\":{\"q\":{\"pattern\":\"(?=x)\"}}}",
      "inputSchema/properties/q/pattern: pattern not supported: lookaround and named groups "
      "((?...) are not supported (see the ECMA-262/POSIX note)" },
    { "{\"pattern\":\"(a)\\\\1\"}",
      "inputSchema/pattern: pattern not supported: escape \\1 has no POSIX equivalent (not "
      "supported) (see the ECMA-262/POSIX note)" },
    { "{\"pattern\":\"\\\\bword\"}",
      "inputSchema/pattern: pattern not supported: escape \\b has no POSIX equivalent (not "
      "supported) (see the ECMA-262/POSIX note)" },
    { "{\"pattern\":\"a{3,2}\"}",
      "inputSchema/pattern: pattern does not compile as a POSIX extended regex: Invalid "
      "content of \\{\\}" },
    { "{\"pattern\":\"((a{100}){100}){100}\"}",
      "inputSchema/pattern: pattern not supported: pattern too complex (repetitions expand past "
      "10000 atoms) (see the ECMA-262/POSIX note)" },
    /* ECMA "nothing to repeat"; regcomp's memory grew without bound on a run of '+' (found by
     * fuzz_schema: corpus entry regress_quantifier_run) */
    { "{\"pattern\":\"c++++++++++++++++++++++++++++++++++++++++++++++++++++n\"}",
      "inputSchema/pattern: pattern not supported: nothing to repeat before '+' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"pattern\":\"a*?*\"}",
      "inputSchema/pattern: pattern not supported: nothing to repeat before '*' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"pattern\":\"(|?)\"}",
      "inputSchema/pattern: pattern not supported: nothing to repeat before '?' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"pattern\":\"^{2}\"}",
      "inputSchema/pattern: pattern not supported: nothing to repeat before '{' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"pattern\":\"a{2}+\"}",
      "inputSchema/pattern: pattern not supported: nothing to repeat before '+' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"pattern\":\"[]\"}",
      "inputSchema/pattern: pattern not supported: empty character class (see the "
      "ECMA-262/POSIX note)" },
    { "{\"patternProperties\":{\"(\":{}}}",
      "inputSchema/patternProperties/(: pattern not supported: unbalanced '(' (see the "
      "ECMA-262/POSIX note)" },
    { "{\"$ref\":\"#/$defs/missing\"}",
      "inputSchema/$ref: '#/$defs/missing' does not resolve in this document" },
    { "{\"$ref\":\"https://example.com/s.json\"}",
      "inputSchema/$ref: only local references (\"#/$defs/...\") are supported, not "
      "'https://example.com/s.json'" },
    { "{\"$defs\":{\"x\":{\"type\":7}}}",
      "inputSchema/$defs/x/type: must be a type name or a non-empty array of them" },
    { "{\"unevaluatedProperties\":false}",
      "inputSchema/unevaluatedProperties: keyword not supported by this validator" },
    { "{\"additionalItems\":false}",
      "inputSchema/additionalItems: needs items as an array; use prefixItems and items (2020-12)" },
    { "{\"uniqueItems\":1}", "inputSchema/uniqueItems: must be a boolean" },
    { NULL, NULL },
};

static void
table_bad_schemas(void **state)
{
    (void)state;
    int failures = 0;
    for (const bad *b = bads; b->schema != NULL; b++) {
        json_error_t je;
        json_t *s = json_loads(b->schema, JSON_DECODE_ANY, &je);
        assert_non_null(s);
        mcp__schema *c = NULL;
        char why[256];
        mcp_status rc = mcp__schema_compile(s, "inputSchema", &c, why, sizeof why);
        if (rc == MCP_OK || c != NULL || strcmp(why, b->expect) != 0) {
            printf("bad %td: %s: got %s \"%s\", want \"%s\"\n", b - bads, b->schema,
                   rc == MCP_OK ? "accepted" : "refused", rc == MCP_OK ? "" : why, b->expect);
            failures++;
        }
        mcp__schema_free(c);
        json_decref(s);
    }
    assert_int_equal(failures, 0);
}

/* anyOf over a self-reference doubles the work per level: without the step budget this
 * would run for ages; with it the instance is refused (and never accepted under a 'not'). */
static void
hostile_schema_is_bounded(void **state)
{
    (void)state;
    const char *schemas[] = {
        "{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}",
        "{\"not\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}}",
        "{\"items\":{\"$ref\":\"#\"}}",
    };
    json_t *deep = json_array();
    json_t *cur = deep;
    for (int i = 0; i < 1000; i++) {          /* [[[[...]]]] 1000 deep */
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        json_t *s = json_loads(schemas[i], 0, NULL);
        mcp__schema *c = NULL;
        char why[256];
        assert_int_equal(mcp__schema_compile(s, "inputSchema", &c, why, sizeof why), MCP_OK);
        assert_false(mcp__schema_validate(c, deep, "arguments", why, sizeof why));
        assert_string_equal(why, "arguments: too complex to validate (nesting or work limit)");
        mcp__schema_free(c);
        json_decref(s);
    }
    json_decref(deep);
}

/* 200,000 distinct items under uniqueItems: hashed, not compared pairwise (2e10 pairs). */
static void
unique_items_large_array(void **state)
{
    (void)state;
    json_t *arr = json_array();
    for (json_int_t i = 0; i < 200000; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *s = json_loads("{\"uniqueItems\":true}", 0, NULL);
    mcp__schema *c = NULL;
    char why[256];
    assert_int_equal(mcp__schema_compile(s, "inputSchema", &c, why, sizeof why), MCP_OK);
    assert_true(mcp__schema_validate(c, arr, "arguments", why, sizeof why));
    json_array_append_new(arr, json_real(7.0));
    assert_false(mcp__schema_validate(c, arr, "arguments", why, sizeof why));
    assert_string_equal(why, "arguments: items 7 and 200000 are equal (uniqueItems)");
    mcp__schema_free(c);
    json_decref(s);
    json_decref(arr);
}

/* A schema nested past the compile limit, and one with too many subschemas. */
static void
compile_limits(void **state)
{
    (void)state;
    char buf[4096] = "";
    for (int i = 0; i < MCP__SCHEMA_MAX_DEPTH + 1; i++)
        strcat(buf, "{\"not\":");
    strcat(buf, "true");
    for (int i = 0; i < MCP__SCHEMA_MAX_DEPTH + 1; i++)
        strcat(buf, "}");
    json_t *s = json_loads(buf, 0, NULL);
    assert_non_null(s);
    mcp__schema *c = NULL;
    char why[256];
    assert_int_equal(mcp__schema_compile(s, "inputSchema", &c, why, sizeof why),
                     MCP_ERR_TOO_LARGE);
    assert_int_equal(strncmp(why, "inputSchema/...", 15), 0);
    assert_non_null(strstr(why, "/not: schema nested deeper than 64"));
    json_decref(s);
    json_t *wide = json_object(), *props = json_object();
    for (int i = 0; i < MCP__SCHEMA_MAX_NODES + 1; i++) {
        char k[16];
        snprintf(k, sizeof k, "p%d", i);
        json_object_set_new(props, k, json_true());
    }
    json_object_set_new(wide, "properties", props);
    assert_int_equal(mcp__schema_compile(wide, "inputSchema", &c, why, sizeof why),
                     MCP_ERR_TOO_LARGE);
    assert_null(c);
    json_decref(wide);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_rows),
        cmocka_unit_test(table_bad_schemas),
        cmocka_unit_test(hostile_schema_is_bounded),
        cmocka_unit_test(unique_items_large_array),
        cmocka_unit_test(compile_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
