-- 1.1 entry: no keys, a known command name, then `now`.
-- (In the library form this is the start of the registered function, whose
-- arguments are named KEYS and ARGV too.)
local KEYS, ARGV = KEYS, ARGV
if LIB and call == nil then
  local S, J = string, cjson
  call, encode, decode, tonumber, floor, sfmt, concat =
    redis.call, J.encode, J.decode, _G.tonumber, math.floor, S.format, table.concat
  sbyte, sfind, smatch, ssub = S.byte, S.find, S.match, S.sub
end
if #KEYS ~= 0 then error('No Keys should be provided') end
local nargs = #ARGV
cmd = ARGV[1]
if cmd == nil then error('Must provide a command') end

now = nargs >= 2 and tonumber(ARGV[2])
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
-- (tonumber also reads text cut short by a NUL byte, "5\0x", which Redis
-- would refuse.)
NOWF = ARGV[2]
if not (now > 0 and now < 1e15) or sbyte(NOWF, 1) <= 32
  or sbyte(NOWF, -1) <= 32 or sfind(NOWF, '\0', 1, true) then
  NOWF = sfmt('%.17g', now)
end

-- bin(now) (spec notation): midnight of now's day, for statistics keys, as
-- the reference writes it (a Lua number concatenated, "%.14g"); "%d" gives
-- the same text for the times that occur and is cheaper.
DAY = now - now % 86400
if now > 0 and now < 1e14 and (cmd == 'pop' or cmd == 'complete' or cmd == 'fail'
  or cmd == 'retry') then
  DAY = sfmt('%d', DAY)
end

WHEN = nil

-- NOWS, in two parts, which costs glibc less than one "%.20f" of now: with
-- now = 10k + r (k an integer, 0 <= r < 10; both parts exact), "%d" of k
-- followed by "%.20f" of r is the same text, since r has now's fraction
-- (for now >= 10, at most 1 - 2^-49: its rounding never carries into the
-- integer part). (now % 10 is a hair below 0 when now/10 rounds up to an
-- integer; such a time takes the plain format.)
NOWS = nil
if cmd == 'put' or cmd == 'requeue' or cmd == 'pop' or cmd == 'complete' then
  local r = now % 10
  if now >= 10 and now < 1e15 and r >= 0 then
    NOWS = sfmt('%d%.20f', (now - r) / 10, r)
  else
    NOWS = sfmt('%.20f', now)
  end
  -- These commands all write history: WHEN is NOWS up to its point, the
  -- digits of floor(now) (as "%d" writes it for a time in its range, see
  -- hist_push), for less than a format.
  if now > 0 and now < 1e14 then WHEN = ssub(NOWS, 1, -22) end
end
