-- wrk script: POST one fault per request, keep-alive, each to the next page
-- of a large anonymous VMA, so every request takes a real fault
-- (do_anonymous_page). Each wrk thread walks its own slice of the VMA.
-- The first PRECOMPUTED requests of each thread are formatted in init():
-- wrk shares the machine's cores with the server, and formatting a request
-- in Lua on every call would take CPU time from the server being measured.
-- Usage: wrk ... http://HOST:PORT/v1/sessions/SID/processes/PID/faults -- BASE PAGES_PER_THREAD [ACCESS [PRECOMPUTED]]
local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end

local base, span, access, n = 0, 0, "write", 0
local ready, count = {}, 0

local function format(k)
   local page = tid * span + (k % span)
   -- addresses as JSON integers: exact in a double below 2^53
   local body = '{"address":' .. string.format("%d", base + page * 4096) .. ',"access":"' .. access .. '"}'
   return wrk.format(nil, nil, nil, body)
end

function init(args)
   base = tonumber(args[1] or "0x7f0000000000")
   span = tonumber(args[2] or "1048576")
   access = args[3] or "write"
   count = math.min(tonumber(args[4] or "400000"), span)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   for k = 0, count - 1 do ready[k + 1] = format(k) end
end

function request()
   local k = n
   n = n + 1
   if k < count then return ready[k + 1] end
   return format(k)
end
