-- Signed inbound webhooks for wrk, each one distinct (its own MessageSid and texter).
-- wrk -s bench/webhook.lua URL -- FILE THREADS
-- FILE holds one request a line: "<X-Twilio-Signature> <form body>". Each wrk thread takes
-- every THREADS-th line. BENCH_MEAN_DELAY_MS, when set, makes each connection wait a random
-- (exponential) pause before each request: arrivals at a chosen rate instead of flat out.

local requests = {}
local counter = 0
local threads = 0

function setup(thread)
   thread:set("offset", threads)
   threads = threads + 1
end

function init(args)
   local stride = tonumber(args[2])
   local index = 0
   for line in io.lines(args[1]) do
      if index % stride == offset then
         local signature, body = line:match("^(%S+) (.*)$")
         requests[#requests + 1] = wrk.format("POST", nil, {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["X-Twilio-Signature"] = signature,
         }, body)
      end
      index = index + 1
   end
end

function request()
   counter = counter + 1
   return requests[((counter - 1) % #requests) + 1]
end

local mean_delay = tonumber(os.getenv("BENCH_MEAN_DELAY_MS") or "0")
if mean_delay > 0 then
   math.randomseed(os.time())
   function delay()
      return math.floor(-mean_delay * math.log(1 - math.random()))
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
         .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, '
         .. '"p99_us": %d, "max_us": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
