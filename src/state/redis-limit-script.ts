import type { ConsumeRequest } from './limiter.ts';

/**
 * Limiter decisions, each over several limits and each atomic (a script runs alone), one round trip for a
 * batch of decisions. It mirrors `limiter.ts` line for line (same integer-µs arithmetic; Lua numbers are
 * doubles like JavaScript's), so memory and Redis decide alike.
 *
 * ARGV     one argument per decision (one string instead of 3 + 7 per limit: the client encodes and the
 *          server parses far fewer arguments), comma-separated: number of limits n, gateway time in ms,
 *          then 7 per limit: algorithm (g|f|s|c), limit, windowMs, burst, windowEndMs|subWindows, cost,
 *          countRejected (1|0); then the lease id, last, so it may hold any character (see `encodeDecision`)
 * KEYS     the state keys of every limit of every decision, in the same order (one call's keys share a
 *          Redis Cluster hash tag, or the store sends one decision per call)
 * Returns per decision {allowedAll, then per limit: allowed, remaining, resetMs, retryAfterMs}, concatenated;
 * resetMs is the time until more quota (see `LimitResult`).
 */
export const LIMIT_SCRIPT = `
local out = {}
local find = string.find
local sub = string.sub
local function decide(kb, s)
local c = find(s, ',', 1, true)
local n = tonumber(sub(s, 1, c - 1))
local p = c + 1
local f = {}
for j = 1, 1 + n * 7 do
  c = find(s, ',', p, true)
  f[j] = sub(s, p, c - 1)
  p = c + 1
end
local lease = sub(s, p)
local now = tonumber(f[1])
local nowUs = now * 1000
local all = true
local ev = {}
for i = 1, n do
  local b = 1 + (i - 1) * 7
  local e = {
    alg = f[b + 1], limit = tonumber(f[b + 2]), win = tonumber(f[b + 3]),
    burst = tonumber(f[b + 4]), param = tonumber(f[b + 5]), cost = tonumber(f[b + 6]),
    cr = f[b + 7] == '1', key = KEYS[kb + i]
  }
  if e.alg == 'g' then
    local T = math.max(1, math.floor(e.win * 1000 / e.limit + 0.5))
    local tau = T * e.burst
    local tat = nowUs
    local stored = tonumber(redis.call('GET', e.key))
    if stored and stored > nowUs then tat = stored end
    local newTat = tat + e.cost * T
    local allowAt = newTat - tau
    e.ok = allowAt <= nowUs
    local after = tat
    if e.ok then after = newTat end
    local credit = nowUs + tau - after
    e.rem = math.max(0, math.floor(credit / T))
    e.reset = 0
    if e.rem < e.burst then e.reset = math.ceil(((e.rem + 1) * T - credit) / 1000) end
    e.retry = 0
    if not e.ok then e.retry = math.ceil((allowAt - nowUs) / 1000) end
    e.newTat = newTat
    e.tau = tau
  elseif e.alg == 'f' then
    local count = tonumber(redis.call('GET', e.key)) or 0
    e.ok = count + e.cost <= e.limit
    local used = count
    if e.ok then used = count + e.cost end
    local untilEnd = math.max(0, e.param - now)
    e.rem = math.max(0, e.limit - used)
    e.reset = untilEnd
    if used == 0 then e.reset = 0 end
    e.retry = 0
    if not e.ok then e.retry = untilEnd end
  elseif e.alg == 's' then
    local k = e.param
    local w = math.ceil(e.win / k)
    local idx = math.floor(now / w)
    local oldest = idx - k
    local flat = redis.call('HGETALL', e.key)
    local buckets = {}
    local stale = {}
    local count = 0
    for j = 1, #flat, 2 do
      local bi = tonumber(flat[j])
      local c = tonumber(flat[j + 1])
      if bi < oldest then
        stale[#stale + 1] = flat[j]
      else
        buckets[bi] = c
        count = count + c
      end
    end
    e.ok = count + e.cost <= e.limit
    local used = count
    if e.ok then used = count + e.cost end
    e.retry = 0
    if not e.ok then
      local need = count + e.cost - e.limit
      local j = oldest
      while j <= idx and need > 0 do
        need = need - (buckets[j] or 0)
        if need <= 0 then e.retry = (j + k + 1) * w - now end
        j = j + 1
      end
      if need > 0 then e.retry = (idx + k + 1) * w - now end
    end
    e.rem = math.max(0, e.limit - used)
    e.reset = 0
    if e.rem < e.limit then
      local need = used - (e.limit - e.rem - 1)
      local j = oldest
      while j <= idx and need > 0 do
        local c = buckets[j] or 0
        if e.ok and j == idx then c = c + e.cost end
        need = need - c
        if need <= 0 then e.reset = (j + k + 1) * w - now end
        j = j + 1
      end
      if need > 0 then e.reset = (idx + k + 1) * w - now end
    end
    e.idx = idx
    e.w = w
    e.stale = stale
  else
    redis.call('ZREMRANGEBYSCORE', e.key, '-inf', now)
    local live = redis.call('ZCARD', e.key)
    e.ok = live + 1 <= e.limit
    local rem = e.limit - live
    if e.ok then rem = rem - 1 end
    e.rem = math.max(0, rem)
    e.reset = 0
    e.retry = 0
    if not e.ok then e.retry = 1000 end
  end
  if not e.ok then all = false end
  ev[i] = e
end

if all then out[#out + 1] = 1 else out[#out + 1] = 0 end
for i = 1, n do
  local e = ev[i]
  if all or e.cr then
    if e.alg == 'g' then
      local tat = e.newTat
      if not all then tat = math.min(e.newTat, nowUs + 2 * e.tau) end
      local ttl = math.ceil(tat / 1000) - now
      if ttl > 0 then redis.call('SET', e.key, string.format('%.0f', tat), 'PX', ttl) end
    elseif e.alg == 'f' then
      redis.call('INCRBY', e.key, e.cost)
      redis.call('PEXPIRE', e.key, math.max(1, e.param - now))
    elseif e.alg == 's' then
      if #e.stale > 0 then redis.call('HDEL', e.key, unpack(e.stale)) end
      redis.call('HINCRBY', e.key, tostring(e.idx), e.cost)
      redis.call('PEXPIRE', e.key, math.max(1, (e.idx + e.param + 1) * e.w - now))
    elseif all then
      redis.call('ZADD', e.key, now + e.win, lease)
      redis.call('PEXPIRE', e.key, e.win)
    end
  end
  local ok = 0
  if e.ok then ok = 1 end
  out[#out + 1] = ok
  out[#out + 1] = e.rem
  out[#out + 1] = e.reset
  out[#out + 1] = e.retry
end
return n
end

local kb = 0
for d = 1, #ARGV do
  kb = kb + decide(kb, ARGV[d])
end
return out
`;

/** Single-letter algorithm codes used as script arguments. */
export const ALGORITHM_CODES = {
  gcra: 'g',
  'fixed-window': 'f',
  'sliding-window': 's',
  concurrency: 'c',
} as const;

/** The one script argument of a decision (the format `LIMIT_SCRIPT` parses; the lease id goes last). */
export function encodeDecision(request: ConsumeRequest): string {
  let s = `${request.limits.length},${request.nowMs}`;
  for (const l of request.limits) {
    s += `,${ALGORITHM_CODES[l.algorithm]},${l.limit},${l.windowMs},${l.burst},${
      l.algorithm === 'sliding-window' ? l.subWindows : l.windowEndMs
    },${l.cost},${l.countRejected ? '1' : '0'}`;
  }
  return `${s},${request.leaseId}`;
}
