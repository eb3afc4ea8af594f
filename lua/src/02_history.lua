-- 2.3: job history list ql:j:<jid>-history, entries [when, what(, details)].

-- hist_push(jid, what, details, limit, legacy, when) appends one entry.
--   what, details: JSON texts (details may be nil); when: JSON text, default
--   floor(now); limit: max-job-history if the caller already read it (nil:
--   read only when a trim is possible); legacy: the job's old-style `history`
--   field, which is migrated into the list and deleted first (2.3).
-- With what == nil it only migrates (used by reads such as get).
local hist_push
if LIB or cmd ~= 'heartbeat' and cmd ~= 'config.get' and cmd ~= 'config.set'
  and cmd ~= 'config.unset' and cmd ~= 'length' and cmd ~= 'pause'
  and cmd ~= 'unpause' then
  hist_push = function(jid, what, details, limit, legacy, when)
    local hkey = 'ql:j:' .. jid .. '-history'
    if legacy then
      -- Old-style history: a JSON array of {q, put, popped, worker, failed, done}.
      local items = {}
      for _, h in ipairs(decode(legacy)) do
        items[#items + 1] = encode({ floor(h.put), 'put', { q = h.q } })
        if h.popped then items[#items + 1] = encode({ floor(h.popped), 'popped', { worker = h.worker } }) end
        if h.failed then items[#items + 1] = encode({ floor(h.failed), 'failed' }) end
        if h.done then items[#items + 1] = encode({ floor(h.done), 'done' }) end
      end
      if #items > 0 then call('rpush', hkey, unpack(items)) end
      call('hdel', 'ql:j:' .. jid, 'history')
    end
    if what == nil then return end
    if when == nil then
      if WHEN == nil then
        -- cjson's "%.14g" of floor(now); "%d" is the same text in range.
        -- ("%d" truncates, which is floor for a positive time)
        if now > 0 and now < 1e14 then WHEN = sfmt('%d', now) else WHEN = encode(floor(now)) end
      end
      when = WHEN
    end
    local entry
    if details then
      entry = '[' .. when .. ',' .. what .. ',' .. details .. ']'
    else
      entry = '[' .. when .. ',' .. what .. ']'
    end
    local len = call('rpush', hkey, entry)
    -- The cap: before an append the reference pops the first entry, trims
    -- the rest to its last (limit - 2) entries (an LTRIM from index 2-limit)
    -- and pushes the first back. Appending first and trimming afterwards
    -- yields the same list. Lists of at most 2 entries never lose any, so
    -- the common case costs the RPUSH alone.
    if len < 3 then return end
    limit = limit or tonumber(call('hget', 'ql:config', 'max-job-history') or DEF_MAX_JOB_HISTORY)
    if limit <= 0 then return end
    local rest = len - 2 -- entries between the first and the new one
    local kept
    if limit > 2 then
      kept = limit - 2
      if rest < kept then kept = rest end
    elseif limit == 2 then
      kept = rest -- LTRIM 0 -1 keeps everything (quirk: no trimming)
    else
      kept = rest - 1 -- limit 1: LTRIM 1 -1 drops one (quirk: 2 entries stay)
    end
    if kept < rest then
      local first = call('lpop', hkey)
      call('ltrim', hkey, -(kept + 1), '-1')
      call('lpush', hkey, first)
    end
  end
end
