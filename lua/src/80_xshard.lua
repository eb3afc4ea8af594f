-- Cross-shard commands (DESIGN section 4; docs/cross-shard.md). They are
-- internal to qless-router: routers and couriers call them, clients do not.
-- Every qless command block above returns, so only these names (and unknown
-- commands) reach this file, and nothing here costs the other commands.
--
-- Keys:
--   ql:x:outbox  hash   intent id -> intent JSON
--   ql:x:due     zset   intent id -> when it may be delivered by a courier
--                       (a router's clock in ms for moves; 0 for resolves)
--   ql:x:seq     string counter of intent ids
--   ql:x:applied:<src>:<id>  marker of an imported intent (with a TTL)
--   ql:x:resolved:<jid>      set of dependencies resolved before the
--                            dependent's edge reached this shard (TTL)
--   ql:x:edges   zset   index of the dependency edges whose other side may
--                       be on another shard, for the reconciler: members
--                       "dent<TAB>D<TAB>J" (J, elsewhere, is in the
--                       dependents of D, here) and "dep<TAB>J<TAB>D" (D,
--                       elsewhere, is in the dependencies of J, here),
--                       scored by when they were last known good (a
--                       router's clock in ms; 0: check at the next pass)
--   ql:j:<jid>   while a job is leaving: its tombstone, fields jid, state
--                "moving", x.intent, x.target (shard), x.queue. It has no
--                queue, tags or worker field, so the commands that read
--                those answer that the job does not exist, and the others
--                that it is not running / is moving (10_jobs.lua).
--   ql:x:rmove:<jid>  while a recurring template is leaving: hash intent
--                (id), target (shard). The template itself is gone from
--                here; a router that finds only this marker delivers the
--                move before it answers a recur command of <jid>.
--
-- An intent is a JSON object: k ("move" or "resolve") and
--   move:    jid, target (shard), kind ("job" or "recur"), queue, set (work, scheduled,
--            depends or recur), score, hash (HGETALL, flat), hist (the
--            history list), deps, dents (dependency and dependent sets),
--            tracked (score or absent), tags (flat tag, score list), qscore
--            (the queue's ql:queues score, when this shard had it), workers
--            (entries left in workers' job sets: {worker, score, the
--            worker's ql:workers score or ""}, or absent).
--   resolve: jid (the dependent), dep (the completed dependency).
-- Both carry now: the `now` of the command that made them (as text), for
-- the scores a delivery writes.

if string.sub(cmd, 1, 2) == 'x.' then
  local EDGES = 'ql:x:edges'
  local function edge(kind, a, b) return kind .. '\t' .. a .. '\t' .. b end
  -- live(jid): the job's hash is here and is not a tombstone.
  local function live(jid)
    local st = call('hget', 'ql:j:' .. jid, 'state')
    return st and st ~= 'moving'
  end
  -- resolve(jid, dep): dependency <dep> of the job <jid> (here) is
  -- satisfied: drop the edge and release the job when it was the last, as
  -- complete does for a local dependent (7). Returns "released" or "ok".
  local function resolve(jid, dep)
    local key = 'ql:j:' .. jid
    local g = call('hmget', key, 'state', 'queue', 'priority', 'scheduled')
    call('srem', key .. '-dependencies', dep)
    call('zrem', EDGES, edge('dep', jid, dep))
    if g[1] ~= 'depends' or not g[2] or g[2] == ''
      or call('scard', key .. '-dependencies') > 0 then
      return 'ok'
    end
    local qk = 'ql:q:' .. g[2]
    call('zrem', qk .. '-depends', jid)
    if g[4] then
      call('zadd', qk .. '-scheduled', g[4], jid)
      call('hset', key, 'state', 'scheduled')
      call('hdel', key, 'scheduled')
    else
      call('zadd', qk .. '-work', (tonumber(g[3]) or 0) - now / 1e10, jid)
      call('hset', key, 'state', 'waiting')
    end
    return 'released'
  end
  -- flat list of a Lua array for a variadic redis.call, in chunks.
  local function each_chunk(list, f)
    local n = #list
    local i = 1
    while i <= n do
      local j = math.min(n, i + 999)
      f(unpack(list, i, j))
      i = j + 1
    end
  end

  -- x.export now <prefix> <target> <stamp> <queue> <carry> [job|recur <jid>]
  -- Moves out of this shard every job (or the one named) that sits in one of
  -- <queue>'s sets here (work, scheduled, depends; recur for templates),
  -- leaving a tombstone per job and an intent per job in the outbox (due at
  -- <stamp>). <carry> 1 moves this shard's ql:queues entry of <queue> with
  -- the first intent. Reply: flat array of intent id, intent JSON, ...
  if cmd == 'x.export' then
    local prefix, target, stamp, queue, carry = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local kind, only = ARGV[8], ARGV[9]
    if not (prefix and target and stamp and queue and carry) then
      error('x.export(): missing arguments')
    end
    local qk = 'ql:q:' .. queue
    local sets = { 'work', 'scheduled', 'depends' }
    if kind == 'recur' then sets = { 'recur' } elseif kind == nil then sets[4] = 'recur' end
    local out = {}
    local qscore
    if carry == '1' then qscore = call('zscore', 'ql:queues', queue) end
    local found -- with <only>: the set that has it, and its score there
    if only then
      for _, set in ipairs(sets) do
        local sc = call('zscore', qk .. '-' .. set, only)
        if sc then
          found = { set, sc }
          break
        end
      end
      if not found then return out end
      sets = { found[1] }
    end
    for _, set in ipairs(sets) do
      local members
      if only then
        members = { only }
      else
        members = call('zrange', qk .. '-' .. set, '0', '-1')
      end
      for _, jid in ipairs(members) do
        local score
        if only then score = found[2] else score = call('zscore', qk .. '-' .. set, jid) end
        local it = { k = 'move', jid = jid, queue = queue, set = set, score = score,
          target = target, now = NOWF }
        local id = 'm' .. call('incr', 'ql:x:seq')
        if set == 'recur' then
          local rk = 'ql:r:' .. jid
          it.kind = 'recur'
          it.hash = call('hgetall', rk)
          call('del', rk)
          call('hset', 'ql:x:rmove:' .. jid, 'intent', id, 'target', target)
        else
          local key = 'ql:j:' .. jid
          it.kind = 'job'
          local h = call('hgetall', key)
          it.hash = h
          local tags
          for i = 1, #h, 2 do
            if h[i] == 'tags' then tags = h[i + 1] end
          end
          it.hist = call('lrange', key .. '-history', '0', '-1')
          it.deps = call('smembers', key .. '-dependencies')
          it.dents = call('smembers', key .. '-dependents')
          it.tracked = call('zscore', 'ql:tracked', jid) or nil
          -- Entries of the job in workers' job sets that the command left:
          -- only `timeout` leaves one (the timed-out worker's; a later
          -- complete, fail or retry by that worker removes it), and it
          -- writes "timed-out" in the history. A worker that had the job
          -- popped it, so the history names it too.
          local ws, seen, timed = {}, {}, false
          for _, e in ipairs(it.hist) do
            if string.find(e, '"timed-out"', 1, true) then
              timed = true
              break
            end
          end
          for _, e in ipairs(timed and it.hist or {}) do
            local q = string.match(e, '^%[[^,]*,"popped",{"worker":(".*")}%]$')
            local wn = q and decode('[' .. q .. ']')[1]
            if wn and not seen[wn] then
              seen[wn] = true
              local wk = 'ql:w:' .. wn .. ':jobs'
              local sc = call('zscore', wk, jid)
              if sc then
                ws[#ws + 1] = { wn, sc, call('zscore', 'ql:workers', wn) or '' }
                call('zrem', wk, jid)
              end
            end
          end
          if #ws > 0 then it.workers = ws end
          local flat = {}
          if tags and tags ~= '{}' and tags ~= '[]' then
            for _, t in ipairs(decode(tags)) do
              local s = call('zscore', 'ql:t:' .. t, jid)
              if s then
                flat[#flat + 1] = t
                flat[#flat + 1] = s
                call('zrem', 'ql:t:' .. t, jid)
                call('zincrby', 'ql:tags', '-1', t)
              end
            end
          end
          it.tags = flat
          if it.tracked then call('zrem', 'ql:tracked', jid) end
          -- The edges of the jobs that stay here with this one become
          -- remote: index them for the reconciler.
          for _, d in ipairs(it.deps) do
            if live(d) then call('zadd', EDGES, stamp, edge('dent', d, jid)) end
          end
          for _, k in ipairs(it.dents) do
            if live(k) then call('zadd', EDGES, stamp, edge('dep', k, jid)) end
          end
          call('del', key, key .. '-history', key .. '-dependencies', key .. '-dependents')
          call('hset', key, 'jid', jid, 'state', 'moving', 'x.intent', id,
            'x.target', target, 'x.queue', queue)
        end
        call('zrem', qk .. '-' .. set, jid)
        if qscore then
          it.qscore = qscore
          qscore = nil
          call('zrem', 'ql:queues', queue)
        end
        local text = encode(it)
        call('hset', 'ql:x:outbox', id, text)
        call('zadd', 'ql:x:due', stamp, id)
        out[#out + 1] = id
        out[#out + 1] = text
      end
    end
    return out
  end

  -- x.import now <id> <intent JSON> <ttl> [stamp [dirttl]]: restores a
  -- moved job (or template) exactly as it was exported; its dependency
  -- edges are indexed for the reconciler as good at <stamp> (default 0).
  -- With <dirttl> (this shard is the jid's home), the jid directory entry
  -- of a job is pointed here (for <dirttl> s) unless the answer is "gone".
  -- Idempotent: <id> (qualified with the source shard by the caller) is
  -- remembered for <ttl> seconds. A job that already lives here (not a
  -- tombstone) is never overwritten.
  -- Reply: "ok", "dup" (applied before, the job is still here), "gone"
  -- (applied before, the job has left or was deleted since: the router must
  -- not point the directory here) or "exists".
  if cmd == 'x.import' then
    local id, text, ttl, stamp, dirttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6] or '0', ARGV[7]
    if not (id and text and ttl) then error('x.import(): missing arguments') end
    local mark = 'ql:x:applied:' .. id
    local it = decode(text)
    local jid = it.jid
    -- This shard is the job's home: its directory entry points here.
    local function point()
      if dirttl and it.kind == 'job' then
        call('set', 'ql:x:loc:' .. jid, it.target, 'EX', dirttl)
      end
    end
    if call('exists', mark) == 1 then
      -- Applied before: is the job (or template) still here?
      if it.kind == 'recur' then
        if call('exists', 'ql:r:' .. jid) == 1 then return 'dup' end
      elseif live(jid) then
        point()
        return 'dup'
      end
      return 'gone'
    end
    local qk = 'ql:q:' .. it.queue
    local reply = 'ok'
    if it.kind == 'recur' then
      local rk = 'ql:r:' .. jid
      if call('exists', rk) == 1 then
        -- A template of this jid was made here while this one was in
        -- flight (templates have no tombstone): the newer one stays.
        reply = 'exists'
      else
        each_chunk(it.hash, function(...) call('hset', rk, ...) end)
        call('zadd', qk .. '-' .. it.set, it.score, jid)
      end
    else
      local key = 'ql:j:' .. jid
      local st = call('hget', key, 'state')
      if st and st ~= 'moving' then
        reply = 'exists'
      else
        call('del', key, key .. '-history', key .. '-dependencies', key .. '-dependents')
        each_chunk(it.hash, function(...) call('hset', key, ...) end)
        each_chunk(it.hist, function(...) call('rpush', key .. '-history', ...) end)
        each_chunk(it.deps, function(...) call('sadd', key .. '-dependencies', ...) end)
        each_chunk(it.dents, function(...) call('sadd', key .. '-dependents', ...) end)
        for _, d in ipairs(it.deps) do call('zadd', EDGES, stamp, edge('dep', jid, d)) end
        for _, k in ipairs(it.dents) do call('zadd', EDGES, stamp, edge('dent', jid, k)) end
        if it.tracked then call('zadd', 'ql:tracked', it.tracked, jid) end
        for _, w in ipairs(it.workers or {}) do
          call('zadd', 'ql:w:' .. w[1] .. ':jobs', w[2], jid)
          -- (the registry lists the worker here too, seen when it was
          -- there, so that `workers` counts this entry)
          if w[3] ~= '' then call('zadd', 'ql:workers', 'GT', w[3], w[1]) end
        end
        local tags = it.tags
        for i = 1, #tags, 2 do
          call('zadd', 'ql:t:' .. tags[i], tags[i + 1], jid)
          call('zincrby', 'ql:tags', '1', tags[i])
        end
        -- Dependencies resolved while this job was on its way.
        local rk = 'ql:x:resolved:' .. jid
        if call('exists', rk) == 1 then
          for _, d in ipairs(call('smembers', rk)) do call('srem', key .. '-dependencies', d) end
          call('del', rk)
          if it.set == 'depends' and call('scard', key .. '-dependencies') == 0 then
            local g = call('hmget', key, 'priority', 'scheduled')
            if g[2] then
              it.set, it.score = 'scheduled', g[2]
              call('hset', key, 'state', 'scheduled')
              call('hdel', key, 'scheduled')
            else
              it.set, it.score = 'work', (tonumber(g[1]) or 0) - now / 1e10
              call('hset', key, 'state', 'waiting')
            end
          end
        end
        call('zadd', qk .. '-' .. it.set, it.score, jid)
      end
    end
    if it.qscore then call('zadd', 'ql:queues', 'LT', it.qscore, it.queue) end
    call('set', mark, '1', 'EX', ttl)
    point()
    return reply
  end

  -- x.ack now <id> <jid> [target dirttl]: the intent was applied: forget
  -- it, and the job's tombstone (or the template's marker) if it is still
  -- this intent's. With <target>
  -- and <dirttl> (this shard is the jid's home), the jid directory entry is
  -- pointed at <target> first.
  if cmd == 'x.ack' then
    local id, jid, target, dirttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
    if not (id and jid) then error('x.ack(): missing arguments') end
    if target and dirttl then call('set', 'ql:x:loc:' .. jid, target, 'EX', dirttl) end
    call('hdel', 'ql:x:outbox', id)
    call('zrem', 'ql:x:due', id)
    local key = 'ql:j:' .. jid
    local f = call('hmget', key, 'state', 'x.intent')
    if f[1] == 'moving' and f[2] == id then call('del', key) end
    local mk = 'ql:x:rmove:' .. jid
    if call('hget', mk, 'intent') == id then call('del', mk) end
    return 1
  end

  -- x.pending now <max> <limit>: intents due at or before <max>, oldest
  -- first. Reply: flat array of id, intent JSON.
  if cmd == 'x.pending' then
    local max, limit = ARGV[3], ARGV[4]
    if not (max and limit) then error('x.pending(): missing arguments') end
    local ids = call('zrangebyscore', 'ql:x:due', '-inf', max, 'LIMIT', '0', limit)
    local out = {}
    for _, id in ipairs(ids) do
      local text = call('hget', 'ql:x:outbox', id)
      if text then
        out[#out + 1] = id
        out[#out + 1] = text
      else
        call('zrem', 'ql:x:due', id)
      end
    end
    return out
  end

  -- x.intent now <id>: one intent's JSON, or nil when it was acknowledged.
  if cmd == 'x.intent' then
    return call('hget', 'ql:x:outbox', ARGV[3] or '')
  end

  -- x.resolve now <jid> <dep> <ttl>: dependency <dep>, on another shard,
  -- has completed: drop the edge of <jid> (this shard) and release it when
  -- it was the last one, as complete does for a local dependent (7).
  -- Reply: "released", "ok", "moving" (a tombstone: deliver the move first)
  -- or "absent" (remembered for <ttl> s in case the edge is on its way).
  if cmd == 'x.resolve' then
    local jid, dep, ttl = ARGV[3], ARGV[4], ARGV[5]
    if not (jid and dep and ttl) then error('x.resolve(): missing arguments') end
    local st = call('hget', 'ql:j:' .. jid, 'state')
    if st == 'moving' then return 'moving' end
    if not st then
      local rk = 'ql:x:resolved:' .. jid
      call('sadd', rk, dep)
      call('expire', rk, ttl)
      return 'absent'
    end
    return resolve(jid, dep)
  end

  -- x.link now <dep> <jid> [stamp]: register <jid> (on another shard) as
  -- a dependent of <dep>, here, unless <dep> is complete or absent (then
  -- the dependency is satisfied, as dep_add decides on one shard). The edge
  -- is indexed for the reconciler as good at <stamp> (default 0).
  -- Reply: "linked", "already" (the edge was there), "satisfied" or
  -- "moving".
  if cmd == 'x.link' then
    local dep, jid = ARGV[3], ARGV[4]
    if not (dep and jid) then error('x.link(): missing arguments') end
    local st = call('hget', 'ql:j:' .. dep, 'state')
    if st == 'moving' then return 'moving' end
    if not st or st == 'complete' then return 'satisfied' end
    local added = call('sadd', 'ql:j:' .. dep .. '-dependents', jid)
    call('zadd', EDGES, ARGV[5] or '0', edge('dent', dep, jid))
    if added == 0 then return 'already' end
    return 'linked'
  end

  -- x.unlink now <dep> <jid>...: forget dependents of <dep> (their edges
  -- were dropped on their own shards).
  if cmd == 'x.unlink' then
    local dep = ARGV[3]
    if not dep or nargs < 4 then error('x.unlink(): missing arguments') end
    for i = 4, nargs do call('zrem', EDGES, edge('dent', dep, ARGV[i])) end
    return call('srem', 'ql:j:' .. dep .. '-dependents', unpack(ARGV, 4))
  end

  -- x.deps now <jid> <delay> <queue> <stamp> <dep>...: add dependencies that live
  -- on other shards (already linked there) to <jid>, and place it in its
  -- queue's depends set as put or complete would have with these edges;
  -- with a <delay> > 0 the job keeps now + delay in the hidden `scheduled`
  -- field. A non-empty <queue> is the queue a put or complete just placed
  -- the job in, in the same transaction: when the job's queue and time do
  -- not show that command (it failed), nothing is done. Dependencies
  -- resolved meanwhile (x.resolve answered "absent") are skipped.
  -- The edges are indexed for the reconciler as good at <stamp>.
  -- Reply: the number of edges added.
  if cmd == 'x.deps' then
    local jid, delay, queue, stamp = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
    if not jid or not delay or nargs < 7 then error('x.deps(): missing arguments') end
    local key = 'ql:j:' .. jid
    local g = call('hmget', key, 'state', 'queue', 'time')
    if not g[1] or g[1] == 'moving' or not g[2] or g[2] == '' then return 0 end
    if queue ~= '' and (g[2] ~= queue or g[3] ~= sfmt('%.20f', now)) then return 0 end
    local rk = 'ql:x:resolved:' .. jid
    local added = 0
    for i = 7, nargs do
      if call('sismember', rk, ARGV[i]) == 0 then
        added = added + call('sadd', key .. '-dependencies', ARGV[i])
        call('zadd', EDGES, stamp, edge('dep', jid, ARGV[i]))
      end
    end
    if added == 0 then return 0 end
    local qk = 'ql:q:' .. g[2]
    if g[1] == 'waiting' or g[1] == 'scheduled' then
      call('zrem', qk .. '-work', jid)
      call('zrem', qk .. '-scheduled', jid)
      call('zadd', qk .. '-depends', NOWF, jid)
      call('hset', key, 'state', 'depends')
      if delay > 0 then call('hset', key, 'scheduled', now + delay) end
    end
    return added
  end

  -- x.depsof now <jid>: the dependencies of <jid> (for a router that
  -- needs them in the same transaction as a command that drops them).
  if cmd == 'x.depsof' then
    return call('smembers', 'ql:j:' .. (ARGV[3] or '') .. '-dependencies')
  end

  -- x.edges now <max> <limit>: the indexed edges last known good at or
  -- before <max>, oldest first. Reply: flat array of members.
  if cmd == 'x.edges' then
    local max, limit = ARGV[3], ARGV[4]
    if not (max and limit) then error('x.edges(): missing arguments') end
    return call('zrangebyscore', EDGES, '-inf', max, 'LIMIT', '0', limit)
  end

  -- x.edge now <member> <max>: what this shard knows of an indexed edge
  -- last known good at or before <max> (a re-registered one is skipped).
  -- "gone": the edge is no longer here (its job left or dropped it);
  -- "local": both jobs are here now, and the edge is whole;
  -- "dropped", "resolved", "relinked": both jobs are here and one half was
  -- missing (a router died between the halves), repaired as the "remote"
  -- case below would;
  -- "remote": the other side is elsewhere, for the router to check;
  -- "skip": re-registered after <max>.
  -- Every answer but "remote" and "skip" drops the edge from the index.
  if cmd == 'x.edge' then
    local m, max = ARGV[3], tonumber(ARGV[4])
    if not (m and max) then error('x.edge(): missing arguments') end
    local score = tonumber(call('zscore', EDGES, m))
    if not score or score > max then return 'skip' end
    local kind, a, b = string.match(m, '^(%a+)\t([^\t]*)\t(.*)$')
    local set
    if kind == 'dent' then set = '-dependents' elseif kind == 'dep' then set = '-dependencies' end
    if not set or not live(a) or call('sismember', 'ql:j:' .. a .. set, b) == 0 then
      call('zrem', EDGES, m)
      return 'gone'
    end
    if not live(b) then return 'remote' end
    call('zrem', EDGES, m)
    if kind == 'dent' then
      -- b depends on a: b must list a.
      if call('sismember', 'ql:j:' .. b .. '-dependencies', a) == 1 then return 'local' end
      call('srem', 'ql:j:' .. a .. '-dependents', b)
      return 'dropped'
    end
    -- a depends on b: b must list a, unless b is complete.
    if call('sismember', 'ql:j:' .. b .. '-dependents', a) == 1 then return 'local' end
    if call('hget', 'ql:j:' .. b, 'state') == 'complete' then
      resolve(a, b)
      return 'resolved'
    end
    call('sadd', 'ql:j:' .. b .. '-dependents', a)
    return 'relinked'
  end

  -- x.edgefix now <member> <max> keep <stamp> | drop: unless the edge was
  -- re-registered after <max> (its score is greater, or it left the
  -- index), mark it good at <stamp>, or drop it: for "dent D J", J leaves
  -- the dependents of D. (A "dep" edge is dropped with x.resolve.)
  -- Reply: "kept", "dropped" or "skip".
  if cmd == 'x.edgefix' then
    local m, max, action = ARGV[3], tonumber(ARGV[4]), ARGV[5]
    if not (m and max and action) then error('x.edgefix(): missing arguments') end
    local score = tonumber(call('zscore', EDGES, m))
    if not score or score > max then return 'skip' end
    if action == 'keep' then
      call('zadd', EDGES, ARGV[6] or '0', m)
      return 'kept'
    end
    local kind, a, b = string.match(m, '^(%a+)\t([^\t]*)\t(.*)$')
    if kind ~= 'dent' or action ~= 'drop' then error('x.edgefix(): cannot ' .. action .. ' ' .. m) end
    call('srem', 'ql:j:' .. a .. '-dependents', b)
    call('zrem', EDGES, m)
    return 'dropped'
  end
end
