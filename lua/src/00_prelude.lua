-- qless server script of qless-router, written from spec/qless-protocol.md
-- (the "spec"; section numbers below refer to it).
--
-- The files lua/src/*.lua are assembled in file-name order (lua/lua.go):
--   00 prelude: names and constants; 01 entry: per-call checks and state;
--   02-09 shared helpers; 10-89 commands; 90 the final fall-through.
-- As a script (EVAL/EVALSHA) they form ONE chunk that Redis runs on every
-- call, so per-call setup is what every command pays for:
--   * command bodies are top-level `if cmd == '<name>' then ... return end`
--     blocks, so no closure is created for the commands not run;
--   * shared helpers are created only when the running command needs them
--     (`if LIB or cmd == ... then helper = function ... end`);
--   * everything is `local`: Redis 7 forbids globals and writes to built-in
--     tables such as `table` or `string`.
-- Where a job's cost goes (put, pop, heartbeat, complete with 8 jobs in
-- flight; Redis 7.0.15 under callgrind: ~722k instructions inside EVALSHA
-- per job): over half in its 38 redis.call (each converts its arguments
-- and reply, ~3.5k; a ZADD into a small listpack sorted set ~12k, as Redis
-- prints the score with "%.17g" and re-reads its neighbours' with strtod;
-- HMGET ~2.5k per field), ~10% fixed per call (the ARGV table, the Lua GC
-- step Redis runs every 50 scripts), ~5% string.format, the rest Lua. A call
-- or a field spared counts more than Lua statements: reads needed only when
-- a key exists are gated by one EXISTS that names each key 1, 2, 4 or 8
-- times, so that its count is a bit mask (pop, complete). Among Lua costs:
-- a string.format ~1.8k ("%d") to ~7k ("%.20f"), any C function call
-- ~0.4k, a concatenation ~1k, a closure ~1k (with its share of the GC), a
-- global or table lookup ~0.1-0.2k (paid by every call in this prelude).
-- As a Redis 7 function library (FUNCTION LOAD, FCALL qless 0 <argv...>) the
-- prelude and helpers run once at load (LIB is true there) and the entry
-- and commands form the body of the registered function.
-- Errors are raised with error(msg) (level 1), which Redis 7 reports as
-- "ERR user_script:<line>: <msg> script: <sha>, on @user_script:<line>." (1.4).
-- Errors are not atomic (1.4): effects made before a failing check stay, and
-- the commands below keep the reference order of effects and checks.

-- true only in the function-library form (lua.Library()).
local LIB = false

-- Library names, bound here for a script and on the first call in a
-- function library (which cannot see them while it loads). Each binding
-- costs every call a lookup, so error, tostring, ipairs and unpack, used on
-- error paths and in rare loops, are read as globals where they are used.
local call, encode, decode, tonumber, floor, sfmt, concat
local sbyte, sfind, smatch, ssub
if not LIB then
  local S, J = string, cjson
  call, encode, decode, tonumber, floor, sfmt, concat =
    redis.call, J.encode, J.decode, _G.tonumber, math.floor, S.format, table.concat
  sbyte, sfind, smatch, ssub = S.byte, S.find, S.match, S.sub
end

-- The default of every option that has one (3). Options without a default
-- in the table use the caller's fallback (max-worker-age 86400,
-- max-job-history 100, <queue>-max-concurrency 0).
local DEF_HEARTBEAT, DEF_GRACE = 60, 10
local DEF_JOBS_HISTORY, DEF_JOBS_HISTORY_COUNT = 604800, 50000
local DEF_MAX_JOB_HISTORY, DEF_MAX_WORKER_AGE = 100, 86400

-- Per-call state, set by the entry (01_entry.lua):
--   cmd   the command name (ARGV[1]); now: the time (ARGV[2]) as a number;
--   NOWF  now as a redis.call argument; DAY: bin(now) for statistics keys;
--   WHEN  floor(now) as JSON, the `when` of history entries (on first use);
--   NOWS  now as "%.20f" text, the `time` that put, pop and complete write.
local cmd, now, NOWF, DAY, WHEN, NOWS
