#!/usr/bin/env bash
# mcp-client against our own mcp-conformance-server: every subcommand over Streamable HTTP
# (stateful and stateless) and stdio, human and --json output, and the exit codes / one-line
# reasons of the failure cases (usage 2, tool error 1, unknown tool 1, unreachable 1, server
# process that dies 1). Needs $MCP_BIN (set by CTest) and jq. Everything on 127.0.0.1, bounded.
command -v jq >/dev/null || { echo "jq is required" >&2; exit 1; }
CLIENT_IT_TMP=/tmp/mcp-client-it-XXXXXX
CLIENT_IT_TOOLS="mcp-client mcp-conformance-server"
CLIENT_IT_TIMEOUT=30
# shellcheck source=lib/client_common.sh
. "$(dirname "$0")/lib/client_common.sh"

start_server() {
    local name=$1 port
    shift
    "$MCP_BIN/mcp-conformance-server" --listen 127.0.0.1:0 --no-access-log "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=($!)
    port=$(listen_port "$TMP/$name.err")
    [ -n "$port" ] || { echo "server $name did not start: $(cat "$TMP/$name.err")" >&2; exit 1; }
    URL="http://127.0.0.1:$port/mcp"
}

exercise() {     # exercise LABEL TRANSPORT-ARGS...
    local l=$1
    shift
    run "$@" ping
    eq "$l ping status" "$RC" 0
    has "$l ping output" "$OUT" "ok ("

    run "$@" tools list
    eq "$l tools list status" "$RC" 0
    has "$l tools list shows echo" "$OUT" "echo - Echo the given text back"
    has "$l tools list shows args" "$OUT" "args: text:string (required)"

    run "$@" --json tools list
    eq "$l tools list --json status" "$RC" 0
    eq "$l every tool has an object schema" \
        "$(printf '%s' "$OUT" | jq '[.tools[] | select(.inputSchema.type != "object")] | length')" 0
    check_count=$(printf '%s' "$OUT" | jq '.tools | length')
    [ "${check_count:-0}" -ge 10 ] && ok || bad "$l --json lists the tools ($check_count)"

    run "$@" tools call echo text="hello world"
    eq "$l call echo" "$OUT" "echo: hello world"
    eq "$l call echo status" "$RC" 0

    run "$@" --json tools call echo --args '{"text":"a"}'
    eq "$l --args JSON" "$(printf '%s' "$OUT" | jq -r '.content[0].text')" "echo: a"

    run "$@" tools call echo 'text:="json string"'
    eq "$l key:=JSON" "$OUT" "echo: json string"

    run "$@" tools call test_tool_with_logging
    eq "$l tool with logging status" "$RC" 0
    has "$l server log lines go to stderr" "$ERR" "[server info"

    run "$@" tools call test_error_handling
    eq "$l tool error exit" "$RC" 1
    has "$l tool error content on stdout" "$OUT" "intentionally returns an error"
    eq "$l tool error reason" "$(printf '%s\n' "$ERR" | grep '^mcp-client:')" \
        "mcp-client: tool test_error_handling reported an error"

    run "$@" tools call no_such_tool
    eq "$l unknown tool exit" "$RC" 1
    eq "$l unknown tool: one reason line" "$(printf '%s\n' "$ERR" | grep -c '^mcp-client:')" 1

    run "$@" tools call echo
    eq "$l missing argument exit" "$RC" 1
    has "$l missing argument reason" "$ERR" "mcp-client: tools/call:"

    run "$@" tools call test_image_content
    has "$l image summary" "$OUT" "[image image/png"

    run "$@" resources list
    has "$l resources list" "$OUT" "test://static-text"
    has "$l resource templates" "$OUT" "test://template/{id}/data"

    run "$@" resources read test://static-text
    eq "$l read text" "$OUT" "This is the content of the static text resource."
    run "$@" resources read test://static-binary
    has "$l read blob summary" "$OUT" "[blob test://static-binary image/png"
    run "$@" --json resources read test://template/123/data
    has "$l read template" "$(printf '%s' "$OUT" | jq -r '.contents[0].text')" "123"
    run "$@" resources read test://nope
    eq "$l unknown resource exit" "$RC" 1

    run "$@" prompts list
    has "$l prompts list" "$OUT" "test_prompt_with_arguments"
    run "$@" prompts get test_prompt_with_arguments arg1=first arg2=second
    has "$l prompt with args" "$OUT" "arg1='first', arg2='second'"
    run "$@" --json prompts get test_simple_prompt
    eq "$l prompt --json" "$(printf '%s' "$OUT" | jq -r '.messages[0].role')" user
}

