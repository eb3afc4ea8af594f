-- 2.2: the job JSON of get, multiget, peek, pop and track.

-- job_hmget(key) reads a job hash in the layout job_json expects:
--  1 jid, 2 klass, 3 state, 4 queue, 5 worker, 6 priority, 7 expires,
--  8 retries, 9 remaining, 10 data, 11 tags, 12 failure,
--  13 spawned_from_jid, 14 history (legacy field), 15 time.
local job_hmget, job_json
if cmd == 'pop' or cmd == 'peek' or cmd == 'get' or cmd == 'multiget'
  or cmd == 'track' then
  job_hmget = function(key)
    return call('hmget', key, 'jid', 'klass', 'state', 'queue', 'worker',
      'priority', 'expires', 'retries', 'remaining', 'data', 'tags', 'failure',
      'spawned_from_jid', 'history', 'time')
  end

  -- job_json(jid, f, tracked) returns the job JSON text, or nil when the job
  -- does not exist. f: fields from job_hmget (read here when nil; a given f
  -- must already have its legacy history migrated). tracked: the ZSCORE of
  -- the jid in ql:tracked when the caller has it (nil: read here).
  job_json = function(jid, f, tracked)
    local key = 'ql:j:' .. jid
    if f == nil then
      f = job_hmget(key)
      if not f[1] then return nil end
      if f[14] then hist_push(jid, nil, nil, nil, f[14]) end
    end
    if tracked == nil then tracked = call('zscore', 'ql:tracked', jid) end

    -- History entries become objects: the details' keys plus when and what.
    -- Entries the server writes ([when,"what"] or [when,"what",{...}] without
    -- keys named when/what) are rewritten as text; anything else goes through
    -- decode/encode. Details that are not a table fail like the reference.
    local hist = call('lrange', key .. '-history', 0, -1)
    local hj
    if #hist == 0 then
      hj = '{}'
    else
      local parts = {}
      for i = 1, #hist do
        local e = hist[i]
        local w, what, rest = smatch(e, '^%[(%-?%d+),("[^"\\]*")(.*)%]$')
        if w and rest == '' then
          parts[i] = '{"when":' .. w .. ',"what":' .. what .. '}'
        elseif w and ssub(rest, 1, 2) == ',{' and not sfind(rest, '"wh', 1, true) then
          if rest == ',{}' then
            parts[i] = '{"when":' .. w .. ',"what":' .. what .. '}'
          else
            parts[i] = ssub(rest, 2, -2) .. ',"when":' .. w .. ',"what":' .. what .. '}'
          end
        else
          local t = decode(e)
          local d = t[3]
          if d == nil then d = {} end
          d.when = t[1]
          d.what = t[2]
          parts[i] = encode(d)
        end
      end
      hj = '[' .. concat(parts, ',') .. ']'
    end

    return '{"jid":' .. encode(f[1])
      .. ',"klass":' .. encode(f[2])
      .. ',"state":' .. encode(f[3])
      .. ',"queue":' .. encode(f[4])
      .. ',"worker":' .. encode(f[5])
      .. ',"tracked":' .. (tracked and 'true' or 'false')
      .. ',"priority":' .. encode(tonumber(f[6]))
      .. ',"expires":' .. encode(tonumber(f[7]) or 0)
      .. ',"retries":' .. encode(tonumber(f[8]))
      .. ',"remaining":' .. encode(floor(tonumber(f[9]) or 0))
      .. ',"data":' .. encode(f[10])
      .. ',"tags":' .. (f[11] or '{}')
      .. ',"history":' .. hj
      .. ',"failure":' .. (f[12] or '{}')
      .. ',"spawned_from_jid":' .. encode(f[13])
      .. ',"dependents":' .. encode(call('smembers', key .. '-dependents'))
      .. ',"dependencies":' .. encode(call('smembers', key .. '-dependencies'))
      .. '}'
  end
end
