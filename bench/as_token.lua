-- wrk script for bench/as_token.sh: the token endpoint's client_credentials grant, one form POST
-- per request with client_secret_basic, every answer checked (200 and an access_token).
--
--   CLIENT_ID=robot CLIENT_SECRET=... wrk -t2 -c16 -d10s -s bench/as_token.lua http://127.0.0.1:PORT/token
--
-- Env: CLIENT_ID, CLIENT_SECRET (required), RESOURCE (optional `resource` parameter).
-- Prints: RESULT rps=.. p50_ms=.. p99_ms=.. requests=.. non2xx=.. bad_body=.. sock_err=.. timeouts=..

local threads = {}

local function b64(s)
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return a:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local id, secret = os.getenv("CLIENT_ID"), os.getenv("CLIENT_SECRET")
  if id == nil or secret == nil then
    error("CLIENT_ID and CLIENT_SECRET are required")
  end
  local body = "grant_type=client_credentials"
  local res = os.getenv("RESOURCE")
  if res ~= nil and res ~= "" then
    body = body .. "&resource=" .. res:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", c:byte())
    end)
  end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. b64(id .. ":" .. secret)
  non2xx, bad_body = 0, 0
end

function response(status, headers, body)
  if status ~= 200 then
    non2xx = non2xx + 1
  elseif not body:find('"access_token"', 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local n2, bb = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    bb = bb + (t:get("bad_body") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d bad_body=%d sock_err=%d timeouts=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, n2, bb,
    e.connect + e.read + e.write, e.timeout))
end
