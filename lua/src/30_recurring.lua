-- Recurring job templates (spec 8): recur, unrecur, recur.get, recur.update,
-- recur.tag, recur.untag. Instances are spawned by check_recurring (03).

-- 6.27 recur queue jid klass data interval <seconds> <offset> [priority p] [tags t] [retries r] [backlog b]
if cmd == 'recur' then
  local queue, jid, klass, raw_data, spec = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  if queue == nil then error('Queue(): no queue name provided') end
  if jid == nil then error('RecurringJob On(): Arg "jid" missing') end
  if klass == nil then error('RecurringJob On(): Arg "klass" missing') end
  if spec == nil then error('RecurringJob On(): Arg "spec" missing') end
  if not decode(raw_data) then
    error('RecurringJob On(): Arg "data" not JSON: ' .. tostring(raw_data))
  end
  if spec ~= 'interval' then error('Recur(): schedule type "' .. spec .. '" unknown') end
  local raw_interval, raw_offset = ARGV[8], ARGV[9]
  local interval = tonumber(raw_interval)
  if interval == nil then
    error('Recur(): Arg "interval" not a number: ' .. tostring(raw_interval))
  end
  local offset = tonumber(raw_offset)
  if offset == nil then error('Recur(): Arg "offset" not a number: ' .. tostring(raw_offset)) end
  if interval <= 0 then error('Recur(): Arg "interval" must be greater than 0') end
  if (nargs - 7) % 2 == 1 then
    error('Odd number of additional args: ' .. tostring({}))
  end
  local o_pri, o_tags, o_retries, o_backlog
  for i = 10, nargs, 2 do
    local k = ARGV[i]
    if k == 'priority' then o_pri = ARGV[i + 1]
    elseif k == 'tags' then o_tags = ARGV[i + 1]
    elseif k == 'retries' then o_retries = ARGV[i + 1]
    elseif k == 'backlog' then o_backlog = ARGV[i + 1] end
  end
  local tags = decode(o_tags or '{}')
  if not tags then
    error('Recur(): Arg "tags" must be JSON string array: ' .. tostring(o_tags))
  end
  local pri = o_pri or 0
  if tonumber(pri) == nil then error('Recur(): Arg "priority" not a number: ' .. tostring(o_pri)) end
  local retries = o_retries or 0 -- (sic: 0 here, clients send 5; 16.19)
  if tonumber(retries) == nil then
    error('Recur(): Arg "retries" not a number: ' .. tostring(o_retries))
  end
  local backlog = o_backlog or 0
  if tonumber(backlog) == nil then
    error('Recur(): Arg "backlog" not a number: ' .. tostring(o_backlog))
  end

  local rkey = 'ql:r:' .. jid
  local old = call('hmget', rkey, 'count', 'queue')
  if old[2] then call('zrem', 'ql:q:' .. old[2] .. '-recur', jid) end
  call('hset', rkey, 'jid', jid, 'klass', klass, 'data', raw_data, 'priority', pri,
    'tags', encode(tags), 'state', 'recur', 'queue', queue, 'type', 'interval',
    'count', old[1] or 0, 'interval', raw_interval, 'retries', retries, 'backlog', backlog)
  call('zadd', 'ql:q:' .. queue .. '-recur', now + offset, jid)
  call('zadd', 'ql:queues', 'NX', NOWF, queue)
  return jid
end

-- 6.28 unrecur jid
if cmd == 'unrecur' then
  local jid = ARGV[3]
  if jid == nil then error('Recurring(): no jid provided') end
  local rkey = 'ql:r:' .. jid
  local queue = call('hget', rkey, 'queue')
  if queue then
    call('zrem', 'ql:q:' .. queue .. '-recur', jid)
    call('del', rkey)
  end
  return 1
end