# --- Streamable HTTP, stateful and stateless -----------------------------------------------------
start_server stateful
exercise "http" --url "$URL"
STATEFUL=$URL
start_server stateless --stateless
exercise "http-stateless" --url "$URL"

# --- stdio --------------------------------------------------------------------------------------
exercise "stdio" --stdio "$MCP_BIN/mcp-conformance-server --stdio"

# --- stdio at 2026-07-28: stateless, the version in each request's _meta, no initialize ----------
exercise "stdio-2026" --protocol 2026-07-28 \
    --stdio "tee -a $TMP/stdio26.in | $MCP_BIN/mcp-conformance-server --stdio"
has "stdio-2026 calls carry the 2026 _meta" \
    "$(grep '"method":"tools/call"' "$TMP/stdio26.in" | head -1)" \
    '"io.modelcontextprotocol/protocolVersion":"2026-07-28"'
eq "stdio-2026 never initializes" "$(grep -c '"method":"initialize"' "$TMP/stdio26.in")" 0

# --- failures: one line on stderr, the documented exit codes -------------------------------------
run ping
eq "no transport: usage" "$RC" 2
has "usage reason" "$ERR" "give exactly one of --url or --stdio"
run --url "$STATEFUL" --stdio true ping
eq "two transports: usage" "$RC" 2
run --url "$STATEFUL" frobnicate
eq "unknown command: usage" "$RC" 2
run --url "$STATEFUL" tools call
eq "tools call without name: usage" "$RC" 2
run --url "$STATEFUL" tools call echo notakeyvalue
eq "bad key=value: usage" "$RC" 2
run --url "$STATEFUL" --client-id x ping
eq "OAuth flag without --oauth: usage" "$RC" 2
run --url "$STATEFUL" --allow-internal-as ping
eq "--allow-internal-as without --oauth: usage" "$RC" 2
run --url "$STATEFUL" --timeout abc ping
eq "bad --timeout: usage" "$RC" 2
run --url "$STATEFUL" --token-file "$TMP/does-not-exist" ping
eq "missing token file: I/O error (docs/cli/exit-status.md)" "$RC" 1

# a port nothing listens on
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0));
print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 9)
run --url "http://127.0.0.1:$PORT/mcp" ping
eq "unreachable exit" "$RC" 1
has "unreachable reason" "$ERR" "mcp-client: connect: cannot reach"
eq "unreachable: one line" "$(printf '%s\n' "$ERR" | wc -l)" 1

run --stdio "exit 7" ping
eq "dead stdio server exit" "$RC" 1
has "dead stdio server reason" "$ERR" "exited with status 7"
run --stdio "echo not-json; sleep 5" ping
eq "stdio garbage exit" "$RC" 1
has "stdio garbage reason" "$ERR" "not JSON-RPC"

# the static token reaches the server (it ignores it without --auth) and is never echoed
run --url "$STATEFUL" --token "s3cr3t-token-value" ping
eq "token accepted by an open server" "$RC" 0
MCP_TOKEN=s3cr3t-env-token run --url "http://127.0.0.1:$PORT/mcp" -v ping
case "$ERR" in *s3cr3t*) bad "the token leaked into stderr" ;; *) ok ;; esac

summary
