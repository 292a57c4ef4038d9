-- wrk script: POST a prepared ops batch (a file of JSON) to …/ops, keep-alive.
-- Usage: wrk ... http://HOST:PORT/v1/sessions/SID/ops -- BODY_FILE
function init(args)
   local f = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = f:read("*a")
   f:close()
end
