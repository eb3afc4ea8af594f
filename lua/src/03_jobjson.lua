-- 2.2: the job JSON of get, multiget, peek, pop and track.

-- job_hmget(key, all) reads a job hash in the layout job_json expects:
--  1 klass, 2 queue, 3 priority, 4 retries, 5 remaining, 6 data, 7 tags,
--  8 failure, 9 spawned_from_jid, 10 history (legacy field), 11 time,
--  and with `all` also 12 jid, 13 state, 14 worker, 15 expires (pop knows
--  those four itself and saves reading them).
local job_hmget, job_json
if LIB or cmd == 'pop' or cmd == 'peek' or cmd == 'get' or cmd == 'multiget'
  or cmd == 'track' then
  job_hmget = function(key, all)
    if all then
      return call('hmget', key, 'klass', 'queue', 'priority', 'retries',
        'remaining', 'data', 'tags', 'failure', 'spawned_from_jid', 'history',
        'time', 'jid', 'state', 'worker', 'expires')
    end
    return call('hmget', key, 'klass', 'queue', 'priority', 'retries',
      'remaining', 'data', 'tags', 'failure', 'spawned_from_jid', 'history', 'time')
  end

  -- num(v): JSON of tonumber(v) (cjson: 14 significant digits). A stored
  -- single digit is its own JSON, which spares two conversions.
  local function num(v)
    if v and #v == 1 then
      local c = string.byte(v)
      if c >= 48 and c <= 57 then return v end
    end
    return encode(tonumber(v))
  end

  -- job_json(jid, f, tracked) returns the job JSON text, or nil when the job
  -- does not exist. f: fields from job_hmget(key, true) (read here when nil;
  -- a given f must already have its legacy history migrated). tracked: the
  -- ZSCORE of the jid in ql:tracked when the caller has it (nil: read here).
  job_json = function(jid, f, tracked)
    local key = 'ql:j:' .. jid
    if f == nil then
      f = job_hmget(key, true)
      if not f[12] then return nil end
      if f[10] then hist_push(jid, nil, nil, nil, f[10]) end
    end
    if tracked == nil then tracked = call('zscore', 'ql:tracked', jid) end

    -- History entries become objects: the details' keys plus when and what.
    -- Details that are not a table fail like the reference (2.3).
    local hist = call('lrange', key .. '-history', '0', '-1')
    local hj
    if #hist == 0 then
      hj = '{}'
    else
      local parts = {}
      for i = 1, #hist do
        local e = hist[i]
        -- [when,"what",{details}] or [when,"what"] without backslashes
        -- (so quotes are plain) is rewritten with one match; details with a
        -- key when/what, and everything else, take the decode path.
        local w, what, inner = string.match(e, '^%[([^,]*),("[^"\\]*"),{([^\\]*)}%]$')
        if w then
          if inner == '' then
            parts[i] = '{"when":' .. w .. ',"what":' .. what .. '}'
          elseif not string.find(inner, '"wh', 1, true) then
            parts[i] = '{' .. inner .. ',"when":' .. w .. ',"what":' .. what .. '}'
          end
        else
          w, what = string.match(e, '^%[([^,]*),("[^"\\]*")%]$')
          if w then parts[i] = '{"when":' .. w .. ',"what":' .. what .. '}' end
        end
        if not parts[i] then
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

    -- One EXISTS answers for both sets in the common case (no edges).
    local dependents, dependencies = '{}', '{}'
    if call('exists', key .. '-dependents', key .. '-dependencies') > 0 then
      dependents = encode(call('smembers', key .. '-dependents'))
      dependencies = encode(call('smembers', key .. '-dependencies'))
    end

    local expires = f[15]
    if expires == '' or not expires then
      expires = '0'
    elseif expires ~= '0' then
      expires = encode(tonumber(expires) or 0)
    end
    local remaining = f[5]
    if not (remaining and #remaining == 1 and string.byte(remaining) >= 48
        and string.byte(remaining) <= 57) then
      remaining = encode(floor(tonumber(remaining) or 0))
    end

    return '{"jid":' .. encode(f[12])
      .. ',"klass":' .. encode(f[1])
      .. ',"state":' .. encode(f[13])
      .. ',"queue":' .. encode(f[2])
      .. ',"worker":' .. encode(f[14])
      .. ',"tracked":' .. (tracked and 'true' or 'false')
      .. ',"priority":' .. num(f[3])
      .. ',"expires":' .. expires
      .. ',"retries":' .. num(f[4])
      .. ',"remaining":' .. remaining
      .. ',"data":' .. encode(f[6])
      .. ',"tags":' .. (f[7] or '{}')
      .. ',"history":' .. hj
      .. ',"failure":' .. (f[8] or '{}')
      .. ',"spawned_from_jid":' .. (f[9] and encode(f[9]) or 'false')
      .. ',"dependents":' .. dependents
      .. ',"dependencies":' .. dependencies
      .. '}'
  end
end
