-- Job commands: put/requeue, heartbeat, complete, fail, retry, get, multiget,
-- timeout, cancel, priority, log, depends (spec 6).

-- 6.24 put worker queue jid klass data delay [priority p] [tags t] [retries r] [depends d]
-- 6.25 requeue: the same, but the job must exist.
if cmd == 'put' or cmd == 'requeue' then
  local worker, queue, jid, klass, raw_data, raw_delay =
    ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  if cmd == 'requeue' then
    if jid == nil then error('Job(): no jid provided') end
    if call('exists', 'ql:j:' .. jid) == 0 then
      error('Requeue(): Job ' .. jid .. ' does not exist')
    end
  end
  if queue == nil then error('Queue(): no queue name provided') end
  if jid == nil then error('Put(): Arg "jid" missing') end
  if klass == nil then error('Put(): Arg "klass" missing') end
  if not decode(raw_data) then
    error('Put(): Arg "data" missing or not JSON: ' .. tostring(raw_data))
  end
  -- ('0' is what clients send; it skips a string-to-number conversion)
  local delay = raw_delay == '0' and 0 or tonumber(raw_delay)
  if delay == nil then error('Put(): Arg "delay" not a number: ' .. tostring(raw_delay)) end
  if (nargs - 8) % 2 == 1 then
    error('Odd number of additional args: ' .. tostring({}))
  end
  local o_pri, o_tags, o_retries, o_deps
  for i = 9, nargs, 2 do
    local k = ARGV[i]
    if k == 'priority' then o_pri = ARGV[i + 1]
    elseif k == 'tags' then o_tags = ARGV[i + 1]
    elseif k == 'retries' then o_retries = ARGV[i + 1]
    elseif k == 'depends' then o_deps = ARGV[i + 1] end
  end

  local key = 'ql:j:' .. jid
  -- One EXISTS names the job hash once and ql:tracked twice (the count is
  -- a bit mask): a new job (the common case) reads no field, and the
  -- ZSCORE at the end is spared when nothing is tracked. Nothing below
  -- changes whether ql:tracked exists.
  local ex = call('exists', key, 'ql:tracked', 'ql:tracked')
  local old_state, old_pri, old_tags, old_queue, old_failure, old_retries, old_worker, old_hist
  if ex % 2 == 1 then
    local old = call('hmget', key, 'state', 'priority', 'tags', 'queue', 'failure',
      'retries', 'worker', 'history')
    old_state = old[1]
    -- (a hash without a state is no job: its fields are not carried over)
    if old_state then
      -- A tombstone of a job leaving for another shard (80_xshard.lua): the
      -- router delivers the move, then puts again.
      if old_state == 'moving' then error('Put(): Job ' .. jid .. ' is moving') end
      old_pri, old_tags, old_queue, old_failure, old_retries, old_worker, old_hist =
        old[2], old[3], old[4], old[5], old[6], old[7], old[8]
    end
  end

  -- Old tags go first, as `tag remove` would do it.
  if old_tags then
    untag(jid, old_tags)
    if old_tags ~= '{}' then call('hset', key, 'tags', '{}') end
  end

  -- Options: the option, else the old value, else the default. Stored as sent.
  local retries = o_retries or old_retries or 5
  if retries ~= '5' and tonumber(retries) == nil then
    error('Put(): Arg "retries" not a number: ' .. tostring(o_retries))
  end
  local tags_text = o_tags or old_tags or '[]'
  local tags -- nil for none (an empty list without a decode)
  if tags_text ~= '[]' and tags_text ~= '{}' then
    tags = decode(tags_text)
    if not tags then error('Put(): Arg "tags" not JSON' .. tostring(o_tags)) end
  end
  local pri = o_pri or old_pri or 0
  local prio = pri == '0' and 0 or tonumber(pri)
  if prio == nil then error('Put(): Arg "priority" not a number' .. tostring(o_pri)) end
  local deps -- nil: none given
  if o_deps ~= nil and o_deps ~= '[]' then
    deps = decode(o_deps)
    if not deps then error('Put(): Arg "depends" not JSON: ' .. tostring(o_deps)) end
  end

  local dkey = key .. '-dependencies'
  local ndeps = 0
  if deps then ndeps = #deps end
  if ndeps > 0 then
    -- A non-empty list replaces the old edges; an empty one keeps them (7).
    local keep = {}
    for _, d in ipairs(deps) do keep[d] = true end
    for _, d in ipairs(call('smembers', dkey)) do
      if not keep[d] then
        call('srem', dkey, d)
        call('srem', 'ql:j:' .. d .. '-dependents', jid)
      end
    end
  end

  local ejid, eq = encode(jid), encode(queue)
  call('publish', 'ql:log', '{"jid":' .. ejid .. ',"event":"put","queue":' .. eq .. '}')
  hist_push(jid, '"put"', '{"q":' .. eq .. '}', nil, old_hist)

  if old_queue and old_queue ~= '' then
    local oq = 'ql:q:' .. old_queue
    call('zrem', oq .. '-work', jid)
    call('zrem', oq .. '-locks', jid)
    call('zrem', oq .. '-depends', jid)
    call('zrem', oq .. '-scheduled', jid)
  end
  if old_worker and old_worker ~= '' then
    call('zrem', 'ql:w:' .. old_worker .. ':jobs', jid)
    if old_worker ~= worker then
      local msg = '{"jid":' .. ejid .. ',"event":"lock_lost","worker":' .. encode(old_worker) .. '}'
      call('publish', 'ql:w:' .. old_worker, msg)
      call('publish', 'ql:log', msg)
    end
  end
  if old_state == 'complete' then call('zrem', 'ql:completed', jid) end

  if tags then
    for _, t in ipairs(tags) do
      call('zadd', 'ql:t:' .. t, NOWF, jid)
      call('zincrby', 'ql:tags', '1', t)
    end
  end

  if old_state == 'failed' then
    -- Quirk (16.10): the counter of the NEW queue, in the failure's day.
    local failure = decode(old_failure)
    local group, when = failure.group, failure.when
    local fkey = 'ql:f:' .. group
    call('lrem', fkey, '0', jid)
    if call('llen', fkey) == 0 then call('srem', 'ql:failures', group) end
    call('hincrby', 'ql:s:stats:' .. (when - when % 86400) .. ':' .. queue, 'failed', '-1')
  end

  -- failure, grace, spawned_from_jid and a hidden `scheduled` stay untouched.
  call('hset', key, 'jid', jid, 'klass', klass, 'data', raw_data, 'priority', pri,
    'tags', tags and encode(tags) or '{}', 'state', delay > 0 and 'scheduled' or 'waiting',
    'worker', '', 'expires', '0', 'queue', queue, 'retries', retries,
    'remaining', retries, 'time', NOWS)

  if ndeps > 0 then dep_add(jid, deps) end

  -- Placement; carried-over dependencies count too.
  local qk = 'ql:q:' .. queue
  -- A job that did not exist has no edges unless this put added some.
  local waiting_on = 0
  if old_state or ndeps > 0 then waiting_on = call('scard', dkey) end
  if delay > 0 then
    if waiting_on > 0 then
      call('zadd', qk .. '-depends', NOWF, jid)
      call('hset', key, 'state', 'depends', 'scheduled', now + delay)
    else
      call('zadd', qk .. '-scheduled', now + delay, jid)
    end
  elseif waiting_on > 0 then
    call('zadd', qk .. '-depends', NOWF, jid)
    call('hset', key, 'state', 'depends')
  else
    call('zadd', qk .. '-work', prio - now / 1e10, jid)
  end

  call('zadd', 'ql:queues', 'NX', NOWF, queue)
  if ex >= 2 and call('zscore', 'ql:tracked', jid) then call('publish', 'ql:put', jid) end
  return jid
