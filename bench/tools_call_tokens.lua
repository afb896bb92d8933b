-- wrk script for the libmcp benchmark (bench/run.sh): one JSON-RPC request per HTTP POST to an MCP
-- Streamable HTTP endpoint, every response checked, with two additions over a plain tools/call
-- load: a file of bearer tokens rotated per request (fresh-token runs), and methods/statuses other
-- than "tools/call answered 2xx" (RBAC runs: a denied tool, a filtered tools/list).
--
--   TOKENS_FILE=tokens.txt wrk -t2 -c50 -d10s -s bench/tools_call_tokens.lua http://127.0.0.1:18480/mcp
--
-- Env (all optional):
--   TOKENS_FILE    file with one bearer token per line; each request takes the next one. Thread k
--                  (1-based) of BENCH_THREADS starts at line k and steps by BENCH_THREADS, so the
--                  threads together walk the file in order and repeat it only after every line
--                  was sent once. Wins over TOKEN.
--   BENCH_THREADS  wrk's -t value (default 1), for the stride above
--   TOKEN          one bearer token for every request
--   SESSION        Mcp-Session-Id to send (stateful servers)
--   METHOD         JSON-RPC method (default tools/call); for anything but tools/call PARAMS is sent
--   TOOL, ARGS     tools/call name and arguments JSON (default echo, {"text":"hello"})
--   PARAMS         params JSON for other methods (default {})
--   EXPECT         substring every counted response body must contain (default "echo: hello";
--                  empty = no body check)
--   REJECT         substring no response body may contain (default: none)
--   EXPECT_STATUS  HTTP status every response must have (default: any 2xx)
-- Prints one line, the same keys as the peer's tools_call.lua plus `rotated`:
--   RESULT rps=.. p50_ms=.. p99_ms=.. requests=.. non2xx=.. bad_body=.. sock_err=.. timeouts=.. rotated=..
-- non2xx counts responses whose status is not the expected one (any 2xx unless EXPECT_STATUS);
-- bad_body counts responses with the expected status whose body fails EXPECT/REJECT.
-- Every request carries a unique JSON-RPC id (thread * 1e9 + n).

local all_threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(all_threads, thread)
end

local function env(name, default)
  local v = os.getenv(name)
  if v == nil then return default end
  return v
end

function init(args)
  n = 0
  non2xx = 0
  bad_body = 0
  want_body = env("EXPECT", "echo: hello")
  reject_body = env("REJECT", "")
  want_status = tonumber(env("EXPECT_STATUS", ""))
  method = env("METHOD", "tools/call")
  if method == "tools/call" then
    params = string.format('{"name":"%s","arguments":%s}', env("TOOL", "echo"),
                           env("ARGS", '{"text":"hello"}'))
  else
    params = env("PARAMS", "{}")
  end
  hdrs = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-06-18",
  }
  local session = env("SESSION", "")
  if session ~= "" then hdrs["Mcp-Session-Id"] = session end

  tokens = nil
  local path = env("TOKENS_FILE", "")
  if path ~= "" then
    tokens = {}
    local f = assert(io.open(path, "r"), "TOKENS_FILE: cannot open " .. path)
    for line in f:lines() do
      if line ~= "" then tokens[#tokens + 1] = "Bearer " .. line end
    end
    f:close()
    assert(#tokens > 0, "TOKENS_FILE: no tokens in " .. path)
    stride = tonumber(env("BENCH_THREADS", "1")) or 1
    if stride < 1 then stride = 1 end
    pos = (tid - 1) % #tokens -- 0-based
    rotating = 1
  else
    rotating = 0
    local token = env("TOKEN", "")
    if token ~= "" then hdrs["Authorization"] = "Bearer " .. token end
  end
end

function request()
  n = n + 1
  if tokens then
    hdrs["Authorization"] = tokens[pos + 1]
    pos = (pos + stride) % #tokens
  end
  local body = string.format('{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}',
                             tid * 1000000000 + n, method, params)
  return wrk.format("POST", nil, hdrs, body)
end

function response(status, headers, body)
  local status_ok
  if want_status then status_ok = (status == want_status) else status_ok = (status >= 200 and status < 300) end
  if not status_ok then
    non2xx = non2xx + 1
  elseif (want_body ~= "" and not string.find(body, want_body, 1, true)) or
         (reject_body ~= "" and string.find(body, reject_body, 1, true)) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local bad_status, bad = 0, 0
  local rotated = 0
  for _, t in ipairs(all_threads) do
    bad_status = bad_status + (t:get("non2xx") or 0)
    bad = bad + (t:get("bad_body") or 0)
    if (t:get("rotating") or 0) == 1 then rotated = 1 end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d bad_body=%d sock_err=%d timeouts=%d rotated=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, bad_status, bad, e.connect + e.read + e.write, e.timeout, rotated))
end
