-- wrk script for bench/run.sh: POST the same JPEG over and over.
-- Environment: UPLOAD_FILE (path of the JPEG), UPLOAD_KEY (API key with image:create).
local path = os.getenv("UPLOAD_FILE")
local key = os.getenv("UPLOAD_KEY")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "image/jpeg"

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
   io.write(string.format("PCTL_US p50=%d p90=%d p99=%d\n",
      latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
