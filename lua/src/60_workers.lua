-- 6.13 workers [worker] and 6.33 worker.deregister worker... (spec 10).

if cmd == 'workers' then
  -- Pruning first: workers idle longer than max-worker-age lose their job sets.
  local cutoff = now - tonumber(call('hget', 'ql:config', 'max-worker-age') or DEF_MAX_WORKER_AGE)
  local idle = call('zrangebyscore', 'ql:workers', '0', cutoff)
  if #idle > 0 then
    for _, w in ipairs(idle) do call('del', 'ql:w:' .. w .. ':jobs') end
    call('zremrangebyscore', 'ql:workers', '0', cutoff)
  end
  -- A lock expiring exactly at now counts as both running and stalled (16.15).
  local horizon = now + 8640000
  local worker = ARGV[3]
  if worker ~= nil then
    local wk = 'ql:w:' .. worker .. ':jobs'
    return '{"jobs":' .. encode(call('zrevrangebyscore', wk, horizon, NOWF))
      .. ',"stalled":' .. encode(call('zrevrangebyscore', wk, NOWF, '0')) .. '}'
  end
  local names = call('zrevrange', 'ql:workers', '0', '-1')
  if #names == 0 then return '{}' end
  local out = {}
  for i, w in ipairs(names) do
    local wk = 'ql:w:' .. w .. ':jobs'
    out[i] = '{"name":' .. encode(w)
      .. ',"jobs":' .. call('zcount', wk, NOWF, horizon)
      .. ',"stalled":' .. call('zcount', wk, '0', NOWF) .. '}'
  end
  return '[' .. concat(out, ',') .. ']'
end

if cmd == 'worker.deregister' then
  call('zrem', 'ql:workers', unpack(ARGV, 3))
  return nil
end
