-- wrk script: POST one fault per request, keep-alive, each to the next page
-- of a large anonymous VMA, so every request takes a real fault
-- (do_anonymous_page). Each wrk thread walks its own slice of the VMA.
-- Usage: wrk ... http://HOST:PORT/v1/sessions/SID/processes/PID/faults -- BASE PAGES_PER_THREAD [ACCESS]
local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end

local base, span, access, n = 0, 0, "write", 0
function init(args)
   base = tonumber(args[1] or "0x7f0000000000")
   span = tonumber(args[2] or "1048576")
   access = args[3] or "write"
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local page = tid * span + (n % span)
   n = n + 1
   -- addresses as JSON integers: exact in a double below 2^53
   local body = '{"address":' .. string.format("%d", base + page * 4096) .. ',"access":"' .. access .. '"}'
   return wrk.format(nil, nil, nil, body)
end
