#pragma once
// The Lua scripts of the Redis queue (internal to redis_queue.cpp). Each one is a whole
// state change, atomic on the server. ARGV[1] is always the key prefix; key names are built
// here from queue names (standalone Redis: keys need not be declared up front).
// Replies: numbers for outcomes, -1 for "unknown queue" (the C++ side names it).
#include <string>

namespace mlrun::redis_scripts {

// Shared helpers, prepended to every script.
inline const std::string k_lib = R"lua(
local P = ARGV[1]
local G = 'mlrun'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function qkey(q) return P .. 'q/' .. q .. '/' end
local function known(q) return redis.call('SISMEMBER', P .. 'queues', q) == 1 end
-- A completion event (acked | dead | removed), in the same script as the change it reports.
local function done_event(q, task, outcome)
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', 10000, '*', 'queue', q, 'task', task, 'outcome', outcome,
             'at_ms', now_ms())
end
-- Adds the message to the end of its priority's stream (created with the group on first
-- use) and rings the queue's bell for blocked claims.
local function enqueue(q, task, prio, attempts, errors)
  local Q = qkey(q)
  local s = Q .. 'p' .. prio
  if redis.call('EXISTS', s) == 0 then
    redis.call('XGROUP', 'CREATE', s, G, '0', 'MKSTREAM')
  end
  redis.call('ZADD', Q .. 'prios', prio, prio)
  local id = redis.call('XADD', s, '*', 'task', task)
  redis.call('HSET', Q .. 'm/' .. task, 'state', 'pending', 'priority', prio, 'attempts', attempts,
             'errors', errors, 'entry', id)
  redis.call('HDEL', Q .. 'm/' .. task, 'lease', 'consumer', 'dead_ms')
  redis.call('XADD', Q .. 'bell', 'MAXLEN', '~', 64, '*', 'task', task)
end
-- The message hash when `epoch` is its current delivery, else nil (the lease was lost).
local function owned(q, task, epoch)
  local m = qkey(q) .. 'm/' .. task
  local h = redis.call('HMGET', m, 'state', 'epoch', 'priority', 'attempts', 'errors', 'entry')
  if h[1] ~= 'claimed' or h[2] ~= epoch then return nil end
  return {key = m, priority = h[3], attempts = tonumber(h[4]), errors = h[5], entry = h[6]}
end
-- A failed delivery of a claimed message: its entry leaves the pending list, the error is
-- kept, and it goes back to its stream or, at max attempts, to the dead-letter stream.
local function fail_delivery(q, task, h, err, max)
  local Q = qkey(q)
  local s = Q .. 'p' .. h.priority
  local now = now_ms()
  redis.call('XACK', s, G, h.entry)
  redis.call('XDEL', s, h.entry)
  local errors = cjson.decode(h.errors or '[]')
  errors[#errors + 1] = {attempt = h.attempts, error = err, at_ms = now}
  local encoded = cjson.encode(errors)
  if h.attempts >= max then
    local id = redis.call('XADD', Q .. 'dead', '*', 'task', task, 'priority', h.priority, 'errors', encoded,
                          'dead_ms', now)
    redis.call('HSET', h.key, 'state', 'dead', 'errors', encoded, 'entry', id, 'dead_ms', now)
    redis.call('HDEL', h.key, 'lease', 'consumer')
    done_event(q, task, 'dead')
    return 2
  end
  enqueue(q, task, h.priority, h.attempts, encoded)
  return 1
end
)lua";

// ARGV: prefix, queue, task, priority → -1 unknown queue, 0 already queued, 1 queued.
inline const std::string k_push = k_lib + R"lua(
local q, task, prio = ARGV[2], ARGV[3], ARGV[4]
if not known(q) then return -1 end
local Q = qkey(q)
local m = Q .. 'm/' .. task
local h = redis.call('HMGET', m, 'state', 'entry')
if h[1] == 'pending' or h[1] == 'claimed' then return 0 end
if h[1] == 'dead' then redis.call('XDEL', Q .. 'dead', h[2]) end
redis.call('DEL', m)
enqueue(q, task, prio, 0, '[]')
return 1
)lua";

// ARGV: prefix, consumer, lease_ms, queue... → {-1, queue} unknown; {1, queue, task, entry,
// epoch, expires_ms, attempt, priority, errors} claimed; {0, bell id...} nothing to claim.
inline const std::string k_claim = k_lib + R"lua(
local consumer, lease = ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV do
  if not known(ARGV[i]) then return {-1, ARGV[i]} end
end
for i = 4, #ARGV do
  local q = ARGV[i]
  local Q = qkey(q)
  for _, p in ipairs(redis.call('ZREVRANGE', Q .. 'prios', 0, -1)) do
    local s = Q .. 'p' .. p
    while true do
      local r = redis.call('XREADGROUP', 'GROUP', G, consumer, 'COUNT', 1, 'STREAMS', s, '>')
      if not r then break end
      local entry = r[1][2][1]
      local id, task = entry[1], entry[2][2]
      local m = Q .. 'm/' .. task
      if redis.call('HGET', m, 'entry') == id then
        local attempt = redis.call('HINCRBY', m, 'attempts', 1)
        local epoch = redis.call('INCR', P .. 'epoch')
        redis.call('HSET', m, 'state', 'claimed', 'epoch', epoch, 'lease', lease, 'consumer', consumer)
        return {1, q, task, id, epoch, now_ms() + lease, attempt, tonumber(p), redis.call('HGET', m, 'errors')}
      end
      -- An entry its message no longer points at (cannot happen through these scripts): drop it.
      redis.call('XACK', s, G, id)
      redis.call('XDEL', s, id)
    end
  end
