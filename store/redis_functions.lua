#!lua name=tock_v1
--[[
redis_functions.lua: the Redis Functions library of tock's store, schema 1.

Loaded by every tock process at open with FUNCTION LOAD REPLACE (CMake
embeds this file into libtock as a C string: store/redis_lua.c). It is fixed
text: nothing in it is ever built from input, and every datum arrives in
ARGV. Each function is one atomic step of store/store.h; store/redis.c has
the numbered steps ("ON claim: 1. ...") and docs/redis-keys.md every key.

Calling convention. Every function is called with exactly one key, the
namespace's meta hash "tock:{ns}:meta"; the namespace prefix "tock:{ns}:"
is derived from it, and every other key the function touches is built from
that prefix. All of them share the hash tag {ns}, so on a cluster they
live in the meta key's slot (docs/redis-keys.md, "Declared keys"). ARGV[1]
to ARGV[3] are the caller's history bounds: events_max (entries of the
events and results streams), runs_max (entries of a job's runs stream), and
occ_ttl_ms (how long a finished occurrence record is kept). The function's
own arguments follow from ARGV[4].

Replies. Expected outcomes (a missing job, a stale token) are normal
replies whose first element names the outcome; only bugs and Redis'
own refusals (OOM, NOPERM, ...) are errors.

Rules the code keeps:
  * check-then-write: a function reads and decides everything about an
    item before its first write, because a script has no rollback;
  * numbers are formatted with fmt() before they reach Redis: Lua numbers
    are doubles, and tostring() would print 15-digit times as 2.5e+14;
  * the only clock is TIME, read once per call through now(), never
    below the high-water mark meta.clock_hwm_ms;
  * task streams are never trimmed: entries leave them by XACK + XDEL when
    their task is finished (a MAXLEN could drop entries still pending).
    History streams (runs, results, events) are capped with MAXLEN ~.
]]

local SCHEMA = '1'
local GROUP = 'workers'
-- The consumer that holds entries between deliveries (a reclaimed or
-- handed-back task). Its name has a space, which no worker's consumer name
-- can have (the store refuses them), so it can never collide with one.
local READY = 'tock ready'
local BATCH = 256 -- TOCK_CLAIM_MAX: bound of every loop over stored data
local SEQ_LIMIT = 1048576 -- 2^20: task ids pack as ms * 2^20 + seq

-- ----------------------------------------------------------------- helpers

local function fmt(n)
  return string.format('%d', n)
end

local function num(v, default)
  if v == nil or v == false or v == '' then
    return default
  end
  return tonumber(v)
end

