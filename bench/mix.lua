-- wrk script for bench/ingest: a mix of pre-built callback requests (GenIQ GET, Hellio signed
-- JSON POST, Twilio signed form POST), optionally paced to a fixed total rate.
--
--   wrk -t T -c C -d D -s mix.lua URL -- PAYLOADS DURATION TAIL RATE THREADS
--
-- PAYLOADS  a file of raw HTTP/1.1 requests one after the other, and PAYLOADS.idx with the
--           length of each, one a line (written by bench/ingest.py). Thread t of T sends
--           requests t, t+T, t+2T... so that no request is sent twice until every one has
--           been; after that a thread starts again from its first (counted as `repeated`)
-- DURATION  seconds wrk runs (the same as -d)
-- TAIL      seconds at the end when no new request is sent, so that every request sent is
--           answered before wrk stops (then acked and stored can be compared exactly)
-- RATE      requests per second in total; 0 = as fast as the connections go (closed loop)
-- THREADS   the -t value (the rate is split between threads)
--
-- Prints one line `BENCH_JSON {...}` with counts and latency percentiles (microseconds).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")

local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

local reqs, count, index, stop_at, interval, next_slot, step, first
sent = 0
repeated = 0

local function load(path)
  local handle = assert(io.open(path, "rb"))
  local data = handle:read("*a")
  handle:close()
  local list, pos = {}, 1
  for line in io.lines(path .. ".idx") do
    local n = tonumber(line)
    list[#list + 1] = data:sub(pos, pos + n - 1)
    pos = pos + n
  end
  return list
end

function init(args)
  reqs = load(args[1])
  count = #reqs
  local duration = tonumber(args[2]) * 1000
  local tail = tonumber(args[3]) * 1000
  local rate = tonumber(args[4])
  local nthreads = tonumber(args[5])
  step = nthreads
  first = (tid or 1)
  index = first - step
  local start = now_ms()
  stop_at = start + duration - tail
  interval = 0
  if rate > 0 then
    interval = 1000 * nthreads / rate
  end
  next_slot = start
end

-- wrk asks before every request how many milliseconds to wait: a shared schedule per thread
-- (one slot every `interval` ms) makes the rate independent of the latency
function delay()
  local t = now_ms()
  if t >= stop_at then
    return 3600000
  end
  if interval == 0 then
    return 0
  end
  next_slot = math.max(t, next_slot + interval)
  if next_slot >= stop_at then
    return 3600000
  end
  return next_slot - t
end

function request()
  sent = sent + 1
  index = index + step
  if index > count then
    index = first
  end
  if sent > math.floor((count - first) / step) + 1 then
    repeated = repeated + 1
  end
  return reqs[index]
end

function done(summary, latency, requests)
  -- wrk calls request() once more on the first thread to check the script (not sent)
  local total_sent = -1
  local total_repeated = 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_repeated = total_repeated + thread:get("repeated")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"sent": %d, "repeated": %d, "answered": %d, "duration_us": %d, "non2xx": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    total_sent, total_repeated, summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
