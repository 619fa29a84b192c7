-- wrk script: GetUser with one access token, as the AWS SDKs send it.
--   TOKEN=<jwt> wrk -t2 -c16 -d20s --latency -s bench/getuser.lua http://127.0.0.1:9229/
--   TOKEN_FILE=token.txt wrk ...            (the token is read from a file instead)
-- Prints a machine-readable WRK_RESULT line at the end.

local function read_token()
  local token = os.getenv("TOKEN")
  if token and token ~= "" then
    return token
  end
  local path = os.getenv("TOKEN_FILE") or "token.txt"
  local f = io.open(path, "r")
  if not f then
    error("set TOKEN or TOKEN_FILE (cannot open " .. path .. ")")
  end
  local text = f:read("*a")
  f:close()
  return (text:gsub("%s+", ""))
end

wrk.method = "POST"
wrk.path = "/"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "AWSCognitoIdentityProviderService.GetUser"
wrk.body = '{"AccessToken":"' .. read_token() .. '"}'

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
