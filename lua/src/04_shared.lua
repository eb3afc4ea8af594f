-- Shared procedures of spec 5, each created only for the commands using it.

-- stat(queue, kind, v): record value v in ql:s:<kind>:<bin(now)>:<queue>
-- (9: Welford update of total/mean/vk plus one histogram counter).
local stat
if LIB or cmd == 'pop' or cmd == 'complete' then
  -- The histogram's field names s0..s59, m1..m59 and h1..h23 are cut out
  -- of these texts (a string.sub costs less than a string.format).
  local SECS = 's0s1s2s3s4s5s6s7s8s9s10s11s12s13s14s15s16s17s18s19s20s21s22s23s24s25s26s27s28s29s30s31s32s33s34s35s36s37s38s39s40s41s42s43s44s45s46s47s48s49s50s51s52s53s54s55s56s57s58s59'
  local MINS = 'm1m2m3m4m5m6m7m8m9m10m11m12m13m14m15m16m17m18m19m20m21m22m23m24m25m26m27m28m29m30m31m32m33m34m35m36m37m38m39m40m41m42m43m44m45m46m47m48m49m50m51m52m53m54m55m56m57m58m59'
  local HOURS = 'h1h2h3h4h5h6h7h8h9h10h11h12h13h14h15h16h17h18h19h20h21h22h23'
  stat = function(queue, kind, v)
    local key = 'ql:s:' .. kind .. ':' .. DAY .. ':' .. queue
    local fv = floor(v)
    local bucket
    if fv < 60 then
      if fv >= 10 then
        bucket = ssub(SECS, 3 * fv - 9, 3 * fv - 7)
      elseif fv >= 0 then
        bucket = ssub(SECS, 2 * fv + 1, 2 * fv + 2)
      -- (negative values make fields such as "s-5", never reported)
      elseif fv > -1e15 then
        bucket = sfmt('s%d', fv)
      else
        bucket = 's' .. fv
      end
    elseif fv < 3600 then
      local k = floor(fv / 60)
      if k >= 10 then bucket = ssub(MINS, 3 * k - 11, 3 * k - 9)
      else bucket = ssub(MINS, 2 * k - 1, 2 * k) end
    elseif fv < 86400 then
      local k = floor(fv / 3600)
      if k >= 10 then bucket = ssub(HOURS, 3 * k - 11, 3 * k - 9)
      else bucket = ssub(HOURS, 2 * k - 1, 2 * k) end
    elseif fv < 1e15 then
      bucket = sfmt('d%d', floor(fv / 86400))
    else
      bucket = 'd' .. floor(fv / 86400)
    end
    local r = call('hmget', key, 'total', 'mean', 'vk', bucket)
    local total, mean, vk
    -- (stored numbers are read with arithmetic coercion: one strtod each,
    -- where tonumber() would parse twice)
    if r[1] then
      total = r[1] + 1
      local old = r[2] + 0
      mean = old + (v - old) / total
      vk = r[3] + (v - mean) * (v - old)
    else
      total, mean, vk = 1, v, 0
    end
    -- Integers as "%d" text: what Redis would write, for less work.
    call('hset', key, 'total', sfmt('%d', total), 'mean', mean, 'vk', vk,
      bucket, sfmt('%d', (r[4] or 0) + 1))
  end
end

-- check_scheduled(queue, n): move up to n due jobs (score in [0, now]) from
-- -scheduled to -work, re-scored with the current now (5). n < 0 means all.
local check_scheduled
if LIB or cmd == 'pop' or cmd == 'peek' or cmd == 'queues' or cmd == 'jobs' then
  check_scheduled = function(queue, n)
    if n == 0 then return end
    local qk = 'ql:q:' .. queue
    local ready = call('zrangebyscore', qk .. '-scheduled', '0', NOWF, 'LIMIT', '0', n)
    for i = 1, #ready do
      local jid = ready[i]
      local key = 'ql:j:' .. jid
      local pri = tonumber(call('hget', key, 'priority') or 0)
      call('zadd', qk .. '-work', pri - now / 1e10, jid)
      call('zrem', qk .. '-scheduled', jid)
      call('hset', key, 'state', 'waiting')
    end
  end
end

-- check_recurring(queue, n): spawn up to n due instances of the queue's
-- recurring templates (8). The n slots are shared by all templates.
local check_recurring
if LIB or cmd == 'pop' or cmd == 'peek' then
  check_recurring = function(queue, n)
    if n <= 0 then return end
    local qk = 'ql:q:' .. queue
    local rk = qk .. '-recur'
    local due = call('zrangebyscore', rk, '0', NOWF, 'WITHSCORES', 'LIMIT', '0', n)
    local made = 0
    local eq = encode(queue)
    for i = 1, #due, 2 do
      if made >= n then break end
      local rjid = due[i]
      local tkey = 'ql:r:' .. rjid
      local r = call('hmget', tkey, 'klass', 'data', 'priority', 'tags', 'retries', 'interval', 'backlog')
      local interval = tonumber(r[6])
      local backlog = tonumber(r[7] or 0)
      local pri = tonumber(r[3]) or 0
      local score = floor(tonumber(due[i + 1]))
      if backlog ~= 0 then
        -- Skip missed instances beyond the backlog.
        local k = (now - score) / interval
        if k > backlog then score = score + math.ceil(k - backlog) * interval end
      end
      local tags
      while score <= now and made < n do
        local child = rjid .. '-' .. call('hincrby', tkey, 'count', '1')
        tags = tags or decode(r[4])
        for _, t in ipairs(tags) do
          call('zadd', 'ql:t:' .. t, NOWF, child)
          call('zincrby', 'ql:tags', '1', t)
        end
        call('hset', 'ql:j:' .. child, 'jid', child, 'klass', r[1], 'data', r[2],
          'priority', r[3], 'tags', r[4], 'state', 'waiting', 'worker', '',
          'expires', '0', 'queue', queue, 'retries', r[5], 'remaining', r[5],
          'time', sfmt('%.20f', score), 'spawned_from_jid', rjid)
        hist_push(child, '"put"', '{"q":' .. eq .. '}', nil, nil, encode(floor(score)))
        call('zadd', qk .. '-work', pri - score / 1e10, child)
        score = score + interval
        call('zadd', rk, score, rjid)
        made = made + 1
      end
    end
  end
end

-- dep_add(jid, deps): for each D in deps whose job exists and is not
-- complete, record the edge jid -> D in both directions (5).
local dep_add
if LIB or cmd == 'put' or cmd == 'requeue' or cmd == 'complete' or cmd == 'depends' then
  dep_add = function(jid, deps)
    local dkey = 'ql:j:' .. jid .. '-dependencies'
    for _, d in ipairs(deps) do
      local st = call('hget', 'ql:j:' .. d, 'state')
      if st and st ~= 'complete' then
        call('sadd', 'ql:j:' .. d .. '-dependents', jid)
        call('sadd', dkey, d)
      end
    end
  end
end

-- untag(jid, tags_json): drop a job from the tag indexes of its tags:
-- ZREM ql:t:<tag> and decrement ql:tags (13).
local untag
if LIB or cmd == 'put' or cmd == 'requeue' or cmd == 'complete' or cmd == 'cancel' then
  untag = function(jid, tags_json)
    if not tags_json then return end
    for _, t in ipairs(decode(tags_json)) do
      call('zrem', 'ql:t:' .. t, jid)
      call('zincrby', 'ql:tags', '-1', t)
    end
  end
end