end

-- 6.12 heartbeat jid worker [data]
if cmd == 'heartbeat' then
  local jid, worker, raw_data = ARGV[3], ARGV[4], ARGV[5]
  if jid == nil then error('Job(): no jid provided') end
  if worker == nil then error('Heatbeat(): Arg "worker" missing') end
  local data
  if raw_data ~= nil then data = decode(raw_data) end
  local key = 'ql:j:' .. jid
  local f = call('hmget', key, 'state', 'worker', 'queue')
  local state, owner, queue = f[1], f[2], f[3]
  if not state then error('Heartbeat(): Job ' .. jid .. ' does not exist') end
  if state ~= 'running' then
    error('Heartbeat(): Job ' .. jid .. ' not currently running: ' .. state)
  end
  if owner == '' or owner ~= worker then
    error('Heartbeat(): Job ' .. jid .. ' given out to another worker: ' .. owner)
  end
  local c = call('hmget', 'ql:config', queue .. '-heartbeat', 'heartbeat')
  -- (a stored value goes through tonumber: a bad one fails as in the reference)
  local hb, expires = c[1] or c[2]
  if hb then expires = now + tonumber(hb) else expires = now + DEF_HEARTBEAT end
  local expf = sfmt('%.17g', expires)
  -- (the worker field already holds `worker`, as checked above)
  if data then
    -- Quirk (16.4): the data is stored re-encoded.
    call('hset', key, 'expires', expf, 'data', encode(data))
  else
    call('hset', key, 'expires', expf)
  end
  call('zadd', 'ql:w:' .. worker .. ':jobs', expf, jid)
  call('zadd', 'ql:q:' .. queue .. '-locks', expf, jid)
  call('zadd', 'ql:workers', NOWF, worker)
  return expires
