-- wrk script for the crmapi bench.
--   AUTH:  value of the Authorization header (optional; Datasette needs none)
--   WRITE: "1" to POST a note / call mix instead of GETting the URL
--   LEAD:  lead id for the write mix
-- done() prints one JSON line that bench/run.py parses.

local auth = os.getenv("AUTH")
local write = os.getenv("WRITE") == "1"
local lead = os.getenv("LEAD") or ""
local requests_ = {}
local counter = 0

function init(args)
  local headers = {}
  if auth and auth ~= "" then headers["Authorization"] = auth end
  if write then
    headers["Content-Type"] = "application/json"
    local note = '{"lead_id":"' .. lead .. '","note":"Bench note: called back, wants pricing."}'
    local call = '{"lead_id":"' .. lead .. '","direction":"outbound","duration":60,' ..
                 '"phone":"+14155550123","note":"Bench call"}'
    requests_[1] = wrk.format("POST", "/api/v1/activity/note/", headers, note)
    requests_[2] = wrk.format("POST", "/api/v1/activity/call/", headers, call)
  else
    requests_[1] = wrk.format("GET", nil, headers, nil)
  end
end

function request()
  counter = counter + 1
  return requests_[(counter % #requests_) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
