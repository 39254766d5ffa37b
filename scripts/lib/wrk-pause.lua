-- wrk script for `scripts/bench api`: each connection waits WRK_PAUSE_MS (default 2) after an
-- answer before it sends its next request, so 64 connections offer a fixed load (about 16k
-- requests/s here) instead of as much as the daemon can take. Latency is then measured at a
-- given rate, as a target like "p99 5 ms at 15k req/s" is stated. The connections start in step
-- and stay so, sending in bursts of up to 64: a harder load than evenly spread arrivals.
local pause = tonumber(os.getenv("WRK_PAUSE_MS") or "2")
function delay() return pause end