end

-- 6.6 complete jid worker queue data [next q] [delay d] [depends json]
if cmd == 'complete' then
  local jid, worker, queue, raw_data = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  if jid == nil then error('Job(): no jid provided') end
  if worker == nil then error('Complete(): Arg "worker" missing') end
  if queue == nil then error('Complete(): Arg "queue" missing') end
  if not decode(raw_data) then
    error('Complete(): Arg "data" missing or not JSON: ' .. tostring(raw_data))
  end
  local nextq, o_delay, o_deps
  for i = 7, nargs, 2 do
    local k = ARGV[i]
    if k == 'next' then nextq = ARGV[i + 1]
    elseif k == 'delay' then o_delay = ARGV[i + 1]
    elseif k == 'depends' then o_deps = ARGV[i + 1] end
  end
  local delay = 0
  if o_delay then delay = assert(tonumber(o_delay)) end
  local deps -- nil: none given
  if o_deps ~= nil and o_deps ~= '[]' then
    deps = decode(o_deps)
    if not deps then error('Complete(): Arg "depends" not JSON: ' .. tostring(o_deps)) end
  end
  if delay > 0 and not nextq then
    error('Complete(): "delay" cannot be used without a "next".')
  end
  if deps and #deps > 0 and not nextq then
    error('Complete(): "depends" cannot be used without a "next".')
  end

  local key = 'ql:j:' .. jid
  -- (the priority matters only with `next`, and is read there)
  local f = call('hmget', key, 'state', 'worker', 'queue', 'time', 'retries',
    'history')
  local state, owner = f[1], f[2]
  if not state then error('Complete(): Job ' .. jid .. ' does not exist') end
  if state ~= 'running' then
    error('Complete(): Job ' .. jid .. ' is not currently running: ' .. state)
  end
  if owner ~= worker then
    error('Complete(): Job ' .. jid .. ' has been handed out to another worker: ' .. owner)
  end
  if f[3] ~= queue then
    error('Complete(): Job ' .. jid .. ' running in another queue: ' .. f[3])
  end

  local qk = 'ql:q:' .. queue
  -- One EXISTS tells which of four usually absent keys are there (each
  -- named 1, 2, 4 and 8 times: the count is a bit mask), which spares the
  -- ZREM from -scheduled, the ZSCORE in ql:tracked, the SMEMBERS of
  -- -dependents and the HMGET of ql:config (every option at its default)
  -- when their key does not exist. Nothing below changes whether they
  -- exist before they are used.
  local dkey = key .. '-dependents'
  local ex = call('exists', qk .. '-scheduled', 'ql:tracked', 'ql:tracked',
    dkey, dkey, dkey, dkey, 'ql:config', 'ql:config', 'ql:config', 'ql:config',
    'ql:config', 'ql:config', 'ql:config', 'ql:config')
  local conf, hlimit = false, DEF_MAX_JOB_HISTORY
  if ex >= 8 then
    ex = ex - 8
    conf = call('hmget', 'ql:config', 'max-job-history', 'jobs-history', 'jobs-history-count')
    hlimit = tonumber(conf[1] or DEF_MAX_JOB_HISTORY)
  end
  hist_push(jid, '"done"', nil, hlimit, f[6])
  call('zrem', qk .. '-work', jid)
  call('zrem', qk .. '-locks', jid)
  if ex % 2 == 1 then call('zrem', qk .. '-scheduled', jid) end
  stat(queue, 'run', now - (f[4] or now))
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  if ex % 4 >= 2 and call('zscore', 'ql:tracked', jid) then
    call('publish', 'ql:completed', jid)
  end
  local ejid = encode(jid)
  local retries = f[5] or 5
  local nows = NOWS

  if nextq then
    local enext = encode(nextq)
    call('publish', 'ql:log', '{"jid":' .. ejid .. ',"to":' .. enext
      .. ',"event":"advanced","queue":' .. encode(queue) .. '}')
    hist_push(jid, '"put"', '{"q":' .. enext .. '}', hlimit)
    call('zadd', 'ql:queues', 'NX', NOWF, nextq)
    call('hset', key, 'data', raw_data, 'time', nows, 'state', 'waiting',
      'worker', '', 'failure', '{}', 'queue', nextq, 'expires', '0', 'remaining', retries)
    local nk = 'ql:q:' .. nextq
    if not deps then deps = {} end
    if delay > 0 and #deps == 0 then
      -- Quirk (16.7): scheduled, but the state stays waiting.
      call('zadd', nk .. '-scheduled', now + delay, jid)
      return 'scheduled'
    end
    dep_add(jid, deps)
    if call('scard', key .. '-dependencies') > 0 then
      call('zadd', nk .. '-depends', NOWF, jid)
      if delay > 0 then
        call('hset', key, 'state', 'depends', 'scheduled', now + delay)
      else
        call('hset', key, 'state', 'depends')
      end
      return 'depends'
    end
    local pri = call('hget', key, 'priority')
    call('zadd', nk .. '-work', (tonumber(pri) or 0) - now / 1e10, jid)
    return 'waiting'
  end

  call('publish', 'ql:log', '{"jid":' .. ejid .. ',"event":"completed","queue":'
    .. encode(queue) .. '}')
  call('hset', key, 'data', raw_data, 'time', nows, 'state', 'complete',
    'worker', '', 'failure', '{}', 'queue', '', 'expires', '0', 'remaining', retries)
  call('zadd', 'ql:completed', NOWF, jid)

  -- 4.7 retention: by age, then by count. An expired job loses its tags,
  -- hash and history.
  local cutoff
  if conf and conf[2] then cutoff = now - tonumber(conf[2]) else cutoff = now - DEF_JOBS_HISTORY end
  local expired = call('zrangebyscore', 'ql:completed', '0', cutoff)
  if #expired > 0 then
    for _, j in ipairs(expired) do
      local jk = 'ql:j:' .. j
      untag(j, call('hget', jk, 'tags'))
      call('del', jk, jk .. '-history')
    end
    call('zremrangebyscore', 'ql:completed', '0', cutoff)
  end
  local last = '-50001' -- the default jobs-history-count, as -(count + 1)
  if conf and conf[3] then last = -tonumber(conf[3]) - 1 end
  expired = call('zrange', 'ql:completed', '0', last)
  if #expired > 0 then
    for _, j in ipairs(expired) do
      local jk = 'ql:j:' .. j
      untag(j, call('hget', jk, 'tags'))
      call('del', jk, jk .. '-history')
    end
    call('zremrangebyrank', 'ql:completed', '0', last)
  end

  -- Unlock dependents whose last dependency this was (7).
  if ex < 4 then return 'complete' end
  local dependents = call('smembers', dkey)
  for _, d in ipairs(dependents) do
    local dk = 'ql:j:' .. d
    call('srem', dk .. '-dependencies', jid)
    if call('scard', dk .. '-dependencies') == 0 then
      local g = call('hmget', dk, 'queue', 'priority', 'scheduled')
      if g[1] then
        local dq = 'ql:q:' .. g[1]
        call('zrem', dq .. '-depends', d)
        if g[3] then
          call('zadd', dq .. '-scheduled', g[3], d)
          call('hset', dk, 'state', 'scheduled')
          call('hdel', dk, 'scheduled')
        else
          call('zadd', dq .. '-work', (tonumber(g[2]) or 0) - now / 1e10, d)
          call('hset', dk, 'state', 'waiting')
        end
      else
        -- d lives on another shard (or is leaving this one): an intent for
        -- a courier to resolve the edge there (80_xshard.lua).
        local id = 'r' .. call('incr', 'ql:x:seq')
        call('hset', 'ql:x:outbox', id, '{"k":"resolve","jid":' .. encode(d)
          .. ',"dep":' .. encode(jid) .. ',"now":"' .. NOWF .. '"}')
        call('zadd', 'ql:x:due', '0', id)
      end
    end
  end
  if #dependents > 0 then call('del', key .. '-dependents') end
  return 'complete'
