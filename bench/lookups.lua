-- wrk script: point lookups of keys `bench/seed.rs` created (random, so the cache is exercised).
-- Usage: wrk -s bench/lookups.lua ... http://HOST:PORT  (KIND=ip|number IPS=.. NUMBERS=.. in env)
local kind = os.getenv("KIND") or "ip"
local ips = tonumber(os.getenv("IPS") or "50000")
local numbers = tonumber(os.getenv("NUMBERS") or "250000")

request = function()
  if kind == "ip" then
    local i = math.random(0, ips - 1)
    local path = string.format("/ip-addresses/198.%d.%d.%d", 18 + math.floor(i / 65536), math.floor(i / 256) % 256, i % 256)
    return wrk.format(nil, path)
  end
  local j = math.random(0, numbers - 1)
  return wrk.format(nil, string.format("/numbers/00%d", 4600000000 + j))
end

-- Any status but 200 is a failed lookup: count them so the report shows it.
local failed = 0
response = function(status, headers, body)
  if status ~= 200 then failed = failed + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT kind=%s requests_per_s=%.0f p50_ms=%.3f p99_ms=%.3f non_200=%d errors=%d\n",
    kind, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, failed, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
