-- wrk script: POST one fault, keep-alive, to a page that is already present
-- (its PTE allows the access, so the answer is "fault": false).
-- Usage: wrk ... http://HOST:PORT/v1/sessions/SID/processes/PID/faults -- ADDRESS
function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"address":"' .. (args[1] or "0x7f0000000000") .. '","access":"read"}'
end