end

-- 6.8 fail jid worker group message [data]
if cmd == 'fail' then
  local jid, worker, group, message, raw_data = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  if jid == nil then error('Job(): no jid provided') end
  if worker == nil then error('Fail(): Arg "worker" missing') end
  if group == nil then error('Fail(): Arg "group" missing') end
  if message == nil then error('Fail(): Arg "message" missing') end
  local data
  if raw_data ~= nil then data = decode(raw_data) end
  local key = 'ql:j:' .. jid
  local f = call('hmget', key, 'state', 'worker', 'queue', 'history')
  local state, owner, queue = f[1], f[2], f[3]
  -- (sic: no space before "does" and "not", 6.8)
  if not state then error('Fail(): Job ' .. jid .. 'does not exist') end
  if state ~= 'running' then
    error('Fail(): Job ' .. jid .. 'not currently running: ' .. state)
  end
  if owner ~= worker then
    error('Fail(): Job ' .. jid .. ' running with another worker: ' .. owner)
  end
  local ejid, eg, em, ew = encode(jid), encode(group), encode(message), encode(worker)
  call('publish', 'ql:log', '{"message":' .. em .. ',"jid":' .. ejid .. ',"group":' .. eg
    .. ',"event":"failed","worker":' .. ew .. '}')
  if call('zscore', 'ql:tracked', jid) then call('publish', 'ql:failed', jid) end
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  hist_push(jid, '"failed"', '{"worker":' .. ew .. ',"group":' .. eg .. '}', nil, f[4])
  local skey = 'ql:s:stats:' .. DAY .. ':' .. queue
  call('hincrby', skey, 'failures', '1')
  call('hincrby', skey, 'failed', '1')
  local qk = 'ql:q:' .. queue
  call('zrem', qk .. '-work', jid)
  call('zrem', qk .. '-locks', jid)
  call('zrem', qk .. '-scheduled', jid)
  local failure = '{"group":' .. eg .. ',"message":' .. em .. ',"when":'
    .. encode(floor(now)) .. ',"worker":' .. ew .. '}'
  if data then
    -- Quirk (16.4): the data is stored re-encoded.
    call('hset', key, 'data', encode(data), 'state', 'failed', 'worker', '',
      'expires', '', 'failure', failure)
  else
    call('hset', key, 'state', 'failed', 'worker', '', 'expires', '', 'failure', failure)
  end
  call('sadd', 'ql:failures', group)
  call('lpush', 'ql:f:' .. group, jid)
  return jid
