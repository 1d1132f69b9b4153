-- wrk script for OFREP single evaluation, the cross-check of ofrepload:
-- POST /ofrep/v1/evaluate/flags/{key} with {"context":{"targetingKey":"user-N"}},
-- request i asking flag PREFIX(i % OFREP_FLAGS) for user-(i % OFREP_USERS),
-- exactly as ofrepload does. Requests are encoded once, in init.
--
--   RAMP_SDK_TOKEN=ramp_sdk_... OFREP_FLAGS=100 OFREP_USERS=10000 \
--     wrk -t2 -c64 -d10s --latency -s bench/ofrepload/wrk.lua http://127.0.0.1:PORT
--
-- Environment: RAMP_SDK_TOKEN (required), OFREP_FLAGS (100), OFREP_USERS (10000),
-- OFREP_PREFIX ("bench-"), OFREP_QUERY (appended to the path, for example
-- "?environment=production" with an admin token in RAMP_SDK_TOKEN).

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local reqs = {}
local n = 0
local i = 0

function init(args)
  local token = os.getenv("RAMP_SDK_TOKEN")
  if token == nil or token == "" then
    error("set RAMP_SDK_TOKEN to an SDK token")
  end
  local flags = tonumber(os.getenv("OFREP_FLAGS") or "100")
  n = tonumber(os.getenv("OFREP_USERS") or "10000")
  local prefix = os.getenv("OFREP_PREFIX") or "bench-"
  local query = os.getenv("OFREP_QUERY") or ""
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
  for u = 0, n - 1 do
    local body = '{"context":{"targetingKey":"user-' .. u .. '"}}'
    reqs[u] = wrk.format("POST", "/ofrep/v1/evaluate/flags/" .. prefix .. (u % flags) .. query, headers, body)
  end
  i = ((tid or 0) * 7919) % n
end

function request()
  local r = reqs[i]
  i = i + 1
  if i == n then
    i = 0
  end
  return r
end
