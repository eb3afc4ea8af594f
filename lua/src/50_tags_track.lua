-- 6.15 tag and 6.14 track (spec 13).

if cmd == 'tag' then
  local sub = ARGV[3]
  if sub == 'add' or sub == 'remove' then
    local jid = ARGV[4]
    if jid == nil then error('Tag(): Arg "jid" missing') end
    local key = 'ql:j:' .. jid
    local raw = call('hget', key, 'tags')
    if not raw then error('Tag(): Job ' .. jid .. ' does not exist') end
    local tags = decode(raw)
    local out = {}
    if sub == 'add' then
      local has = {}
      for i, t in ipairs(tags) do
        has[t] = true
        out[i] = t
      end
      for i = 5, nargs do
        local t = ARGV[i]
        if not has[t] then
          has[t] = true
          out[#out + 1] = t
        end
        -- The index score is refreshed and the counter bumped even when the
        -- job already had the tag (16.11).
        call('zadd', 'ql:t:' .. t, NOWF, jid)
        call('zincrby', 'ql:tags', '1', t)
      end
    else
      local drop = {}
      for i = 5, nargs do
        local t = ARGV[i]
        drop[t] = true
        call('zrem', 'ql:t:' .. t, jid)
        call('zincrby', 'ql:tags', '-1', t)
      end
      for _, t in ipairs(tags) do
        if not drop[t] then out[#out + 1] = t end
      end
    end
    local text = encode(out)
    call('hset', key, 'tags', text)
    return text
  elseif sub == 'get' then
    local tag, raw_offset, raw_count = ARGV[4], ARGV[5], ARGV[6]
    if tag == nil then error('Tag(): Arg "tag" missing') end
    local offset = tonumber(raw_offset or 0)
    if offset == nil then error('Tag(): Arg "offset" not a number: ' .. tostring(raw_offset)) end
    local count = tonumber(raw_count or 25)
    if count == nil then error('Tag(): Arg "count" not a number: ' .. tostring(raw_count)) end
    local tkey = 'ql:t:' .. tag
    return '{"total":' .. call('zcard', tkey) .. ',"jobs":'
      .. encode(call('zrange', tkey, offset, offset + count - 1)) .. '}'
  elseif sub == 'top' then
    local raw_offset, raw_count = ARGV[4], ARGV[5]
    local offset = tonumber(raw_offset or 0)
    if offset == nil then error('Tag(): Arg "offset" not a number: ' .. tostring(raw_offset)) end
    local count = tonumber(raw_count or 25)
    if count == nil then error('Tag(): Arg "count" not a number: ' .. tostring(raw_count)) end
    -- Only tags used at least twice (16.11).
    return encode(call('zrevrangebyscore', 'ql:tags', '+inf', 2, 'LIMIT', offset, count))
  elseif sub == nil then
    error('Tag(): Arg "command" must be "add", "remove", "get" or "top"')
  end
  error('Tag(): First argument must be "add", "remove" or "get"')
end

if cmd == 'track' then
  local action, jid = ARGV[3], ARGV[4]
  if action ~= nil then
    if jid == nil then error('Track(): Arg "jid" missing') end
    local st = call('hget', 'ql:j:' .. jid, 'state')
    -- (a job that is moving to another shard is not here: 80_xshard.lua)
    if call('exists', 'ql:j:' .. jid) == 0 or st == 'moving' then
      error('Track(): Job does not exist')
    end
    local a = string.lower(action)
    -- The reply is the JSON text of the ZADD/ZREM result: "1" or "0".
    if a == 'track' then
      call('publish', 'ql:track', jid)
      return encode(call('zadd', 'ql:tracked', NOWF, jid))
    elseif a == 'untrack' then
      call('publish', 'ql:untrack', jid)
      return encode(call('zrem', 'ql:tracked', jid))
    end
    error('Track(): Unknown action "' .. action .. '"')
  end
  local jobs, expired = {}, {}
  local flat = call('zrange', 'ql:tracked', '0', '-1', 'WITHSCORES')
  for i = 1, #flat, 2 do
    local j = job_json(flat[i], nil, flat[i + 1])
    if j then jobs[#jobs + 1] = j else expired[#expired + 1] = flat[i] end
  end
  local jj = '{}'
  if #jobs > 0 then jj = '[' .. concat(jobs, ',') .. ']' end
  return '{"jobs":' .. jj .. ',"expired":' .. encode(expired) .. '}'
end
