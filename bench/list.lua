-- wrk script for bench/scaleout.sh: GET one list URL (GET /api/v1/account/items?...) over and over with an API key.
-- Environment: LIST_KEY (API key with image:read).
-- done() prints the response statuses and the latency percentiles wrk measured, in microseconds:
--   STATUSES 200=1234
--   PCTL_US p50=... p90=... p95=... p99=... max=...
local key = assert(os.getenv("LIST_KEY"), "LIST_KEY is not set")
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Accept"] = "application/json"

local threads = {}
function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local all = {}
   for _, t in ipairs(threads) do
      for status, n in pairs(t:get("statuses")) do
         all[status] = (all[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(all) do
      table.insert(parts, status .. "=" .. n)
   end
   table.sort(parts)
   io.write("STATUSES ", table.concat(parts, " "), "\n")
   io.write(string.format("PCTL_US p50=%d p90=%d p95=%d p99=%d max=%d\n",
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end
