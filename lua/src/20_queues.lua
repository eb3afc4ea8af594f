-- Queue commands: pop, peek, length, pause, unpause, queues, jobs, unfail,
-- queue.forget (spec 6).

-- 6.20 pop queue worker count
if cmd == 'pop' then
  local queue, worker, raw_count = ARGV[3], ARGV[4], ARGV[5]
  if queue == nil then error('Queue(): no queue name provided') end
  if worker == nil then error('Pop(): Arg "worker" missing') end
  local count = raw_count == '1' and 1 or tonumber(raw_count)
  if count == nil then
    error('Pop(): Arg "count" missing or not a number: ' .. tostring(raw_count))
  end
  -- count as a LIMIT argument, as Redis would format it ("%.17g").
  local countf = count
  if count == 1 then countf = '1' end
  local qk = 'ql:q:' .. queue
  -- One EXISTS tells whether ql:config exists (named once), whether the
  -- queue has recurring or scheduled jobs (those two named twice each) and
  -- whether any queue is paused or any job tracked (ql:paused_queues and
  -- ql:tracked, 6 times each): the parts of the count read as bits, each
  -- below the next weight. Without a config hash every option has its
  -- default and the HMGET is spared; with neither paused queues nor tracked
  -- jobs, the SISMEMBER and the ZSCOREs. (Pop adds to none of these keys;
  -- the expired-lock pass below can only remove from -scheduled, and a
  -- check of a set that is gone by then finds nothing.)
  local rk, sk = qk .. '-recur', qk .. '-scheduled'
  local ex = call('exists', 'ql:config', rk, rk, sk, sk, 'ql:paused_queues', 'ql:paused_queues',
    'ql:paused_queues', 'ql:paused_queues', 'ql:paused_queues', 'ql:paused_queues',
    'ql:tracked', 'ql:tracked', 'ql:tracked', 'ql:tracked', 'ql:tracked', 'ql:tracked')
  local marked = ex >= 6 -- paused queues or tracked jobs exist
  ex = ex % 6
  local hb, cap, expires
  if ex % 2 == 1 then
    local conf = call('hmget', 'ql:config', queue .. '-heartbeat', 'heartbeat',
      queue .. '-max-concurrency')
    hb, cap = conf[1] or conf[2], conf[3]
  end
  if hb then expires = now + tonumber(hb) else expires = now + DEF_HEARTBEAT end
  local expf = sfmt('%.17g', expires)
  if marked and call('sismember', 'ql:paused_queues', queue) == 1 then return '{}' end
  call('zadd', 'ql:workers', NOWF, worker)
  local lkey = qk .. '-locks'

  -- 12: only unexpired locks count against <queue>-max-concurrency.
  if cap and tonumber(cap) > 0 then
    cap = tonumber(cap)
    count = math.min(count, math.max(0, cap - call('zcount', lkey, NOWF, '+inf')))
    if count == 0 then return '{}' end
    countf = count
  end

  local hlimit -- max-job-history, read only when needed
  local jids = {}

  -- 4.4 invalidate_locks: courtesy pass, then invalidation on a later pop.
  local expired = call('zrangebyscore', lkey, '-inf', NOWF, 'LIMIT', '0', countf)
  if #expired > 0 then
    local grace = DEF_GRACE
    hlimit = DEF_MAX_JOB_HISTORY
    if ex % 2 == 1 then
      local c = call('hmget', 'ql:config', 'grace-period', 'max-job-history')
      grace = tonumber(c[1] or DEF_GRACE)
      hlimit = tonumber(c[2] or DEF_MAX_JOB_HISTORY)
    end
    local skey = 'ql:s:stats:' .. DAY .. ':' .. queue
    for _, jid in ipairs(expired) do
      local key = 'ql:j:' .. jid
      local f = call('hmget', key, 'worker', 'grace', 'queue', 'history')
      local w = f[1]
      local ejid, ew = encode(jid), encode(w)
      call('zrem', 'ql:w:' .. w .. ':jobs', jid)
      local sent = f[2] == '1'
      local tracked
      if grace <= 0 or not sent then
        tracked = marked and call('zscore', 'ql:tracked', jid)
        if tracked then call('publish', 'ql:stalled', jid) end
        hist_push(jid, '"timed-out"', nil, hlimit, f[4])
        f[4] = false
        call('hset', key, 'grace', '1')
        local msg = '{"jid":' .. ejid .. ',"event":"lock_lost","worker":' .. ew .. '}'
        call('publish', 'ql:w:' .. w, msg)
        call('publish', 'ql:log', msg)
        call('zadd', lkey, now + grace, jid)
        call('hincrby', skey, 'retries', '1')
      end
      if grace <= 0 or sent then
        call('hdel', key, 'grace', '0') -- (sic: a field "0" too)
        if call('hincrby', key, 'remaining', '-1') < 0 then
          call('zrem', qk .. '-work', jid)
          call('zrem', lkey, jid)
          call('zrem', qk .. '-scheduled', jid)
          local group = 'failed-retries-' .. f[3]
          local eg = encode(group)
          hist_push(jid, '"failed"', '{"group":' .. eg .. '}', hlimit, f[4])
          local em = encode('Job exhausted retries in queue "' .. queue .. '"')
          call('hset', key, 'state', 'failed', 'worker', '', 'expires', '',
            'failure', '{"group":' .. eg .. ',"message":' .. em .. ',"when":'
              .. encode(now) .. ',"worker":""}')
          call('sadd', 'ql:failures', group)
          call('lpush', 'ql:f:' .. group, jid)
          if tracked == nil then tracked = marked and call('zscore', 'ql:tracked', jid) end
          if tracked then call('publish', 'ql:failed', jid) end
          call('publish', 'ql:log', '{"message":' .. em .. ',"jid":' .. ejid .. ',"group":'
            .. eg .. ',"event":"failed","worker":' .. ew .. '}')
          call('hincrby', skey, 'failures', '1')
          call('hincrby', skey, 'failed', '1')
        else
          jids[#jids + 1] = jid
        end
      end
    end
  end
  -- Handed-out stalled jobs are removed from -work too (step 9).
  local stale = #jids

  local want = count - #jids
  if want ~= 0 then
    -- Recurring spawns and due scheduled jobs, skipped when the queue has
    -- neither (the common case; see the EXISTS above).
    if ex > 1 then
      check_recurring(queue, want)
      check_scheduled(queue, want)
    end
    if want > 0 then
      -- ZPOPMAX = ZREVRANGE 0 want-1 (same order) + the final ZREM.
      local top = call('zpopmax', qk .. '-work', want == count and countf or want)
      for i = 1, #top, 2 do jids[#jids + 1] = top[i] end
    else
      -- Negative counts: the rank form, then an explicit ZREM (6.20).
      local top = call('zrevrange', qk .. '-work', '0', want - 1)
      for i = 1, #top do jids[#jids + 1] = top[i] end
      stale = #jids
    end
  end
  local n = #jids
  if n == 0 then return '{}' end

  -- All jobs are updated first, then -work is cleaned, then the reply is
  -- built, as in the reference (a job whose JSON fails is popped anyway).
  local ew = encode(worker)
  local wkey = 'ql:w:' .. worker .. ':jobs'
  local nows = NOWS
  local hentry = '{"worker":' .. ew .. '}'
  local fields, tracked -- per job when n > 1; f1, t1 for a single job
  local f1, t1, k1
  if n > 1 then fields, tracked = {}, {} end
  for i = 1, n do
    local jid = jids[i]
    local key = 'ql:j:' .. jid
    local f = job_hmget(key)
    hist_push(jid, '"popped"', hentry, hlimit, f[10])
    stat(queue, 'wait', now - (f[11] or now))
    call('zadd', wkey, expf, jid)
    call('hset', key, 'time', nows, 'worker', worker, 'expires', expf, 'state', 'running')
    call('zadd', lkey, expf, jid)
    local t = marked and call('zscore', 'ql:tracked', jid)
    if t then call('publish', 'ql:popped', jid) end
    if n == 1 then f1, t1, k1 = f, t, key else fields[i], tracked[i] = f, t end
  end
  if stale > 0 then call('zrem', qk .. '-work', unpack(jids, '1', stale)) end

  -- The job JSON (as job_json, 03_jobjson.lua, would write it) from what
  -- pop knows: state, worker and expires are its own, and so is the last
  -- history entry (hist_push wrote it last), which is rendered here instead
  -- of read back, unless the worker's name needs the general rendering.
  -- Each job's JSON is made by one concatenation (a single job's with the
  -- reply's brackets), which spares the intermediate strings.
  local own -- that entry and the history's closing bracket
  if not sfind(ew, '\\', 1, true) and not sfind(ew, '"wh', 1, true) then
    own = '{"worker":' .. ew .. ',"when":' .. WHEN .. ',"what":"popped"}]'
  end
  local expj = encode(expires)
  local pre, post, out = '', '', nil
  if n == 1 then pre, post = '[', ']' else out = {} end
  for i = 1, n do
    local jid, f, t, key = jids[i], f1, t1, k1
    if n > 1 then f, t, key = fields[i], tracked[i], 'ql:j:' .. jid end
    -- (a jid without a job hash, klass missing, is left out)
    if f[1] then
      local hkey = key .. '-history'
      -- the history: items, a comma when needed, then the end
      local items, sep, hend = '', '', ']'
      if own then
        local hist = call('lrange', hkey, '0', '-2')
        if #hist > 0 then items, sep = hist_items(hist), ',' end
        hend = own
      else
        items = hist_items(call('lrange', hkey, '0', '-1'))
      end
      local dependents, dependencies = '{}', '{}'
      if call('exists', key .. '-dependents', key .. '-dependencies') > 0 then
        dependents = encode(call('smembers', key .. '-dependents'))
        dependencies = encode(call('smembers', key .. '-dependencies'))
      end
      local json = pre .. '{"jid":' .. encode(jid)
        .. ',"klass":' .. encode(f[1])
        .. ',"state":"running","queue":' .. encode(f[2])
        .. ',"worker":' .. ew .. ',"tracked":' .. (t and 'true' or 'false')
        .. ',"priority":' .. jnum(f[3])
        .. ',"expires":' .. expj .. ',"retries":' .. jnum(f[4])
        .. ',"remaining":' .. jint(f[5])
        .. ',"data":' .. encode(f[6])
        .. ',"tags":' .. (f[7] or '{}')
        .. ',"history":[' .. items .. sep .. hend
        .. ',"failure":' .. (f[8] or '{}')
        .. ',"spawned_from_jid":' .. (f[9] and encode(f[9]) or 'false')
        .. ',"dependents":' .. dependents
        .. ',"dependencies":' .. dependencies
        .. '}' .. post
      if n == 1 then return json end
      out[#out + 1] = json
    end
  end
  if n == 1 or #out == 0 then return '{}' end
  return '[' .. concat(out, ',') .. ']'
end

-- 6.19 peek queue count
if cmd == 'peek' then
  local queue, raw_count = ARGV[3], ARGV[4]
  if queue == nil then error('Queue(): no queue name provided') end
  local count = tonumber(raw_count)
  if count == nil then
    error('Peek(): Arg "count" missing or not a number: ' .. tostring(raw_count))
  end
  local qk = 'ql:q:' .. queue
  -- Expired locks first, not invalidated (4.4).
  local jids = call('zrangebyscore', qk .. '-locks', '-inf', NOWF, 'LIMIT', '0', count)
  local want = count - #jids
  check_recurring(queue, want)
  check_scheduled(queue, want)
  if want ~= 0 then
    local top = call('zrevrange', qk .. '-work', '0', want - 1)
    for i = 1, #top do jids[#jids + 1] = top[i] end
  end
  local out = {}
  for i = 1, #jids do
    local j = job_json(jids[i])
    if j then out[#out + 1] = j end
  end
  if #out == 0 then return '{}' end
  return '[' .. concat(out, ',') .. ']'
end

-- 6.32 length queue
if cmd == 'length' then
  local queue = ARGV[3]
  if queue == nil then error('Queue(): no queue name provided') end
  local qk = 'ql:q:' .. queue
  return call('zcard', qk .. '-locks') + call('zcard', qk .. '-work')
    + call('zcard', qk .. '-scheduled')
end

-- 6.21 pause queue... / unpause queue... (zero names: Redis arity error)
if cmd == 'pause' then
  call('sadd', 'ql:paused_queues', unpack(ARGV, 3))
  return nil
end
if cmd == 'unpause' then
  call('srem', 'ql:paused_queues', unpack(ARGV, 3))
  return nil
end

-- 6.34 queue.forget queue...
if cmd == 'queue.forget' then
  call('zrem', 'ql:queues', unpack(ARGV, 3))
  return nil
end

-- 6.5 queues [queue]
if cmd == 'queues' then
  local function counts(queue)
    local qk = 'ql:q:' .. queue
    local stalled = call('zcount', qk .. '-locks', '0', NOWF)
    check_scheduled(queue, -1)
    return '{"name":' .. encode(queue)
      .. ',"waiting":' .. call('zcard', qk .. '-work')
      .. ',"stalled":' .. stalled
      .. ',"running":' .. (call('zcard', qk .. '-locks') - stalled)
      .. ',"scheduled":' .. call('zcard', qk .. '-scheduled')
      .. ',"depends":' .. call('zcard', qk .. '-depends')
      .. ',"recurring":' .. call('zcard', qk .. '-recur')
      .. ',"paused":' .. (call('sismember', 'ql:paused_queues', queue) == 1 and 'true' or 'false')
      .. '}'
  end
  if ARGV[3] ~= nil then return counts(ARGV[3]) end
  local names = call('zrange', 'ql:queues', '0', '-1')
  if #names == 0 then return '{}' end
  local out = {}
  for i = 1, #names do out[i] = counts(names[i]) end
  return '[' .. concat(out, ',') .. ']'
end

-- 6.9 jobs complete [offset [count]] | jobs <state> <queue> [offset [count]]
if cmd == 'jobs' then
  local state = ARGV[3]
  if state == nil then error('Jobs(): Arg "state" missing') end
  local queue, ro, rc
  if state == 'complete' then
    ro, rc = ARGV[4], ARGV[5]
  else
    queue, ro, rc = ARGV[4], ARGV[5], ARGV[6]
    if queue == nil then error('Jobs(): Arg "queue" missing') end
  end
  local offset = tonumber(ro or 0)
  if offset == nil then error('Jobs(): Arg "offset" not a number: ' .. tostring(ro)) end
  local count = tonumber(rc or 25)
  if count == nil then error('Jobs(): Arg "count" not a number: ' .. tostring(rc)) end
  if state == 'complete' then
    return call('zrevrange', 'ql:completed', offset, offset + count - 1)
  end
  local qk = 'ql:q:' .. queue
  if state == 'running' then
    return call('zrangebyscore', qk .. '-locks', NOWF, '+inf', 'LIMIT', offset, count)
  elseif state == 'stalled' then
    return call('zrangebyscore', qk .. '-locks', '-inf', NOWF, 'LIMIT', offset, count)
  elseif state == 'scheduled' then
    check_scheduled(queue, -1)
    return call('zrange', qk .. '-scheduled', offset, offset + count - 1)
  elseif state == 'depends' then
    return call('zrange', qk .. '-depends', offset, offset + count - 1)
  elseif state == 'recurring' then
    return call('zrangebyscore', qk .. '-recur', '0', '+inf', 'LIMIT', offset, count)
  end
  error('Jobs(): Unknown type "' .. state .. '"')
end

-- 6.26 unfail queue group [count]
if cmd == 'unfail' then
  local queue, group, raw_count = ARGV[3], ARGV[4], ARGV[5]
  if queue == nil then error('Queue(): no queue name provided') end
  if group == nil then error('Unfail(): Arg "group" missing') end
  local count = tonumber(raw_count or 25)
  if count == nil then error('Unfail(): Arg "count" not a number: ' .. tostring(raw_count)) end
  local fkey = 'ql:f:' .. group
  -- The oldest `count` entries; count 0 sends "-0", which Redis rejects (6.26).
  local jids = call('lrange', fkey, -count, '-1')
  local eq = encode(queue)
  local wk = 'ql:q:' .. queue .. '-work'
  for _, jid in ipairs(jids) do
    local key = 'ql:j:' .. jid
    local f = call('hmget', key, 'retries', 'priority', 'history')
    hist_push(jid, '"put"', '{"q":' .. eq .. '}', nil, f[3])
    call('hset', key, 'state', 'waiting', 'worker', '', 'expires', '0', 'queue', queue,
      'remaining', f[1] or 5)
    -- A vanished job has no priority: a Lua error, as in the reference.
    call('zadd', wk, tonumber(f[2]) - now / 1e10, jid)
  end
  call('ltrim', fkey, '0', -count - 1)
  if call('llen', fkey) == 0 then call('srem', 'ql:failures', group) end
  return #jids
end
