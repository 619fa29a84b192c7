-- wrk script: the client_credentials grant at a pool's token endpoint.
--   M2M_FILE=m2m.txt wrk -t2 -c16 -d20s --latency -s bench/client-credentials.lua http://127.0.0.1:9229/
-- M2M_FILE (from `tessera-bench m2m-client`) holds the token path and the Basic header.
-- Prints a machine-readable WRK_RESULT line at the end.

local f = assert(io.open(os.getenv("M2M_FILE") or "m2m.txt", "r"))
local path = f:read("*l")
local basic = f:read("*l")
f:close()

wrk.method = "POST"
wrk.path = path
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = basic
wrk.body = "grant_type=client_credentials"

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