end
local bells = {0}
for i = 4, #ARGV do
  local last = redis.call('XREVRANGE', qkey(ARGV[i]) .. 'bell', '+', '-', 'COUNT', 1)
  bells[#bells + 1] = last[1] and last[1][1] or '0-0'
end
return bells
)lua";

// ARGV: prefix, queue, task, epoch, consumer, lease_ms → new expiry ms, or -1 (lease lost).
inline const std::string k_heartbeat = k_lib + R"lua(
local q, task, epoch, consumer, lease = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local h = owned(q, task, epoch)
if not h then return -1 end
-- Resets the entry's idle time, which is what the sweep measures.
local got = redis.call('XCLAIM', qkey(q) .. 'p' .. h.priority, G, consumer, 0, h.entry, 'JUSTID')
if #got == 0 then return -1 end
redis.call('HSET', h.key, 'lease', lease, 'consumer', consumer)
return now_ms() + tonumber(lease)
)lua";

// ARGV: prefix, queue, task, epoch → 1 acked, 0 lease lost (nothing changed).
inline const std::string k_ack = k_lib + R"lua(
local q, task, epoch = ARGV[2], ARGV[3], ARGV[4]
local h = owned(q, task, epoch)
if not h then return 0 end
local s = qkey(q) .. 'p' .. h.priority
redis.call('XACK', s, G, h.entry)
redis.call('XDEL', s, h.entry)
redis.call('DEL', h.key)
done_event(q, task, 'acked')
return 1
)lua";

// ARGV: prefix, queue, task, epoch, error, max_attempts → 0 lease lost, 1 requeued, 2 dead.
inline const std::string k_fail = k_lib + R"lua(
local q, task, epoch, err, max = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local h = owned(q, task, epoch)
if not h then return 0 end
return fail_delivery(q, task, h, err, max)
)lua";

// ARGV: prefix, max_attempts → the number of expired deliveries handled. Looks at up to
// 1000 claimed entries per stream per call (the rest at the next sweep).
inline const std::string k_sweep = k_lib + R"lua(
local max = tonumber(ARGV[2])
local handled = 0
for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  local Q = qkey(q)
  for _, p in ipairs(redis.call('ZRANGE', Q .. 'prios', 0, -1)) do
    local s = Q .. 'p' .. p
    for _, pe in ipairs(redis.call('XPENDING', s, G, '-', '+', 1000)) do
      local id, idle = pe[1], tonumber(pe[3])
      local e = redis.call('XRANGE', s, id, id)
      local task = e[1] and e[1][2][2]
      local m = task and (Q .. 'm/' .. task)
      local h = m and redis.call('HMGET', m, 'state', 'entry', 'lease', 'epoch')
      if not h or h[1] ~= 'claimed' or h[2] ~= id then
        redis.call('XACK', s, G, id) -- an orphan entry (cannot happen through these scripts)
        redis.call('XDEL', s, id)
      elseif idle >= tonumber(h[3]) then
        fail_delivery(q, task, owned(q, task, h[4]), 'lease expired', max)
        handled = handled + 1
      end
    end
  end
end
return handled
)lua";

// ARGV: prefix, queue, task → -1 unknown queue, 1 removed, 0 not pending.
inline const std::string k_remove = k_lib + R"lua(
local q, task = ARGV[2], ARGV[3]
if not known(q) then return -1 end
local Q = qkey(q)
local m = Q .. 'm/' .. task
local h = redis.call('HMGET', m, 'state', 'priority', 'entry')
if h[1] ~= 'pending' then return 0 end
redis.call('XDEL', Q .. 'p' .. h[2], h[3])
redis.call('DEL', m)
done_event(q, task, 'removed')
return 1
)lua";

// ARGV: prefix, queue, task → -1 unknown queue, 1 back in its queue, 0 no such dead letter.
inline const std::string k_requeue_dead = k_lib + R"lua(
local q, task = ARGV[2], ARGV[3]
if not known(q) then return -1 end
local Q = qkey(q)
local m = Q .. 'm/' .. task
local h = redis.call('HMGET', m, 'state', 'priority', 'entry')
if h[1] ~= 'dead' then return 0 end
redis.call('XDEL', Q .. 'dead', h[3])
enqueue(q, task, h[2], 0, '[]')
return 1
)lua";

// ARGV: prefix → {queue, waiting+claimed, claimed, dead, ...} for every queue.
inline const std::string k_list = k_lib + R"lua(
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  local Q = qkey(q)
  local total, claimed = 0, 0
  for _, p in ipairs(redis.call('ZRANGE', Q .. 'prios', 0, -1)) do
    local s = Q .. 'p' .. p
    total = total + redis.call('XLEN', s)
    claimed = claimed + redis.call('XPENDING', s, G)[1]
  end
  out[#out + 1] = q
  out[#out + 1] = total
  out[#out + 1] = claimed
  out[#out + 1] = redis.call('XLEN', Q .. 'dead')
end
return out
)lua";

} // namespace mlrun::redis_scripts
