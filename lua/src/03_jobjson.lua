-- 2.2: the job JSON of get, multiget, peek, pop and track.

-- job_hmget(key, all) reads a job hash in the layout job_json expects:
--  1 klass, 2 queue, 3 priority, 4 retries, 5 remaining, 6 data, 7 tags,
--  8 failure, 9 spawned_from_jid, 10 history (legacy field), 11 time,
--  and with `all` also 12 jid, 13 state, 14 worker, 15 expires (pop knows
--  those four itself and saves reading them).
-- jnum(v): JSON of tonumber(v) (cjson: 14 significant digits); jint(v): of
-- floor(tonumber(v) or 0). A stored single digit is its own JSON, which
-- spares two conversions.
-- hist_items(hist): the entries of a history list (LRANGE) as the JSON
-- objects of the job JSON, joined by commas.
-- job_json(jid, f, tracked): see below.
local job_hmget, jnum, jint, hist_items, job_json
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

  jnum = function(v)
    if v and #v == 1 then
      local c = sbyte(v)
      if c >= 48 and c <= 57 then return v end
    end
    return encode(tonumber(v))
  end
  jint = function(v)
    if v and #v == 1 then
      local c = sbyte(v)
      if c >= 48 and c <= 57 then return v end
    end
    return encode(floor(tonumber(v) or 0))
  end

  -- One entry [when,"what",{details}] becomes {details...,"when":..,"what":..}.
  -- [when,"what",{details}] or [when,"what"] without backslashes (so quotes
  -- are plain) is rewritten with one match; details with a key when/what,
  -- and everything else, take the decode path, which fails like the
  -- reference when the details are not a table (2.3).
  local function item(e)
    local w, what, inner = smatch(e, '^%[([^,]*),("[^"\\]*"),{([^\\]*)}%]$')
    if w then
      if inner == '' then
        return '{"when":' .. w .. ',"what":' .. what .. '}'
      elseif not sfind(inner, '"wh', 1, true) then
        return '{' .. inner .. ',"when":' .. w .. ',"what":' .. what .. '}'
      end
    else
      w, what = smatch(e, '^%[([^,]*),("[^"\\]*")%]$')
      if w then return '{"when":' .. w .. ',"what":' .. what .. '}' end
    end
    local t = decode(e)
    local d = t[3]
    if d == nil then d = {} end
    d.when = t[1]
    d.what = t[2]
    return encode(d)
  end
  hist_items = function(hist)
    local n = #hist
    if n == 1 then return item(hist[1]) end
    if n == 2 then return item(hist[1]) .. ',' .. item(hist[2]) end
    if n == 0 then return '' end
    local parts = {}
    for i = 1, n do parts[i] = item(hist[i]) end
    return concat(parts, ',')
  end

end
-- (pop builds its own JSON, 20_queues.lua)
if LIB or cmd == 'peek' or cmd == 'get' or cmd == 'multiget' or cmd == 'track' then
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

    local hist = call('lrange', key .. '-history', '0', '-1')
    local hj = '{}'
    if #hist > 0 then hj = '[' .. hist_items(hist) .. ']' end

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

    return '{"jid":' .. encode(f[12])
      .. ',"klass":' .. encode(f[1])
      .. ',"state":' .. encode(f[13])
      .. ',"queue":' .. encode(f[2])
      .. ',"worker":' .. encode(f[14])
      .. ',"tracked":' .. (tracked and 'true' or 'false')
      .. ',"priority":' .. jnum(f[3])
      .. ',"expires":' .. expires
      .. ',"retries":' .. jnum(f[4])
      .. ',"remaining":' .. jint(f[5])
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
