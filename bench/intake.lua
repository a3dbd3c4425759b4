-- wrk script of bench/intake.py and bench/scaling.py: each request posts a new lead.
--
--   wrk -t1 -c8 -d15s -s bench/intake.lua http://127.0.0.1:PORT -- /api/v1/leads/ FIRST STRIDE [PAUSE_MS]
--
-- Lead n of wrk thread t gets the phone +7 912 and the 7 digits of FIRST + t * STRIDE + n: a valid
-- Russian mobile number no other request uses, so the ref rule never merges two leads. At the end
-- it prints one line, "RESULT <json>": requests, answers by status, socket errors, latency (us).
-- PAUSE_MS > 0: each connection waits that long after an answer before its next request (a rough
-- fixed rate of connections * 1000 / (PAUSE_MS + latency) per second).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/api/v1/leads/"
  first = tonumber(args[2] or "0")
  stride = tonumber(args[3] or "1000000")
  pause = tonumber(args[4] or "0")
  counter = 0
  statuses = {}
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = "https://bench.example"
  wrk.headers["User-Agent"] = "leadcaller-bench/wrk"
end

function request()
  local n = first + tid * stride + counter
  counter = counter + 1
  local body = string.format('{"phone":"+7912%07d","name":"Bench %d","comment":"intake benchmark"}', n, n)
  return wrk.format("POST", path, nil, body)
end

function delay()
  return pause
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by_status, sent = {}, {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + count
    end
    table.insert(sent, string.format('"%d":%d', t:get("tid"), t:get("counter")))
  end
  local codes = {}
  for code, count in pairs(by_status) do
    table.insert(codes, string.format('"%d":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us":%d,"requests":%d,"statuses":{%s},"generated_per_thread":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.duration, summary.requests, table.concat(codes, ","), table.concat(sent, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