end

-- 6.10 retry jid queue worker [delay [group [message]]]
if cmd == 'retry' then
  local jid, queue, worker, raw_delay, group, message =
    ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  if jid == nil then error('Job(): no jid provided') end
  if queue == nil then error('Retry(): Arg "queue" missing') end
  if worker == nil then error('Retry(): Arg "worker" missing') end
  local delay = tonumber(raw_delay or 0)
  if delay == nil then error('Retry(): Arg "delay" not a number: ' .. tostring(raw_delay)) end
  local key = 'ql:j:' .. jid
  local f = call('hmget', key, 'state', 'worker', 'queue', 'priority', 'history')
  local state, owner, oldq = f[1], f[2], f[3]
  if not state then error('Retry(): Job ' .. jid .. ' does not exist') end
  if state ~= 'running' then
    error('Retry(): Job ' .. jid .. ' is not currently running: ' .. state)
  end
  if owner ~= worker then
    error('Retry(): Job ' .. jid .. ' has been given to another worker: ' .. owner)
  end
  local remaining = call('hincrby', key, 'remaining', '-1')
  call('hdel', key, 'grace')
  call('zrem', 'ql:q:' .. oldq .. '-locks', jid)
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  local given -- the failure object when both group and message were given
  if group and message then
    given = '{"group":' .. encode(group) .. ',"message":' .. encode(message)
      .. ',"when":' .. encode(floor(now)) .. ',"worker":' .. encode(worker) .. '}'
  end
  if remaining < 0 then
    local g = group or ('failed-retries-' .. queue)
    local eg = encode(g)
    hist_push(jid, '"failed"', '{"group":' .. eg .. '}', nil, f[5])
    local failure = given or ('{"group":' .. eg .. ',"message":'
      .. encode('Job exhausted retries in queue "' .. oldq .. '"')
      .. ',"when":' .. encode(now) .. ',"worker":""}')
    call('hset', key, 'state', 'failed', 'worker', '', 'expires', '', 'failure', failure)
    if call('zscore', 'ql:tracked', jid) then call('publish', 'ql:failed', jid) end
    call('sadd', 'ql:failures', g)
    call('lpush', 'ql:f:' .. g, jid)
    local skey = 'ql:s:stats:' .. DAY .. ':' .. queue
    call('hincrby', skey, 'failures', '1')
    call('hincrby', skey, 'failed', '1')
  else
    -- Quirk (16.8): the queue argument picks the sets; `queue`, `worker` and
    -- `expires` fields are left as they are.
    local qk = 'ql:q:' .. queue
    if delay > 0 then
      call('zadd', qk .. '-scheduled', now + delay, jid)
      call('hset', key, 'state', 'scheduled')
    else
      call('zadd', qk .. '-work', (tonumber(f[4]) or 0) - now / 1e10, jid)
      call('hset', key, 'state', 'waiting')
    end
    if given then call('hset', key, 'failure', given) end
  end
  return floor(remaining)
