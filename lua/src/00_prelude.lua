-- qless server script of qless-router, written from spec/qless-protocol.md
-- (the "spec"; section numbers below refer to it).
--
-- The files lua/src/*.lua are concatenated in file-name order into ONE chunk.
-- Redis runs that whole chunk on every EVALSHA, so per-call setup is what we
-- pay for on every command:
--   * command bodies are top-level `if cmd == '<name>' then ... return end`
--     blocks (10_* .. 70_*), so no closure is created for commands not run;
--   * shared helpers (01_* .. 05_*) are created only when the running command
--     needs them (`if cmd == ... then helper = function ... end`);
--   * everything is `local`: Redis 7 forbids globals and writes to built-in
--     tables such as `table` or `string`.
-- Errors are raised with error(msg) (level 1), which Redis 7 reports as
-- "ERR user_script:<line>: <msg> script: <sha>, on @user_script:<line>." (1.4).
-- Errors are not atomic (1.4): effects made before a failing check stay, and
-- the commands below keep the reference order of effects and checks.

local call = redis.call
local encode, decode = cjson.encode, cjson.decode
local tonumber, tostring, error, ipairs = tonumber, tostring, error, ipairs
local floor = math.floor
local sfmt, concat = string.format, table.concat

-- 1.1: no keys, a known command name, then `now`.
if #KEYS ~= 0 then error('No Keys should be provided') end
local ARGV = ARGV
local nargs = #ARGV
local cmd = ARGV[1]
if cmd == nil then error('Must provide a command') end

local now = nargs >= 2 and tonumber(ARGV[2])
if not now then
  -- An unknown command is reported before a bad time. On the normal path
  -- an unknown name falls through every block to 90_dispatch.lua instead.
  local names = ' get multiget config.get config.set config.unset queues complete failed fail jobs retry depends heartbeat workers track tag stats priority log peek pop pause unpause cancel timeout put requeue unfail recur unrecur recur.get recur.update recur.tag recur.untag length worker.deregister queue.forget '
  if string.find(cmd, ' ', 1, true) or not string.find(names, ' ' .. cmd .. ' ', 1, true) then
    error('Unknown command ' .. cmd)
  end
  -- tonumber() with no argument raises the reference's error for a missing
  -- time; a present non-number gets the literal "nil".
  if nargs < 2 then tonumber() end
  error('Arg "now" missing or not a number: nil')
end

-- now as a redis.call argument. Redis reads a score with strtod, as Lua's
-- tonumber did, so the client's text stands for exactly the same double;
-- Redis only refuses what tonumber accepts when the text has whitespace at
-- either end or the value is out of range (zero, infinite or nan), and such
-- a time is formatted as Redis would format the number (%.17g). This saves
-- a number-to-text conversion at every call that passes the time.
local NOWF = ARGV[2]
if not (now > 0 and now < 1e15) or string.byte(NOWF, 1) <= 32
  or string.byte(NOWF, -1) <= 32 then
  NOWF = sfmt('%.17g', now)
end

-- bin(now) (spec notation): midnight of now's day, for statistics keys, as
-- the reference writes it (a Lua number concatenated, "%.14g"); "%d" gives
-- the same text for the times that occur and is cheaper.
local DAY = now - now % 86400
if now > 0 and now < 1e14 and (cmd == 'pop' or cmd == 'complete' or cmd == 'fail'
  or cmd == 'retry') then
  DAY = sfmt('%d', DAY)
end

-- The default of every option that has one (3). Options without a default
-- in the table use the caller's fallback (max-worker-age 86400,
-- max-job-history 100, <queue>-max-concurrency 0).
local DEF_HEARTBEAT, DEF_GRACE = 60, 10
local DEF_JOBS_HISTORY, DEF_JOBS_HISTORY_COUNT = 604800, 50000
local DEF_MAX_JOB_HISTORY, DEF_MAX_WORKER_AGE = 100, 86400
