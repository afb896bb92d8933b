/* Private to src/protocol/schema*.c: the compiled schema tree. */
#ifndef MCP_SRC_PROTOCOL_SCHEMA_INTERNAL_H
#define MCP_SRC_PROTOCOL_SCHEMA_INTERNAL_H

#include "common/common.h"
#include "protocol/schema.h"

#include <regex.h>
#include <stdint.h>

enum {
    SCH_T_NULL = 1u << 0, SCH_T_BOOL = 1u << 1, SCH_T_OBJECT = 1u << 2, SCH_T_ARRAY = 1u << 3,
    SCH_T_NUMBER = 1u << 4, SCH_T_STRING = 1u << 5, SCH_T_INTEGER = 1u << 6,
};
enum { SCH_N_MIN = 1, SCH_N_MAX = 2, SCH_N_XMIN = 4, SCH_N_XMAX = 8, SCH_N_MULT = 16 };

typedef struct sch_node sch_node;

/* One compiled (sub)schema. Pointers to other nodes are borrowed: every node is owned by the
 * mcp__schema's node table, so $ref cycles need no reference counting. */
struct sch_node {
    bool        never;             /* the schema false */
    unsigned    types;             /* SCH_T_* bits; 0 = any type */
    sch_node   *ref;               /* $ref target, or NULL */
    /* objects */
    json_t     *props;             /* name -> index into prop_nodes */
    sch_node  **prop_nodes;
    size_t      nprops;
    regex_t    *pp_re;             /* patternProperties */
    sch_node  **pp_nodes;
    size_t      npp;
    json_t     *required;          /* array of names (reference) */
    json_t     *dep_required;      /* name -> array of names (reference) */
    char      **dep_names;         /* dependentSchemas */
    sch_node  **dep_nodes;
    size_t      ndeps;
    sch_node   *additional;        /* NULL: anything */
    sch_node   *prop_names;
    size_t      min_props, max_props;
    /* arrays */
    sch_node  **prefix;
    size_t      nprefix;
    sch_node   *items;             /* after the prefix; NULL: anything */
    sch_node   *contains;
    size_t      min_contains, max_contains;
    size_t      min_items, max_items;
    bool        unique;
    /* any instance */
    json_t     *enum_vals;         /* reference, or NULL */
    json_t     *const_val;         /* reference, or NULL */
    /* strings */
    bool        has_re;
    regex_t     re;
    size_t      min_len, max_len;  /* code points */
    /* numbers */
    unsigned    nflags;            /* SCH_N_* */
    long double minimum, maximum, exmin, exmax, multiple;
    /* applicators */
    sch_node  **all_of, **any_of, **one_of;
    size_t      nall, nany, none;
    sch_node   *not_, *if_, *then_, *else_;
};

struct mcp__schema {
    sch_node  *root;
    sch_node **nodes;
    size_t     nnodes, capnodes;
};

/* schema_re.c: an ECMA-262 pattern as a POSIX extended regex (see the file comment). */
mcp_status mcp__sch_re_compile(const char *pat, size_t len, regex_t *re, char *why,
                               size_t whylen);
/* Does re match anywhere in s[0..len)? (embedded NULs are part of the string) */
bool mcp__sch_re_search(const regex_t *re, const char *s, size_t len);

/* schema.c */
size_t mcp__sch_path_push(char *path, size_t *plen, size_t cap, const char *seg, size_t n);
const char *mcp__sch_type_name(unsigned bit);
void mcp__sch_format(char *out, size_t cap, const char *root, const char *path, size_t plen,
                     const char *msg);

#endif
