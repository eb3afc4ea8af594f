-- 6.16 stats queue date (spec 9), and 6.7 failed [group [start [limit]]].

if cmd == 'stats' then
  local queue, raw_date = ARGV[3], ARGV[4]
  if queue == nil then error('Queue(): no queue name provided') end
  local date = tonumber(raw_date)
  if date == nil then
    error('Stats(): Arg "date" missing or not a number: ' .. tostring(raw_date))
  end
  local suffix = (date - date % 86400) .. ':' .. queue

  -- One of the wait/run objects: count, mean, sample std and the 148-slot
  -- histogram s0..s59, m1..m59, h1..h23, d1..d6.
  local function summary(kind)
    local flat = call('hgetall', 'ql:s:' .. kind .. ':' .. suffix)
    local h = {}
    for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
    local count = tonumber(h.total) or 0
    local std = 0
    if count > 1 then std = math.sqrt(tonumber(h.vk) / (count - 1)) end
    local hist = {}
    for i = 0, 59 do hist[#hist + 1] = tonumber(h['s' .. i]) or 0 end
    for i = 1, 59 do hist[#hist + 1] = tonumber(h['m' .. i]) or 0 end
    for i = 1, 23 do hist[#hist + 1] = tonumber(h['h' .. i]) or 0 end
    for i = 1, 6 do hist[#hist + 1] = tonumber(h['d' .. i]) or 0 end
    return '{"count":' .. encode(count) .. ',"mean":' .. encode(tonumber(h.mean) or 0)
      .. ',"std":' .. encode(std) .. ',"histogram":' .. encode(hist) .. '}'
  end

  local c = call('hmget', 'ql:s:stats:' .. suffix, 'retries', 'failed', 'failures')
  return '{"retries":' .. encode(tonumber(c[1]) or 0)
    .. ',"failed":' .. encode(tonumber(c[2]) or 0)
    .. ',"failures":' .. encode(tonumber(c[3]) or 0)
    .. ',"wait":' .. summary('wait')
    .. ',"run":' .. summary('run')
    .. '}'
end

if cmd == 'failed' then
  local group, raw_start, raw_limit = ARGV[3], ARGV[4], ARGV[5]
  local start = tonumber(raw_start or 0)
  if start == nil then error('Failed(): Arg "start" is not a number: ' .. tostring(raw_start)) end
  local limit = tonumber(raw_limit or 25)
  if limit == nil then error('Failed(): Arg "limit" is not a number: ' .. tostring(raw_limit)) end
  if group == nil then
    local groups = call('smembers', 'ql:failures')
    if #groups == 0 then return '{}' end
    local out = {}
    for i, g in ipairs(groups) do
      out[i] = encode(g) .. ':' .. call('llen', 'ql:f:' .. g)
    end
    return '{' .. concat(out, ',') .. '}'
  end
  local fkey = 'ql:f:' .. group
  return '{"total":' .. call('llen', fkey) .. ',"jobs":'
    .. encode(call('lrange', fkey, start, start + limit - 1)) .. '}'
end