end

-- 6.2 get jid
if cmd == 'get' then
  local jid = ARGV[3]
  if jid == nil then error('Job(): no jid provided') end
  return job_json(jid)
end

-- 6.3 multiget jid...
if cmd == 'multiget' then
  local out = {}
  for i = 3, nargs do
    local j = job_json(ARGV[i])
    if j then out[#out + 1] = j end
  end
  if #out == 0 then return '{}' end
  return '[' .. concat(out, ',') .. ']'
end

-- 6.23 timeout jid...
if cmd == 'timeout' then
  for i = 3, nargs do
    local jid = ARGV[i]
    local key = 'ql:j:' .. jid
    local f = call('hmget', key, 'state', 'queue', 'worker', 'history')
    if not f[1] then error('Timeout(): Job ' .. jid .. ' does not exist') end
    if f[1] ~= 'running' then error('Timeout(): Job ' .. jid .. ' not running') end
    hist_push(jid, '"timed-out"', nil, nil, f[4])
    local qk = 'ql:q:' .. f[2]
    call('zrem', qk .. '-locks', jid)
    call('zadd', qk .. '-work', '+inf', jid)
    call('hset', key, 'state', 'stalled', 'expires', '0')
    local msg = '{"jid":' .. encode(jid) .. ',"event":"lock_lost","worker":' .. encode(f[3]) .. '}'
    call('publish', 'ql:w:' .. f[3], msg)
    call('publish', 'ql:log', msg)
  end
  return nil
end

-- 6.22 cancel jid...
if cmd == 'cancel' then
  local named, out = {}, {}
  for i = 3, nargs do
    named[ARGV[i]] = true
    out[i - 2] = ARGV[i]
  end
  -- Phase 1: refuse before any write when a dependent is not canceled too.
  for i = 3, nargs do
    local jid = ARGV[i]
    for _, d in ipairs(call('smembers', 'ql:j:' .. jid .. '-dependents')) do
      if not named[d] then
        error('Cancel(): ' .. jid .. ' is a dependency of ' .. d
          .. ' but is not mentioned to be canceled')
      end
    end
  end
  -- Phase 2: every non-complete jid, existing or not.
  for i = 3, nargs do
    local jid = ARGV[i]
    local key = 'ql:j:' .. jid
    local f = call('hmget', key, 'tags', 'state', 'queue', 'worker', 'failure')
    local tags, state, queue, worker = f[1], f[2], f[3], f[4]
    -- (a tombstone, 80_xshard.lua, is the router's business)
    if state ~= 'complete' and state ~= 'moving' then
      local msg = '{"jid":' .. encode(jid) .. ',"queue":' .. encode(queue)
        .. ',"event":"canceled","worker":' .. encode(worker) .. '}'
      call('publish', 'ql:log', msg)
      if worker and worker ~= '' then
        call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
        call('publish', 'ql:w:' .. worker, msg)
      end
      if queue then
        local qk = 'ql:q:' .. queue
        call('zrem', qk .. '-work', jid)
        call('zrem', qk .. '-locks', jid)
        call('zrem', qk .. '-scheduled', jid)
        call('zrem', qk .. '-depends', jid)
      end
      local dkey = key .. '-dependencies'
      for _, d in ipairs(call('smembers', dkey)) do
        call('srem', 'ql:j:' .. d .. '-dependents', jid)
      end
      call('del', dkey)
      if state == 'failed' then
        local failure = decode(f[5])
        local group, when = failure.group, failure.when
        local fkey = 'ql:f:' .. group
        call('lrem', fkey, '0', jid)
        if call('llen', fkey) == 0 then call('srem', 'ql:failures', group) end
        -- Read-modify-write, not HINCRBY (16.10).
        local skey = 'ql:s:stats:' .. (when - when % 86400) .. ':' .. queue
        call('hset', skey, 'failed', (tonumber(call('hget', skey, 'failed')) or 0) - 1)
      end
      untag(jid, tags)
      if call('zscore', 'ql:tracked', jid) then call('publish', 'ql:canceled', jid) end
      call('del', key, key .. '-history')
    end
  end
  return out
end

-- 6.17 priority jid priority
if cmd == 'priority' then
  local jid, raw = ARGV[3], ARGV[4]
  if jid == nil then error('Job(): no jid provided') end
  local pri = tonumber(raw)
  if pri == nil then
    error('Priority(): Arg "priority" missing or not a number: ' .. tostring(raw))
  end
  local key = 'ql:j:' .. jid
  local queue = call('hget', key, 'queue')
  if not queue then error('Priority(): Job ' .. jid .. ' does not exist') end
  if queue ~= '' then
    local wk = 'ql:q:' .. queue .. '-work'
    -- Re-scored to exactly the priority, with no time term (2.4).
    if call('zscore', wk, jid) then call('zadd', wk, pri, jid) end
  end
  call('hset', key, 'priority', pri)
  return pri
end

-- 6.18 log jid message [data]
if cmd == 'log' then
  local jid, message, raw_data = ARGV[3], ARGV[4], ARGV[5]
  if jid == nil then error("Log(): Argument 'jid' missing") end
  if message == nil then error("Log(): Argument 'message' missing") end
  local details
  if raw_data ~= nil then
    local d = decode(raw_data)
    if not d then error("Log(): Argument 'data' not cjson: " .. tostring(raw_data)) end
    details = encode(d)
  end
  local f = call('hmget', 'ql:j:' .. jid, 'state', 'history')
  if not f[1] then error('Log(): Job ' .. jid .. ' does not exist') end
  if f[1] == 'moving' then error('Log(): Job ' .. jid .. ' is moving') end
  hist_push(jid, encode(message), details, nil, f[2])
  return nil
end

-- 6.11 depends jid on jid... | off jid... | off all
if cmd == 'depends' then
  local jid, command = ARGV[3], ARGV[4]
  if jid == nil then error('Job(): no jid provided') end
  if command == nil then error('Depends(): Arg "command" missing') end
  local key = 'ql:j:' .. jid
  local f = call('hmget', key, 'state', 'queue', 'priority')
  if f[1] ~= 'depends' then
    error('Depends(): Job ' .. jid .. ' not in the depends state: ' .. tostring(f[1] or nil))
  end
  local dkey = key .. '-dependencies'
  -- Back to waiting, ignoring any hidden `scheduled` time (16.7).
  local function release()
    if f[2] then
      local qk = 'ql:q:' .. f[2]
      call('zrem', qk .. '-depends', jid)
      call('zadd', qk .. '-work', (tonumber(f[3]) or 0) - now / 1e10, jid)
      call('hset', key, 'state', 'waiting')
    end
  end
  if command == 'on' then
    local deps = {}
    for i = 5, nargs do deps[i - 4] = ARGV[i] end
    dep_add(jid, deps)
    return 1
  elseif command == 'off' then
    if ARGV[5] == 'all' then
      for _, d in ipairs(call('smembers', dkey)) do
        call('srem', 'ql:j:' .. d .. '-dependents', jid)
      end
      call('del', dkey)
      release()
    else
      for i = 5, nargs do
        local d = ARGV[i]
        call('srem', 'ql:j:' .. d .. '-dependents', jid)
        call('srem', dkey, d)
        if call('scard', dkey) == 0 then release() end
      end
    end
    return 1
  end
  error('Depends(): Argument "command" must be "on" or "off"')
end