local function ctx_new(keys, args)
  local c = {}
  c.meta = keys[1]
  c.p = string.sub(keys[1], 1, #keys[1] - 4) -- "tock:{ns}:"
  c.events_max = args[1]
  c.runs_max = args[2]
  c.occ_ttl = args[3]
  return c
end

-- now is Redis TIME in ms, kept from going backwards by meta.clock_hwm_ms.
local function now(c)
  if c.now then
    return c.now
  end
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local hwm = num(redis.call('HGET', c.meta, 'clock_hwm_ms'), 0)
  if ms < hwm then
    ms = hwm
  elseif ms > hwm then
    redis.call('HSET', c.meta, 'clock_hwm_ms', fmt(ms))
  end
  c.now = ms
  return ms
end

local function final_status(s)
  return s ~= nil and s ~= false and s ~= 'dispatched' and s ~= 'running'
end

-- event appends one line to the events stream (nil fields are left out).
local function event(c, typ, job, occ, node, detail)
  local a = {'XADD', c.p .. 'events', 'MAXLEN', '~', c.events_max, '*',
             'type', typ, 'ts_ms', fmt(now(c))}
  if job then a[#a + 1] = 'job'; a[#a + 1] = job end
  if occ then a[#a + 1] = 'occ'; a[#a + 1] = occ end
  if node and node ~= '' then a[#a + 1] = 'node'; a[#a + 1] = node end
  if detail and detail ~= '' then a[#a + 1] = 'detail'; a[#a + 1] = detail end
  redis.call(unpack(a))
end

-- run_record appends the state of one occurrence to the job's runs stream.
-- f is a list of field, value pairs (strings); output goes last.
local function run_record(c, job, f)
  local a = {'XADD', c.p .. 'runs:' .. job, 'MAXLEN', '~', c.runs_max, '*'}
  for i = 1, #f do a[#a + 1] = f[i] end
  redis.call(unpack(a))
end

-- ------------------------------------------------------------ due and wake

local function due_head(c)
  local h = redis.call('ZRANGE', c.p .. 'due', 0, 0, 'WITHSCORES')
  if #h == 0 then return nil end
  return tonumber(h[2])
end

-- schedule puts job `id` into due at `t` and remembers the earliest time
-- that lands before the head the call started with: the wake-up to
-- publish when the call ends (wake_flush).
local function schedule(c, id, t)
  if c.head0 == nil then
    c.head0 = due_head(c) or -1
  end
  redis.call('ZADD', c.p .. 'due', fmt(t), id)
  if c.head0 < 0 or t < c.head0 then
    if c.wake == nil or t < c.wake then c.wake = t end
  end
end

-- done ends every write call: the task id counter goes back to meta, and
-- the wake-up (if a due time landed before the old head) is published.
local function done(c)
  if c.task_dirty then
    redis.call('HSET', c.meta, 'task_last_ms', fmt(c.task_ms),
               'task_last_seq', fmt(c.task_seq))
  end
  if c.wake ~= nil then
    redis.call('SPUBLISH', c.p .. 'wake', fmt(c.wake))
  end
end

-- unclaim drops a claim: lease gone, owner cleared, epoch+1, and the job
-- due again at its unchanged next_fire_ms (unless paused or finished).
local function unclaim(c, id)
  local jk = c.p .. 'job:' .. id
  local h = redis.call('HMGET', jk, 'next_fire_ms', 'paused')
  redis.call('ZREM', c.p .. 'leases', id)
  redis.call('HSET', jk, 'owner', '')
  redis.call('HINCRBY', jk, 'epoch', 1)
  local next = num(h[1], -1)
  if next >= 0 and h[2] ~= '1' then
    schedule(c, id, next)
  end
end

-- --------------------------------------------------------------- task ids

-- next_task_id returns the next id for a task stream entry: "<ms>-<seq>",
-- strictly increasing across every queue of the namespace, so that an id
-- names one task however many streams there are. The counter lives in
-- meta (task_last_ms, task_last_seq), read once per call and written back
-- by done().
local function next_task_id(c)
  local t = now(c)
  if c.task_ms == nil then
    local h = redis.call('HMGET', c.meta, 'task_last_ms', 'task_last_seq')
    c.task_ms, c.task_seq = num(h[1], 0), num(h[2], -1)
  end
  if t > c.task_ms then
    c.task_ms, c.task_seq = t, 0
  else
    c.task_seq = c.task_seq + 1
    if c.task_seq >= SEQ_LIMIT then c.task_ms, c.task_seq = c.task_ms + 1, 0 end
  end
  return c.task_ms, c.task_seq
end

local function parse_sid(sid)
  local a, b = string.match(sid, '^(%d+)-(%d+)$')
  return tonumber(a), tonumber(b)
end

local function xinfo_last_id(key)
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
  return '0-0'
end

-- xadd_task appends a task entry with a namespace-wide id. If the stream's
-- top is already past that id (an entry added by hand with '*'), the ids
-- continue after the top.
local function xadd_task(c, qkey, fields)
  local ms, seq = next_task_id(c)
  local sid = fmt(ms) .. '-' .. fmt(seq)
  local r = redis.pcall('XADD', qkey, sid, unpack(fields))
  if type(r) == 'table' and r.err then
    local tms, tseq = parse_sid(xinfo_last_id(qkey))
    if tms > ms or (tms == ms and tseq >= seq) then
      ms, seq = tms, tseq + 1
      if seq >= SEQ_LIMIT then ms, seq = ms + 1, 0 end
    end
    c.task_ms, c.task_seq = ms, seq
    sid = fmt(ms) .. '-' .. fmt(seq)
    redis.call('XADD', qkey, sid, unpack(fields))
  end
  c.task_dirty = true
  return sid
end

local function ensure_group(qkey)
  local r = redis.pcall('XGROUP', 'CREATE', qkey, GROUP, '0', 'MKSTREAM')
  if type(r) == 'table' and r.err and not string.find(r.err, 'BUSYGROUP') then
    return redis.error_reply(r.err)
  end
end

-- ------------------------------------------------------------ occurrences

-- occ_ttl sets the retention of a finished occurrence record.
local function occ_finished(c, okey)
  redis.call('PEXPIRE', okey, c.occ_ttl)
end

-- job_done lowers `running` of a job whose occurrence `occ` finished.
local function job_done(c, job, occ, status)
  local jk = c.p .. 'job:' .. job
  redis.call('SREM', c.p .. 'live:' .. job, occ)
  if redis.call('EXISTS', jk) == 1 then
    local r = redis.call('HINCRBY', jk, 'running', -1)
    if r < 0 then redis.call('HSET', jk, 'running', '0') end
    redis.call('HSET', jk, 'last_status', status)
  end
end

-- dispatch enqueues attempt `attempt` of occurrence `occ` (the queue
-- stream, the task index, and the occurrence hash with d.occ_fields) and
-- returns the entry id.
local function dispatch(c, d)
  local qkey = c.p .. 'q:' .. d.queue
  c.queues = c.queues or {}
  if not c.queues[d.queue] then
    c.queues[d.queue] = true
    if redis.call('SADD', c.p .. 'queues', d.queue) == 1 then
      ensure_group(qkey)
    end
  end
  local sid = xadd_task(c, qkey, {
    'occ', d.occ, 'job', d.job, 'sched_ms', fmt(d.sched), 'fired_ms',
    fmt(now(c)), 'epoch', d.epoch, 'attempt', fmt(d.attempt), 'handler',
    d.handler, 'body', d.body})
  redis.call('HSET', c.p .. 'tasks', sid, d.occ)
  local set = {'HSET', c.p .. 'occ:' .. d.occ, 'stream_id', sid, 'queue',
               d.queue, 'attempt', fmt(d.attempt), 'deliveries', '0'}
  for _, v in ipairs(d.occ_fields or {}) do set[#set + 1] = v end
  redis.call(unpack(set))
  return sid
end

-- ------------------------------------------------------------- init, now

local function f_init(keys, args)
  local c = ctx_new(keys, args)
  local s = redis.call('HGET', c.meta, 'schema')
  if s and s ~= SCHEMA then
    return {'schema', s}
  end
  if not s then
    redis.call('HSET', c.meta, 'schema', SCHEMA, 'time_unit', 'ms', 'lib',
               'tock_v' .. SCHEMA, 'created_ms', fmt(now(c)))
  end
  return {'ok', SCHEMA, fmt(now(c))}
end

local function f_now(keys, args)
  return fmt(now(ctx_new(keys, args)))
end

-- -------------------------------------------------------------------- jobs

-- Definition fields, in the order the C side sends them (store/redis_jobs.c).
local DEF = {'name', 'queue', 'handler', 'args', 'trigger', 'misfire_grace_ms',
             'coalesce', 'max_instances', 'jitter_ms', 'timeout_ms', 'retries',
             'retry_backoff_ms', 'max_deliveries', 'paused', 'start_ms',
             'end_ms'}
-- Optional fields: absent from the hash when empty.
local OPTIONAL = {name = true, args = true}

local function def_write(jk, args, base)
  local set, del = {'HSET', jk}, {}
  for i, f in ipairs(DEF) do
    local v = args[base + i - 1]
    if OPTIONAL[f] and v == '' then
      del[#del + 1] = f
    else
      set[#set + 1] = f
      set[#set + 1] = v
    end
  end
  redis.call(unpack(set))
  if #del > 0 then redis.call('HDEL', jk, unpack(del)) end
end

local function def_same(jk, args, base)
  local cur = redis.call('HMGET', jk, unpack(DEF))
  for i = 1, #DEF do
    local v = cur[i]
    if v == false then v = '' end
    if v ~= args[base + i - 1] then return false end
  end
  return true
end

-- put(mode, expect_version, next_fire_ms, id, DEF values...)
--   1. Absent: write the definition, version 1, epoch 1, unclaimed; the
--      watermark starts at the one a removed job of this id left behind
--      (removed hash), so an occurrence id is never reused. Event added.
--   2. Present: "create" refuses; a given expect_version must match; the
--      same definition changes nothing; another one replaces it with
--      version+1, epoch+1, owner cleared and lease dropped (fencing any
--      outstanding claim), next_fire_ms replaced. Event changed.
local function f_put(keys, args)
  local c = ctx_new(keys, args)
  local mode, expect, next = args[4], num(args[5], 0), num(args[6], -1)
  local id = args[7]
  local jk = c.p .. 'job:' .. id
  local t = now(c)
  local paused = args[8 + 13] == '1'
  if redis.call('EXISTS', jk) == 1 then
    local version = num(redis.call('HGET', jk, 'version'), 0)
    if mode == 'create' then return {'exists', fmt(version)} end
    if expect > 0 and expect ~= version then return {'stale', fmt(version)} end
    if def_same(jk, args, 8) then return {'unchanged', fmt(version)} end
    def_write(jk, args, 8)
    redis.call('HINCRBY', jk, 'version', 1)
    redis.call('HINCRBY', jk, 'epoch', 1)
    redis.call('HSET', jk, 'owner', '', 'next_fire_ms', fmt(next),
               'updated_ms', fmt(t))
    redis.call('ZREM', c.p .. 'leases', id)
    redis.call('ZREM', c.p .. 'due', id)
    if next >= 0 and not paused then schedule(c, id, next) end
    event(c, 'changed', id, nil, nil, args[8 + 4])
    done(c)
    return {'changed', fmt(version + 1)}
  end
  local fired = num(redis.call('HGET', c.p .. 'removed', id), -1)
  redis.call('HDEL', c.p .. 'removed', id)
  def_write(jk, args, 8)
  redis.call('HSET', jk, 'id', id, 'version', '1', 'epoch', '1', 'owner', '',
             'next_fire_ms', fmt(next), 'fired_ms', fmt(fired),
             'last_occ_ms', fmt(fired), 'running',
             fmt(redis.call('SCARD', c.p .. 'live:' .. id)),
             'last_status', '', 'last_commit', '', 'created_ms', fmt(t),
             'updated_ms', fmt(t))
  redis.call('SADD', c.p .. 'jobs', id)
  if next >= 0 and not paused then schedule(c, id, next) end
  event(c, 'added', id, nil, nil, args[8 + 4])
  done(c)
  return {'added', '1'}
end

-- remove(id): the job's hash goes, its claim is fenced (a commit finds it
-- GONE), its history stays; the watermark is kept in the removed hash.
local function f_remove(keys, args)
  local c = ctx_new(keys, args)
  local id = args[4]
  local jk = c.p .. 'job:' .. id
  if redis.call('EXISTS', jk) == 0 then return {'enoent'} end
  local h = redis.call('HMGET', jk, 'fired_ms', 'last_occ_ms')
  local mark = math.max(num(h[1], -1), num(h[2], -1))
  redis.call('HSET', c.p .. 'removed', id, fmt(mark))
  redis.call('DEL', jk)
  redis.call('SREM', c.p .. 'jobs', id)
  redis.call('ZREM', c.p .. 'due', id)
  redis.call('ZREM', c.p .. 'leases', id)
  event(c, 'removed', id)
  return {'ok'}
end

-- set_paused(id, paused, next): idempotent; a change bumps version and
-- epoch (fencing a claim) and, on resume, replaces next_fire_ms.
local function f_set_paused(keys, args)
  local c = ctx_new(keys, args)
  local id, paused, next = args[4], args[5], num(args[6], -1)
  local jk = c.p .. 'job:' .. id
  if redis.call('EXISTS', jk) == 0 then return {'enoent'} end
  local h = redis.call('HMGET', jk, 'paused', 'next_fire_ms')
  if (h[1] == '1') == (paused == '1') then return {'ok'} end
  if paused == '1' then next = num(h[2], -1) end
  redis.call('HINCRBY', jk, 'version', 1)
  redis.call('HINCRBY', jk, 'epoch', 1)
  redis.call('HSET', jk, 'paused', paused, 'next_fire_ms', fmt(next), 'owner',
             '', 'updated_ms', fmt(now(c)))
  redis.call('ZREM', c.p .. 'leases', id)
  redis.call('ZREM', c.p .. 'due', id)
  if paused ~= '1' and next >= 0 then schedule(c, id, next) end
  event(c, paused == '1' and 'paused' or 'resumed', id)
  done(c)
  return {'ok'}
end

-- free_sched is the time of an extra run: now, moved on by a millisecond
-- while it is the job's next scheduled time or an occurrence on record.
local function free_sched(c, id, next_fire)
  local t = now(c)
  for _ = 1, 1000 do
    if t ~= next_fire and
       redis.call('EXISTS', c.p .. 'occ:' .. id .. '@' .. fmt(t)) == 0 then
      return t
    end
    t = t + 1
  end
  return t
end

-- run_prep(id): now, the time an extra run would get, and the job.
local function f_run_prep(keys, args)
  local c = ctx_new(keys, args)
  local jk = c.p .. 'job:' .. args[4]
  if redis.call('EXISTS', jk) == 0 then return {'enoent'} end
  local nf = num(redis.call('HGET', jk, 'next_fire_ms'), -1)
  return {'ok', fmt(now(c)), fmt(free_sched(c, args[4], nf)),
          redis.call('HGETALL', jk)}
end

-- run_now(id, version, sched, node, body): records the extra occurrence
-- `sched` prepared by run_prep, unless the job or the time changed since
-- (then "retry": prepare again).
local function f_run_now(keys, args)
  local c = ctx_new(keys, args)
  local id, version, sched, node = args[4], args[5], num(args[6], 0), args[7]
  local jk = c.p .. 'job:' .. id
  if redis.call('EXISTS', jk) == 0 then return {'enoent'} end
  local h = redis.call('HMGET', jk, 'version', 'next_fire_ms', 'queue',
                       'handler', 'max_deliveries', 'retries',
                       'retry_backoff_ms', 'epoch', 'last_occ_ms')
  local occ = id .. '@' .. fmt(sched)
  local okey = c.p .. 'occ:' .. occ
  if h[1] ~= version or num(h[2], -1) == sched or
     redis.call('EXISTS', okey) == 1 then
    return {'retry'}
  end
  local sid = dispatch(c, {queue = h[3], occ = occ, job = id, sched = sched,
                           epoch = h[8], attempt = 1, handler = h[4],
                           body = args[8], occ_fields = {
    'status', 'dispatched', 'job', id, 'sched_ms', fmt(sched), 'fired_ms',
    fmt(now(c)), 'node', node, 'max_deliveries', h[5], 'retries', h[6],
    'retry_backoff_ms', h[7]}})
  redis.call('SADD', c.p .. 'live:' .. id, occ)
  redis.call('HINCRBY', jk, 'running', 1)
  if sched > num(h[9], -1) then
    redis.call('HSET', jk, 'last_occ_ms', fmt(sched))
  end
  run_record(c, id, {'occ', occ, 'sched_ms', fmt(sched), 'status',
                     'dispatched', 'fired_ms', fmt(now(c)), 'node', node,
                     'attempt', '1'})
  event(c, 'fired', id, occ, node, 'run now')
  done(c)
  return {'ok', sid}
end

-- ------------------------------------------------------------------ claim

-- claim(nonce, limit, lease_ms): see "ON claim" in store/redis.c.
local function f_claim(keys, args)
  local c = ctx_new(keys, args)
  local nonce, limit, lease = args[4], num(args[5], 1), num(args[6], 1)
  local t = now(c)
  local lk, dk = c.p .. 'leases', c.p .. 'due'
  -- 2. reclaim expired claims
  local expired = redis.call('ZRANGEBYSCORE', lk, '-inf', fmt(t), 'LIMIT', 0,
                             BATCH)
  local reclaimed = 0
  for _, id in ipairs(expired) do
    local owner = redis.call('HGET', c.p .. 'job:' .. id, 'owner')
    if owner then
      unclaim(c, id)
      event(c, 'lease_expired', id, nil, nil, owner)
      reclaimed = reclaimed + 1
    else
      redis.call('ZREM', lk, id)
    end
  end
  -- 3. claim due jobs
  local out = {}
  local ids = redis.call('ZRANGEBYSCORE', dk, '-inf', fmt(t), 'LIMIT', 0,
                         limit)
  for _, id in ipairs(ids) do
    local jk = c.p .. 'job:' .. id
    redis.call('ZREM', dk, id)
    if redis.call('EXISTS', jk) == 1 then
      redis.call('ZADD', lk, fmt(t + lease), id)
      local epoch = redis.call('HINCRBY', jk, 'epoch', 1)
      redis.call('HSET', jk, 'owner', nonce .. ':' .. fmt(epoch))
      out[#out + 1] = redis.call('HGETALL', jk)
    end
  end
  -- 4. when to look again: the due head, or another node's earliest lease
  -- (past BATCH of this node's own leases, the last one seen stands in).
  local next = due_head(c) or -1
  local mine = nonce .. ':'
  local ls = redis.call('ZRANGE', lk, 0, BATCH - 1, 'WITHSCORES')
  for i = 1, #ls, 2 do
    local owner = redis.call('HGET', c.p .. 'job:' .. ls[i], 'owner') or ''
    local at = tonumber(ls[i + 1])
    if string.sub(owner, 1, #mine) ~= mine or i + 1 == 2 * BATCH then
      if next < 0 or at < next then next = at end
      break
    end
  end
  done(c)
  return {fmt(t), fmt(reclaimed), fmt(next), out}
end

-- release(n, (id, token)...): claims given back undecided.
local function f_release(keys, args)
  local c = ctx_new(keys, args)
  local n = num(args[4], 0)
  for i = 0, n - 1 do
    local id, token = args[5 + 2 * i], args[6 + 2 * i]
    local owner = redis.call('HGET', c.p .. 'job:' .. id, 'owner')
    if owner and owner == token then unclaim(c, id) end
  end
  done(c)
  return {'ok'}
end

-- ----------------------------------------------------------------- commit

-- The fields of one commit item, in the order store/redis_fire.c sends
-- them; missed times follow the fixed fields, the body comes last.
local C_ID, C_TOKEN, C_EPOCH, C_VERSION, C_SCHED, C_DECISION, C_NEXT,
      C_GRACE, C_NODE, C_REASON, C_NMISSED = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
local C_FIXED = 11

-- commit_check is steps 1-5 of ON commit: the outcome when the commit is
-- refused, or nil and the job's fields when it may go on.
local function commit_check(c, it)
  local h = redis.call('HMGET', c.p .. 'job:' .. it.id, 'last_commit',
                       'last_commit_task', 'version', 'owner', 'epoch',
                       'fired_ms', 'running', 'max_instances', 'queue',
                       'handler', 'max_deliveries', 'retries',
                       'retry_backoff_ms', 'last_occ_ms')
  if not h[3] then return 'gone' end -- every job hash has a version
  if h[1] == it.token then return 'already', h[2] or '' end
  if h[3] ~= it.version then
    if h[4] == it.token then unclaim(c, it.id) end
    return 'changed'
  end
  if h[4] ~= it.token or h[5] ~= it.epoch then return 'stale' end
  local first = it.missed[1] or it.sched
  if first <= num(h[6], -1) then
    unclaim(c, it.id)
    event(c, 'commit_refused', it.id, nil, it.node,
          'duplicate: occurrence ' .. fmt(first) ..
          ' is not after the watermark ' .. h[6])
    return 'duplicate'
  end
  return nil, h
end

-- record_occ writes the record of a missed or skipped occurrence.
local function record_occ(c, it, sched, status, reason)
  local occ = it.id .. '@' .. fmt(sched)
  local okey = c.p .. 'occ:' .. occ
  if redis.call('EXISTS', okey) == 1 then return false end
  redis.call('HSET', okey, 'status', status, 'job', it.id, 'sched_ms',
             fmt(sched), 'fired_ms', fmt(now(c)), 'node', it.node,
             'attempt', '1', 'error', reason)
  occ_finished(c, okey)
  run_record(c, it.id, {'occ', occ, 'sched_ms', fmt(sched), 'status', status,
                        'fired_ms', fmt(now(c)), 'node', it.node, 'attempt',
                        '1', 'error', reason})
  return true
end

-- record_missed is the missed[] part of step 7 (one event for them all).
local function record_missed(c, it)
  local n = #it.missed
  if n == 0 then return end
  for i = 1, n do record_occ(c, it, it.missed[i], 'missed', it.reason) end
  event(c, it.reason == 'coalesced' and 'coalesced' or 'missed', it.id,
        it.id .. '@' .. fmt(it.missed[1]), it.node,
        fmt(n) .. ' occurrence(s) ' .. fmt(it.missed[1]) .. '..' ..
        fmt(it.missed[n]) .. ': ' .. it.reason)
end

-- fire is the dispatched part of step 7.
local function fire(c, it, h)
  local occ = it.id .. '@' .. fmt(it.sched)
  local okey = c.p .. 'occ:' .. occ
  if redis.call('EXISTS', okey) == 1 then return '' end
  local sid = dispatch(c, {queue = h[9], occ = occ, job = it.id,
                           sched = it.sched, epoch = it.epoch, attempt = 1,
                           handler = h[10], body = it.body, occ_fields = {
    'status', 'dispatched', 'job', it.id, 'sched_ms', fmt(it.sched),
    'fired_ms', fmt(now(c)), 'node', it.node, 'max_deliveries', h[11],
    'retries', h[12], 'retry_backoff_ms', h[13]}})
  redis.call('SADD', c.p .. 'live:' .. it.id, occ)
  redis.call('HINCRBY', c.p .. 'job:' .. it.id, 'running', 1)
  run_record(c, it.id, {'occ', occ, 'sched_ms', fmt(it.sched), 'status',
                        'dispatched', 'fired_ms', fmt(now(c)), 'node', it.node,
                        'attempt', '1'})
  event(c, 'fired', it.id, occ, it.node, 'task ' .. sid)
  return sid
end

-- commit_apply is steps 6-8 of ON commit.
local function commit_apply(c, it, h)
  local t = now(c)
  local status, run_status, reason = 'ok', 'dispatched', nil
  if it.decision == 'miss' then
    run_status, reason = 'missed', it.reason
  elseif it.grace >= 0 and t - it.sched > it.grace then
    status, run_status, reason = 'missed', 'missed', 'misfire_grace'
  elseif num(h[7], 0) >= num(h[8], 1) then
    status, run_status = 'skipped', 'skipped'
    reason = 'max_instances ' .. h[8] .. ' reached'
  end
  record_missed(c, it)
  local sid = ''
  if run_status == 'dispatched' then
    sid = fire(c, it, h)
  elseif record_occ(c, it, it.sched, run_status, reason) then
    event(c, run_status, it.id, it.id .. '@' .. fmt(it.sched), it.node, reason)
  end
  local set = {'HSET', c.p .. 'job:' .. it.id, 'fired_ms', fmt(it.sched),
               'next_fire_ms', fmt(it.next), 'owner', '', 'last_commit',
               it.token, 'last_commit_task', sid, 'last_occ',
               it.id .. '@' .. fmt(it.sched), 'last_occ_ms',
               fmt(math.max(it.sched, num(h[14], -1)))}
  if run_status ~= 'dispatched' then
    set[#set + 1] = 'last_status'
    set[#set + 1] = run_status
  end
  redis.call(unpack(set))
  redis.call('ZREM', c.p .. 'leases', it.id)
  if it.next >= 0 then schedule(c, it.id, it.next) end
  return status, sid
end

-- commit(n, items...): one reply {status, task id} per item.
local function f_commit(keys, args)
  local c = ctx_new(keys, args)
  local n, at = num(args[4], 0), 5
  local out = {}
  for _ = 1, n do
    local it = {id = args[at + C_ID], token = args[at + C_TOKEN],
                epoch = args[at + C_EPOCH], version = args[at + C_VERSION],
                sched = num(args[at + C_SCHED], 0),
                decision = args[at + C_DECISION],
                next = num(args[at + C_NEXT], -1),
                grace = num(args[at + C_GRACE], -1), node = args[at + C_NODE],
                reason = args[at + C_REASON], missed = {}}
    local nm = num(args[at + C_NMISSED], 0)
    for i = 1, nm do it.missed[i] = num(args[at + C_FIXED + i - 1], 0) end
    it.body = args[at + C_FIXED + nm]
    at = at + C_FIXED + nm + 1
    local st, h = commit_check(c, it)
    if st == 'already' then
      out[#out + 1] = {st, h}
    elseif st then
      out[#out + 1] = {st, ''}
    else
      local s, sid = commit_apply(c, it, h)
      out[#out + 1] = {s, sid}
    end
  end
  done(c)
  return out
end

-- ------------------------------------------------------------------ tasks

-- task_of returns the occurrence of task `sid`, its record's key and its
-- queue's stream key, or nil when tock has no such task.
local function task_of(c, sid)
  local occ = redis.call('HGET', c.p .. 'tasks', sid)
  if not occ then return nil end
  local okey = c.p .. 'occ:' .. occ
  local q = redis.call('HGET', okey, 'queue') or 'default'
  return occ, okey, c.p .. 'q:' .. q, q
end

-- pending returns who holds entry `sid` of `qkey` and its delivery count.
local function pending(qkey, sid)
  local p = redis.call('XPENDING', qkey, GROUP, sid, sid, 1)
  if #p == 0 then return nil, 0 end
  return p[1][2], tonumber(p[1][4])
end

-- drop_entry removes a task's entry from its stream and from the index.
local function drop_entry(c, qkey, sid)
  redis.call('XACK', qkey, GROUP, sid)
  redis.call('XDEL', qkey, sid)
  redis.call('HDEL', c.p .. 'tasks', sid)
  redis.call('ZREM', c.p .. 'task_leases', sid)
end

-- finish_occ gives occurrence `occ` its final state: record, retention,
-- running-1, history, event.
local function finish_occ(c, occ, okey, status, f, ev, detail, node)
  local job = redis.call('HGET', okey, 'job') or string.match(occ, '^(.*)@')
  local set = {'HSET', okey, 'status', status}
  for i = 1, #f do set[#set + 1] = f[i] end
  redis.call(unpack(set))
  occ_finished(c, okey)
  job_done(c, job, occ, status)
  local h = redis.call('HMGET', okey, 'sched_ms', 'fired_ms', 'node',
                       'attempt', 'worker', 'started_ms', 'finished_ms',
                       'exit_code', 'error', 'output')
  local r = {'occ', occ, 'sched_ms', h[1] or '0', 'status', status,
             'fired_ms', h[2] or '0', 'node', h[3] or '', 'attempt',
             h[4] or '1', 'worker', h[5] or '', 'started_ms', h[6] or '0',
             'finished_ms', h[7] or '0', 'exit_code', h[8] or '-1', 'error',
             h[9] or ''}
  if h[10] then r[#r + 1] = 'output'; r[#r + 1] = h[10] end
  run_record(c, job, r)
  event(c, ev, job, occ, node, detail)
  return job
end

-- dead records task `sid` dead: its deliveries are used up.
local function dead(c, qkey, sid, occ, okey, count, md, holder)
  local text = 'delivered ' .. fmt(count) ..
               ' time(s) without a result (max_deliveries ' .. fmt(md) .. ')'
  drop_entry(c, qkey, sid)
  finish_occ(c, occ, okey, 'dead', {'finished_ms', fmt(now(c)), 'error', text},
             'dead', text, holder ~= READY and holder or nil)
end

-- lost records task `sid` whose stream entry vanished (deleted or trimmed
-- by hand): it can never be delivered again.
local function lost(c, qkey, sid, occ, okey)
  local text = 'stream entry ' .. sid .. ' is gone from ' .. qkey
  drop_entry(c, qkey, sid)
  finish_occ(c, occ, okey, 'dead', {'finished_ms', fmt(now(c)), 'error', text},
             'dead', text, nil)
end

-- move_retries puts due retries (the retry zset) back into their queues as
-- new entries of the same occurrence.
local function move_retries(c, limit)
  local rk = c.p .. 'retry'
  local due = redis.call('ZRANGEBYSCORE', rk, '-inf', fmt(now(c)), 'LIMIT', 0,
                         limit)
  for _, occ in ipairs(due) do
    local hk = c.p .. 'retry:' .. occ
    local h = redis.call('HMGET', hk, 'queue', 'job', 'attempt', 'body',
                         'sched_ms', 'handler', 'epoch')
    redis.call('ZREM', rk, occ)
    redis.call('DEL', hk)
    if h[4] then
      dispatch(c, {queue = h[1], occ = occ, job = h[2], sched = num(h[5], 0),
                   epoch = h[7] or '0', attempt = num(h[3], 2),
                   handler = h[6] or '', body = h[4],
                   occ_fields = {'status', 'dispatched'}})
    else
      -- The retry's record was deleted by hand: the attempt cannot run,
      -- and the occurrence must not stay "in flight" for ever.
      local text = 'retry record ' .. hk .. ' is gone'
      finish_occ(c, occ, c.p .. 'occ:' .. occ, 'dead',
                 {'finished_ms', fmt(now(c)), 'error', text}, 'dead', text,
                 nil)
    end
  end
end

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

-- start hands entry `sid` (fields `f`, delivered `count` times) to
-- `consumer`: the occurrence is running, the lease starts. Entries that
-- tock did not write (no task record) are dropped with an event instead.
local function start(c, q, qkey, sid, f, count, consumer, lease)
  local occ, okey = task_of(c, sid)
  if not occ then
    redis.call('XACK', qkey, GROUP, sid)
    redis.call('XDEL', qkey, sid)
    event(c, 'malformed', nil, nil, consumer, 'entry ' .. sid .. ' of queue ' ..
          q .. ' was not written by tock (no task record): dropped')
    return nil
  end
  local t = now(c)
  redis.call('HSET', okey, 'status', 'running', 'worker', consumer,
             'deliveries', fmt(count), 'started_ms', fmt(t))
  redis.call('ZADD', c.p .. 'task_leases', fmt(t + lease), sid)
  return {sid, q, occ, redis.call('HGET', okey, 'attempt') or '1', fmt(count),
          field(f, 'body') or ''}
end

-- take_parked hands out entries held by READY (redeliveries, hand-backs).
local function take_parked(c, q, qkey, want, consumer, lease, out)
  local ps = redis.call('XPENDING', qkey, GROUP, '-', '+', want, READY)
  for _, p in ipairs(ps) do
    local sid, count = p[1], tonumber(p[4])
    local occ, okey = task_of(c, sid)
    local md = occ and num(redis.call('HGET', okey, 'max_deliveries'), 3) or 0
    if occ and count + 1 > md then
      dead(c, qkey, sid, occ, okey, count, md, READY)
    else
      local r = redis.call('XCLAIM', qkey, GROUP, consumer, 0, sid)
      if #r == 0 or r[1] == false then
        if occ then lost(c, qkey, sid, occ, okey) end
      else
        local l = start(c, q, qkey, sid, r[1][2], count + 1, consumer, lease)
        if l then out[#out + 1] = l end
      end
    end
  end
end

-- take_new hands out entries never delivered.
local function take_new(c, q, qkey, want, consumer, lease, out)
  local r = redis.pcall('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', want,
                        'STREAMS', qkey, '>')
  if type(r) == 'table' and r.err then
    ensure_group(qkey)
    r = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', want,
                   'STREAMS', qkey, '>')
  end
  if not r then return end
  for _, e in ipairs(r[1][2]) do
    local l = start(c, q, qkey, e[1], e[2], 1, consumer, lease)
    if l then out[#out + 1] = l end
  end
end

-- take(consumer, max, lease_ms, nqueues, queues...): see ON take.
local function f_take(keys, args)
  local c = ctx_new(keys, args)
  local consumer, max, lease = args[4], num(args[5], 1), num(args[6], 1)
  local nq = num(args[7], 0)
  local out = {}
  move_retries(c, BATCH)
  for i = 1, nq do
    if #out >= max then break end
    local q = args[7 + i]
    local qkey = c.p .. 'q:' .. q
    if redis.call('EXISTS', qkey) == 1 then
      take_parked(c, q, qkey, max - #out, consumer, lease, out)
    end
    if #out < max then take_new(c, q, qkey, max - #out, consumer, lease, out) end
  end
  done(c)
  return out
end

-- touch(consumer, lease_ms, n, (sid, deliveries)...): 1 per lease still
-- ours (extended, and the entry's idle time reset), 0 otherwise.
local function f_touch(keys, args)
  local c = ctx_new(keys, args)
  local consumer, lease, n = args[4], num(args[5], 1), num(args[6], 0)
  local out = {}
  for i = 0, n - 1 do
    local sid, d = args[7 + 2 * i], num(args[8 + 2 * i], 0)
    local ok = 0
    local occ, _, qkey = task_of(c, sid)
    if occ then
      local who, count = pending(qkey, sid)
      if who == consumer and count == d then
        redis.call('XCLAIM', qkey, GROUP, consumer, 0, sid, 'JUSTID')
        redis.call('ZADD', c.p .. 'task_leases', fmt(now(c) + lease), sid)
        ok = 1
      end
    end
    out[#out + 1] = ok
  end
  return out
end

-- The fields of one report, in the order store/redis_tasks.c sends them.
local R_SID, R_DELIV, R_OCC, R_STATUS, R_WORKER, R_STARTED, R_FINISHED,
      R_EXIT, R_ERROR, R_OUTPUT, R_BODY, R_RETRY_ATTEMPT, R_RETRY_BODY,
      R_RETRY_DELAY = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
local R_FIELDS = 14

local function report_of(args, at)
  local r = {}
  r.sid, r.deliveries = args[at + R_SID], num(args[at + R_DELIV], 0)
  r.occ, r.status = args[at + R_OCC], args[at + R_STATUS]
  r.worker, r.started = args[at + R_WORKER], args[at + R_STARTED]
  r.finished, r.exit = args[at + R_FINISHED], args[at + R_EXIT]
  r.error, r.output = args[at + R_ERROR], args[at + R_OUTPUT]
  r.body = args[at + R_BODY]
  r.retry_attempt = num(args[at + R_RETRY_ATTEMPT], 0)
  r.retry_body, r.retry_delay = args[at + R_RETRY_BODY],
                                num(args[at + R_RETRY_DELAY], 0)
  return r
end

-- held tells whether `consumer` holds task r.sid with r.deliveries.
local function held(c, consumer, r)
  local occ, okey, qkey, q = task_of(c, r.sid)
  if not occ then return false end
  local who, count = pending(qkey, r.sid)
  if who ~= consumer or count ~= r.deliveries then return false end
  return true, occ, okey, qkey, q
end

local function result_fields(r, consumer, attempt)
  local f = {'worker', r.worker, 'attempt', attempt, 'started_ms', r.started,
             'finished_ms', r.finished, 'exit_code', r.exit, 'error', r.error,
             'report_sid', r.sid, 'report_consumer', consumer,
             'report_deliveries', fmt(r.deliveries)}
  return f
end

local function set_output(okey, r)
  if r.output ~= '' then
    redis.call('HSET', okey, 'output', r.output)
  else
    redis.call('HDEL', okey, 'output')
  end
end

-- schedule_retry keeps the failed attempt's details and schedules the next
-- attempt after the caller's back-off.
local function schedule_retry(c, consumer, r, occ, okey, q, attempt)
  local due = now(c) + r.retry_delay
  local h = redis.call('HMGET', okey, 'job', 'sched_ms')
  local sh = redis.call('XRANGE', c.p .. 'q:' .. q, r.sid, r.sid)
  local f = sh[1] and sh[1][2] or {}
  redis.call('HSET', c.p .. 'retry:' .. occ, 'queue', q, 'job', h[1],
             'sched_ms', h[2], 'attempt', fmt(r.retry_attempt), 'handler',
             field(f, 'handler') or '', 'epoch', field(f, 'epoch') or '0',
             'body', r.retry_body)
  redis.call('ZADD', c.p .. 'retry', fmt(due), occ)
  local rf = result_fields(r, consumer, fmt(r.retry_attempt))
  local set = {'HSET', okey, 'status', 'dispatched', 'stream_id', ''}
  for i = 1, #rf do set[#set + 1] = rf[i] end
  redis.call(unpack(set))
  set_output(okey, r)
  run_record(c, h[1], {'occ', occ, 'sched_ms', h[2], 'status', 'dispatched',
                       'attempt', fmt(r.retry_attempt), 'worker', r.worker,
                       'error', r.error})
  event(c, 'retrying', h[1], occ, r.worker,
        'attempt ' .. fmt(attempt) .. ' ' .. r.status .. '; attempt ' ..
        fmt(r.retry_attempt) .. ' in ' .. fmt(r.retry_delay) .. ' ms')
end

-- accept is step 4 of ON report.
local function accept(c, consumer, r, occ, okey, qkey, q)
  local h = redis.call('HMGET', okey, 'attempt', 'retries')
  local attempt = num(h[1], 1)
  local retry = (r.status == 'error' or r.status == 'timeout') and
                attempt <= num(h[2], 0) and r.retry_body ~= '' and
                r.retry_attempt == attempt + 1
  if retry then
    schedule_retry(c, consumer, r, occ, okey, q, attempt)
    drop_entry(c, qkey, r.sid)
    return
  end
  drop_entry(c, qkey, r.sid)
  local rf = result_fields(r, consumer, fmt(attempt))
  set_output(okey, r)
  local job = finish_occ(c, occ, okey, r.status, rf,
                         r.status == 'ok' and 'succeeded' or 'failed',
                         r.status ~= 'ok' and r.status or nil, r.worker)
  redis.call('XADD', c.p .. 'results', 'MAXLEN', '~', c.events_max, '*',
             'occ', occ, 'job', job, 'status', r.status, 'worker', r.worker,
             'attempt', fmt(attempt), 'body', r.body)
end

local function late(c, consumer, r)
  event(c, 'commit_refused', string.match(r.occ, '^(.*)@'), r.occ, r.worker,
        "late result '" .. r.status .. "' from " .. consumer ..
        ' ignored: the occurrence is already final')
end

-- report_one is ON report for one result.
local function report_one(c, consumer, r)
  local ok, occ, okey, qkey, q = held(c, consumer, r)
  if ok then
    if final_status(redis.call('HGET', okey, 'status')) then
      drop_entry(c, qkey, r.sid)
      late(c, consumer, r)
      return 'late'
    end
    accept(c, consumer, r, occ, okey, qkey, q)
    return 'ok'
  end
  local h = redis.call('HMGET', c.p .. 'occ:' .. r.occ, 'report_sid',
                       'report_consumer', 'report_deliveries', 'status')
  if h[1] == r.sid and h[2] == consumer and num(h[3], 0) == r.deliveries then
    return 'dup_ok'
  end
  if final_status(h[4]) then
    late(c, consumer, r)
    return 'late'
  end
  return 'stale'
end

-- report(consumer, n, reports...): one status per report. All held tasks
-- are checked against the occurrence their result names before anything
-- is written.
local function f_report(keys, args)
  local c = ctx_new(keys, args)
  local consumer, n = args[4], num(args[5], 0)
  for i = 0, n - 1 do
    local r = report_of(args, 6 + i * R_FIELDS)
    local ok, occ = held(c, consumer, r)
    if ok and occ ~= r.occ then
      return {'einval', 'result names occurrence ' .. r.occ .. ' but task ' ..
              r.sid .. ' is ' .. occ}
    end
  end
  local out = {}
  for i = 0, n - 1 do
    out[#out + 1] = report_one(c, consumer, report_of(args, 6 + i * R_FIELDS))
  end
  return {'ok', out}
end

-- repair_running sets `running` of a batch of jobs (a cursor over the jobs
-- set kept in meta) to the number of their live occurrences.
local function repair_running(c)
  local cur = redis.call('HGET', c.meta, 'repair_cursor') or '0'
  local r = redis.call('SSCAN', c.p .. 'jobs', cur, 'COUNT', BATCH)
  redis.call('HSET', c.meta, 'repair_cursor', r[1])
  for _, id in ipairs(r[2]) do
    local jk = c.p .. 'job:' .. id
    local live = redis.call('SCARD', c.p .. 'live:' .. id)
    local run = num(redis.call('HGET', jk, 'running'), 0)
    if run ~= live and redis.call('EXISTS', jk) == 1 then
      redis.call('HSET', jk, 'running', fmt(live))
    end
  end
end

-- reclaim(limit): see ON reclaim.
local function f_reclaim(keys, args)
  local c = ctx_new(keys, args)
  local limit = num(args[4], 1)
  local red, nd = 0, 0
  move_retries(c, BATCH)
  local tk = c.p .. 'task_leases'
  local ids = redis.call('ZRANGEBYSCORE', tk, '-inf', fmt(now(c)), 'LIMIT', 0,
                         limit)
  for _, sid in ipairs(ids) do
    local occ, okey, qkey = task_of(c, sid)
    local who, count
    if occ then who, count = pending(qkey, sid) end
    if not occ then
      redis.call('ZREM', tk, sid)
    elseif not who then
      lost(c, qkey, sid, occ, okey)
      nd = nd + 1
    elseif who ~= READY then
      local md = num(redis.call('HGET', okey, 'max_deliveries'), 3)
      if count >= md then
        dead(c, qkey, sid, occ, okey, count, md, who)
        nd = nd + 1
      else
        redis.call('XCLAIM', qkey, GROUP, READY, 0, sid, 'JUSTID')
        redis.call('ZREM', tk, sid)
        redis.call('HSET', okey, 'status', 'dispatched')
        event(c, 'redelivered', redis.call('HGET', okey, 'job'), occ, who,
              'lease of ' .. who .. ' expired after delivery ' .. fmt(count) ..
              ' of ' .. fmt(md))
        red = red + 1
      end
    else
      redis.call('ZREM', tk, sid)
    end
  end
  repair_running(c)
  done(c)
  return {fmt(red), fmt(nd)}
end

-- task_release(consumer, n, sids...): hand back unfinished, the delivery
-- not counted (RETRYCOUNT one lower; the next take counts it again).
local function f_task_release(keys, args)
  local c = ctx_new(keys, args)
  local consumer, n = args[4], num(args[5], 0)
  for i = 0, n - 1 do
    local sid = args[6 + i]
    local occ, okey, qkey = task_of(c, sid)
    if occ then
      local who, count = pending(qkey, sid)
      if who == consumer then
        local rc = count > 0 and count - 1 or 0
        redis.call('XCLAIM', qkey, GROUP, READY, 0, sid, 'RETRYCOUNT', rc,
                   'JUSTID')
        redis.call('ZREM', c.p .. 'task_leases', sid)
        redis.call('HSET', okey, 'status', 'dispatched')
      end
    end
  end
  return {'ok'}
end

-- -------------------------------------------------------------- register

-- Every function writes (if only the clock's high-water mark), so none is
-- flagged no-writes: Redis then refuses each one before it runs when it is
-- over maxmemory (OOM), on a read-only replica (READONLY) and while it
-- cannot persist (MISCONF), so an item is never half applied for those
-- reasons. No function is allowed to run on a stale replica or over OOM.
local function reg(name, fn)
  redis.register_function{function_name = 'tock_v1_' .. name, callback = fn,
                          flags = {}}
end

reg('init', f_init)
reg('now', f_now)
reg('put', f_put)
reg('remove', f_remove)
reg('set_paused', f_set_paused)
reg('run_prep', f_run_prep)
reg('run_now', f_run_now)
reg('claim', f_claim)
reg('release', f_release)
reg('commit', f_commit)
reg('take', f_take)
reg('touch', f_touch)
reg('report', f_report)
reg('reclaim', f_reclaim)
reg('task_release', f_task_release)
