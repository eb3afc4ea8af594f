-- A minimal stand-in for the qless script, for testing the benchmark engine
-- on its own: the commands the benchmark sends, with the same argument
-- layout and reply shapes, and nothing else of qless. Keys live under "bstub:".
if #KEYS > 0 then error('No Keys should be provided') end
local cmd, now = ARGV[1], tonumber(ARGV[2])
if cmd == nil then error('Must provide a command') end
if now == nil then error('Arg "now" missing or not a number: nil') end

if cmd == 'put' then
  -- put worker queue jid klass data delay [options...]
  local q, jid = ARGV[4], ARGV[5]
  redis.call('hset', 'bstub:j:' .. jid, 'queue', q, 'state', 'waiting', 'worker', '', 'data', ARGV[7])
  redis.call('zadd', 'bstub:q:' .. q, now, jid)
  return jid
elseif cmd == 'pop' then
  -- pop queue worker count
  local q, worker, count = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local popped = redis.call('zpopmin', 'bstub:q:' .. q, count)
  local jobs = {}
  for i = 1, #popped, 2 do
    local jid = popped[i]
    redis.call('hset', 'bstub:j:' .. jid, 'state', 'running', 'worker', worker)
    table.insert(jobs, {jid = jid, queue = q, worker = worker, expires = now + 60})
  end
  if #jobs == 0 then return '{}' end
  return cjson.encode(jobs)
elseif cmd == 'heartbeat' then
  -- heartbeat jid worker [data]
  local key = 'bstub:j:' .. ARGV[3]
  if redis.call('hget', key, 'worker') ~= ARGV[4] then
    error('Heartbeat(): Job ' .. ARGV[3] .. ' given out to another worker')
  end
  return math.floor(now + 60)
elseif cmd == 'complete' then
  -- complete jid worker queue data
  local key = 'bstub:j:' .. ARGV[3]
  local state, worker, queue = unpack(redis.call('hmget', key, 'state', 'worker', 'queue'))
  if state ~= 'running' or worker ~= ARGV[4] or queue ~= ARGV[5] then
    error('Complete(): Job ' .. ARGV[3] .. ' is not running here')
  end
  redis.call('hset', key, 'state', 'complete', 'worker', '', 'queue', '', 'data', ARGV[6])
  return 'complete'
elseif cmd == 'cancel' then
  local jids = {}
  for i = 3, #ARGV do
    local key = 'bstub:j:' .. ARGV[i]
    local state, queue = unpack(redis.call('hmget', key, 'state', 'queue'))
    if state ~= 'complete' then
      if queue then redis.call('zrem', 'bstub:q:' .. queue, ARGV[i]) end
      redis.call('del', key)
    end
    table.insert(jids, ARGV[i])
  end
  return jids
elseif cmd == 'queue.forget' or cmd == 'worker.deregister' then
  return nil
end
error('Unknown command ' .. cmd)
