-- wrk script: POST a generation request (prompt + the 25-point coaster trajectory, about 1 KB).
-- The API key comes from the TORA_KEY environment variable (empty for the bare endpoint).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("TORA_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = [=[{"prompt":"A red roller coaster car races along a winding track through a sunny amusement park, seen from the side, bright daylight, cinematic.","trajectories":[{"points":[[40,208],[40,148],[40,100],[52,58],[60,57],[74,68],[78,90],[84,123],[88,148],[96,168],[100,181],[102,188],[105,192],[113,118],[119,80],[128,68],[145,109],[149,155],[157,175],[161,184],[164,184],[172,166],[183,107],[189,84],[198,76]],"space":"canvas256"}],"seed":42,"metadata":{"user":"bench"}}]=]

local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT req/s=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
