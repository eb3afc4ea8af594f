-- 6.4 config.get [option], config.set option value, config.unset option (spec 3).

if cmd == 'config.get' then
  local option = ARGV[3]
  local conf = {
    application = 'qless',
    heartbeat = DEF_HEARTBEAT,
    ['grace-period'] = DEF_GRACE,
    ['jobs-history'] = DEF_JOBS_HISTORY,
    ['jobs-history-count'] = DEF_JOBS_HISTORY_COUNT,
    ['stats-history'] = 30,
    ['histogram-history'] = 7,
  }
  if option == nil then
    -- Defaults are JSON numbers, stored values JSON strings.
    local flat = call('hgetall', 'ql:config')
    for i = 1, #flat, 2 do conf[flat[i]] = flat[i + 1] end
    return encode(conf)
  end
  -- A stored value is a bulk string; a numeric default an integer reply.
  return call('hget', 'ql:config', option) or conf[option]
end

if cmd == 'config.set' then
  local option, value = ARGV[3], ARGV[4]
  if option == nil then error('config.set(): Arg "option" missing') end
  if value == nil then error('config.set(): Arg "value" missing') end
  call('publish', 'ql:log', '{"option":' .. encode(option)
    .. ',"event":"config_set","value":' .. encode(value) .. '}')
  call('hset', 'ql:config', option, value)
  return nil
end

if cmd == 'config.unset' then
  local option = ARGV[3]
  if option == nil then error('config.unset(): Arg "option" missing') end
  call('publish', 'ql:log', '{"event":"config_unset","option":' .. encode(option) .. '}')
  call('hdel', 'ql:config', option)
  return nil
end