-- 6.29 recur.get jid
if cmd == 'recur.get' then
  local jid = ARGV[3]
  if jid == nil then error('Recurring(): no jid provided') end
  local f = call('hmget', 'ql:r:' .. jid, 'jid', 'klass', 'state', 'queue', 'data',
    'priority', 'interval', 'retries', 'count', 'backlog', 'tags')
  if not f[1] then return nil end
  return '{"jid":' .. encode(f[1])
    .. ',"klass":' .. encode(f[2])
    .. ',"state":' .. encode(f[3])
    .. ',"queue":' .. encode(f[4])
    .. ',"data":' .. encode(f[5])
    .. ',"priority":' .. encode(tonumber(f[6]))
    .. ',"interval":' .. encode(tonumber(f[7]))
    .. ',"retries":' .. encode(tonumber(f[8]))
    .. ',"count":' .. encode(tonumber(f[9]))
    .. ',"backlog":' .. encode(tonumber(f[10] or 0))
    .. ',"tags":' .. (f[11] or '{}')
    .. '}'
end

-- 6.30 recur.update jid key value [key value ...]; pairs apply in order and
-- earlier ones stay when a later one fails.
if cmd == 'recur.update' then
  local jid = ARGV[3]
  if jid == nil then error('Recurring(): no jid provided') end
  local rkey = 'ql:r:' .. jid
  if call('exists', rkey) == 0 then error('Recur(): No recurring job ' .. jid) end
  for i = 4, nargs, 2 do
    local k, v = ARGV[i], ARGV[i + 1]
    if v == nil then error('No value provided for ' .. k) end
    if k == 'priority' or k == 'retries' or k == 'interval' then
      local n = tonumber(v)
      if n == nil then error('Recur(): Arg "' .. k .. '" must be a number: ' .. v) end
      if k == 'interval' then
        -- Shift the next due time by the change of interval.
        local f = call('hmget', rkey, 'interval', 'queue')
        call('zincrby', 'ql:q:' .. f[2] .. '-recur', n - tonumber(f[1]), jid)
      end
      call('hset', rkey, k, v)
    elseif k == 'data' then
      if not decode(v) then error('Recur(): Arg "data" is not JSON-encoded: ' .. v) end
      call('hset', rkey, 'data', v)
    elseif k == 'klass' then
      call('hset', rkey, 'klass', v)
    elseif k == 'queue' then
      local oldq = call('hget', rkey, 'queue')
      local score = call('zscore', 'ql:q:' .. oldq .. '-recur', jid)
      call('zrem', 'ql:q:' .. oldq .. '-recur', jid)
      call('zadd', 'ql:q:' .. v .. '-recur', score, jid)
      call('hset', rkey, 'queue', v)
      call('zadd', 'ql:queues', 'NX', NOWF, v)
    elseif k == 'backlog' then
      if tonumber(v) == nil then error('Recur(): Arg "backlog" not a number: ' .. v) end
      call('hset', rkey, 'backlog', v)
    else
      error('Recur(): Unrecognized option "' .. k .. '"')
    end
  end
  return 1
end

-- 6.31 recur.tag jid tag... / recur.untag jid tag... (template only)
if cmd == 'recur.tag' or cmd == 'recur.untag' then
  local jid = ARGV[3]
  if jid == nil then error('Recurring(): no jid provided') end
  local rkey = 'ql:r:' .. jid
  local raw = call('hget', rkey, 'tags')
  if not raw then
    if cmd == 'recur.tag' then error('Tag(): Job ' .. jid .. ' does not exist') end
    error('Untag(): Job ' .. jid .. ' does not exist')
  end
  local tags = decode(raw)
  local out = {}
  if cmd == 'recur.tag' then
    -- Checked against the list as it was: no de-duplication within a call.
    local had = {}
    for i, t in ipairs(tags) do
      had[t] = true
      out[i] = t
    end
    for i = 4, nargs do
      if not had[ARGV[i]] then out[#out + 1] = ARGV[i] end
    end
  else
    local drop = {}
    for i = 4, nargs do drop[ARGV[i]] = true end
    for _, t in ipairs(tags) do
      if not drop[t] then out[#out + 1] = t end
    end
  end
  local text = encode(out)
  call('hset', rkey, 'tags', text)
  return text
end
