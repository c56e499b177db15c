"""Redis state: several processes or machines agree through one Redis.

Every compound operation is one Lua script (atomic on the server, no read-modify-write races)
and reads the time from Redis itself (``TIME``), so replicas with skewed clocks still agree on
windows and expiries. Queues are Redis streams with one consumer group: a record is delivered
to one consumer, stays pending until acknowledged, and is claimed by another consumer if the
one holding it dies (at-least-once; consumers are idempotent).

Key layout under ``prefix``: ``w:`` window buckets (hash), ``s:`` semaphore holders (zset of
expiries), ``b:`` balance counter (hash: spent), ``bh:`` reservations (hash holder → amount),
``be:`` reservation expiries (zset), ``q:`` queues (streams), ``v:`` plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ResponseError

from unigate.state.base import (
    Admission,
    BalanceCheck,
    Charge,
    Counter,
    SemaphoreCheck,
    WindowAdd,
    WindowCheck,
)

BUCKETS = 60
GROUP = "unigate"

_LUA_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BUCKETS = 60
local function window_state(key, window_ms)
  local size = window_ms / BUCKETS
  local current = math.floor(now / size)
  local flat = redis.call('HGETALL', key)
  local total, live = 0, {}
  for i = 1, #flat, 2 do
    local idx = tonumber(flat[i])
    if idx <= current - BUCKETS then
      redis.call('HDEL', key, flat[i])
    else
      local amount = tonumber(flat[i + 1])
      total = total + amount
      live[#live + 1] = {idx, amount}
    end
  end
  return total, live, size, current
end
local function reserved(bh, be)
  local dead = redis.call('ZRANGEBYSCORE', be, '-inf', now)
  for _, holder in ipairs(dead) do
    redis.call('HDEL', bh, holder)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', be, '-inf', now) end
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', bh)) do sum = sum + tonumber(v) end
  return sum
end
"""

# KEYS: windows (nw), semaphores (ns), balances (3 each: b, bh, be)
# ARGV: holder, ttl_ms, nw, ns, nb, then window (limit, window_ms, amount, record)*, sem limit*, bal (limit, amount)*
_ADMIT = (
    _LUA_COMMON
    + """
local holder, ttl = ARGV[1], tonumber(ARGV[2])
local nw, ns, nb = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local a = 6
local missing = {}
for i = 1, nb do
  if redis.call('EXISTS', KEYS[nw + ns + 3 * (i - 1) + 1]) == 0 then missing[#missing + 1] = i - 1 end
end
if #missing > 0 then return {0, 'missing', missing[1], 0, '0', missing} end
local windows = {}
for i = 1, nw do
  local limit, window_ms = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local amount, record = tonumber(ARGV[a + 2]), ARGV[a + 3]
  a = a + 4
  local total, live, size, current = window_state(KEYS[i], window_ms)
  if total + amount > limit then
    table.sort(live, function(x, y) return x[1] < y[1] end)
    local need, freed, retry = total + amount - limit, 0, window_ms
    for _, bucket in ipairs(live) do
      freed = freed + bucket[2]
      if freed >= need then retry = math.max(0, bucket[1] * size + window_ms - now); break end
    end
    return {0, 'window', i - 1, math.ceil(retry), '0', {}}
  end
  windows[i] = {current, amount, record, window_ms}
end
for i = 1, ns do
  local key, limit = KEYS[nw + i], tonumber(ARGV[a])
  a = a + 1
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, holder) and redis.call('ZCARD', key) >= limit then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = first[2] and math.max(0, tonumber(first[2]) - now) or 0
    return {0, 'semaphore', i - 1, math.ceil(retry), '0', {}}
  end
end
local balances = {}
for i = 1, nb do
  local base = nw + ns + 3 * (i - 1)
  local limit, amount = tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  local spent = tonumber(redis.call('HGET', KEYS[base + 1], 'spent') or '0')
  local available = limit - spent - reserved(KEYS[base + 2], KEYS[base + 3])
  if tonumber(amount) > available then
    return {0, 'balance', i - 1, 0, string.format('%.0f', available), {}}
  end
  balances[i] = amount
end
for i = 1, nw do
  local w = windows[i]
  if w[3] == '1' then
    redis.call('HINCRBY', KEYS[i], w[1], w[2])
    redis.call('PEXPIRE', KEYS[i], math.ceil(w[4] * 2))
  end
end
for i = 1, ns do
  redis.call('ZADD', KEYS[nw + i], now + ttl, holder)
  redis.call('PEXPIRE', KEYS[nw + i], ttl * 2)
end
for i = 1, nb do
  local base = nw + ns + 3 * (i - 1)
  redis.call('HINCRBY', KEYS[base + 2], holder, balances[i])
  redis.call('ZADD', KEYS[base + 3], now + ttl, holder)
  redis.call('PEXPIRE', KEYS[base + 2], ttl * 2)
  redis.call('PEXPIRE', KEYS[base + 3], ttl * 2)
end
return {1, '', 0, 0, '0', {}}
"""
)

# KEYS: semaphores (ns), charges (3 each: b, bh, be), windows (nw), [stream], done marker
# ARGV: holder, ns, nc, nw, has_record, charge amount*, window (window_ms, amount)*, [record]
# A holder settles once: a settle retried after a lost reply (the connection died after the
# script ran) changes nothing.
_SETTLE = (
    _LUA_COMMON
    + """
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', 86400000) then return 0 end
local holder = ARGV[1]
local ns, nc, nw, has_record = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local a = 6
for i = 1, ns do redis.call('ZREM', KEYS[i], holder) end
for i = 1, nc do
  local base = ns + 3 * (i - 1)
  redis.call('HDEL', KEYS[base + 2], holder)
  redis.call('ZREM', KEYS[base + 3], holder)
  redis.call('HINCRBY', KEYS[base + 1], 'spent', ARGV[a])
  a = a + 1
end
for i = 1, nw do
  local key, window_ms, amount = KEYS[ns + 3 * nc + i], tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  if tonumber(amount) ~= 0 then
    local size = window_ms / BUCKETS
    redis.call('HINCRBY', key, math.floor(now / size), amount)
    redis.call('PEXPIRE', key, math.ceil(window_ms * 2))
  end
end
if has_record == '1' then
  redis.call('XADD', KEYS[ns + 3 * nc + nw + 1], '*', 'r', ARGV[a])
end
return 1
"""
)

# KEYS: semaphores (ns), balances (2 each: bh, be). ARGV: holder, ttl_ms, ns
_REFRESH = (
    _LUA_COMMON
    + """
local holder, ttl, ns = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, ns do
  if redis.call('ZSCORE', KEYS[i], holder) then
    redis.call('ZADD', KEYS[i], 'XX', now + ttl, holder)
    redis.call('PEXPIRE', KEYS[i], ttl * 2)
  end
end
for i = ns + 1, #KEYS, 2 do
  if redis.call('ZSCORE', KEYS[i + 1], holder) then
    redis.call('ZADD', KEYS[i + 1], 'XX', now + ttl, holder)
    redis.call('PEXPIRE', KEYS[i], ttl * 2)
    redis.call('PEXPIRE', KEYS[i + 1], ttl * 2)
  end
end
return 1
"""
)

_COUNTER = (
    _LUA_COMMON
    + """
local spent = redis.call('HGET', KEYS[1], 'spent')
if not spent then return false end
return {spent, string.format('%.0f', reserved(KEYS[2], KEYS[3]))}
"""
)

_WINDOW_TOTAL = (
    _LUA_COMMON
    + """
local total = window_state(KEYS[1], tonumber(ARGV[1]))
return total
"""
)

_INIT = """
if redis.call('HSETNX', KEYS[1], 'spent', ARGV[1]) == 1 and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class RedisState:
    def __init__(
        self,
        url: str,
        prefix: str = "unigate:",
        *,
        claim_idle: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        # a bounded pool that waits for a free connection instead of failing under bursts
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=30)
        self.redis: Redis = Redis(connection_pool=pool)
        self.prefix = prefix
        self.claim_idle_ms = int(claim_idle * 1000)
        self._admit = self.redis.register_script(_ADMIT)
        self._settle = self.redis.register_script(_SETTLE)
        self._refresh = self.redis.register_script(_REFRESH)
        self._counter = self.redis.register_script(_COUNTER)
        self._window_total = self.redis.register_script(_WINDOW_TOTAL)
        self._init = self.redis.register_script(_INIT)
        self._groups: set[str] = set()

    def _b(self, key: str) -> list[str]:
        p = self.prefix
        return [f"{p}b:{key}", f"{p}bh:{key}", f"{p}be:{key}"]

    async def admit(
        self,
        holder: str,
        ttl: float,
        windows: Sequence[WindowCheck] = (),
        semaphores: Sequence[SemaphoreCheck] = (),
        balances: Sequence[BalanceCheck] = (),
    ) -> Admission:
        p = self.prefix
        keys = [f"{p}w:{w.key}" for w in windows] + [f"{p}s:{s.key}" for s in semaphores]
        args: list[Any] = [holder, int(ttl * 1000), len(windows), len(semaphores), len(balances)]
        for w in windows:
            args += [w.limit, int(w.window * 1000), w.amount, "1" if w.record else "0"]
        args += [s.limit for s in semaphores]
        for b in balances:
            keys += self._b(b.key)
            args += [b.limit, b.amount]
        ok, kind, index, retry_ms, available, missing = await self._admit(keys=keys, args=args)
        if ok:
            return Admission(True)
        kind = kind.decode()
        return Admission(
            False,
            kind,
            int(index),
            retry_after=int(retry_ms) / 1000 if kind in ("window", "semaphore") else None,
            missing=[int(m) for m in missing],
            available=int(available) if kind == "balance" else None,
        )

    async def settle(
        self,
        holder: str,
        semaphores: Sequence[str] = (),
        charges: Sequence[Charge] = (),
        windows: Sequence[WindowAdd] = (),
        record: tuple[str, bytes] | None = None,
    ) -> None:
        p = self.prefix
        keys = [f"{p}s:{key}" for key in semaphores]
        args: list[Any] = [holder, len(semaphores), len(charges), len(windows), "1" if record else "0"]
        for charge in charges:
            keys += self._b(charge.key)
            args.append(charge.amount)
        for add in windows:
            keys.append(f"{p}w:{add.key}")
            args += [int(add.window * 1000), add.amount]
        if record is not None:
            keys.append(f"{p}q:{record[0]}")
            args.append(record[1])
        keys.append(f"{p}d:{holder}")
        await self._settle(keys=keys, args=args)

    async def refresh(self, holder: str, ttl: float, semaphores: Sequence[str], balances: Sequence[str]) -> None:
        keys = [f"{self.prefix}s:{key}" for key in semaphores]
        for key in balances:
            keys += self._b(key)[1:]
        await self._refresh(keys=keys, args=[holder, int(ttl * 1000), len(semaphores)])

    async def init_counter(self, key: str, spent: int, expire: float | None = None) -> None:
        await self._init(keys=[self._b(key)[0]], args=[spent, int((expire or 0) * 1000)])

    async def counter(self, key: str) -> Counter | None:
        found = await self._counter(keys=self._b(key))
        if not found:
            return None
        return Counter(int(found[0]), int(found[1]))

    async def window_total(self, key: str, window: float) -> int:
        return int(await self._window_total(keys=[f"{self.prefix}w:{key}"], args=[int(window * 1000)]))

    # -- queues ----------------------------------------------------------------------------

    async def _group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(stream)

    async def queue_read(self, queue: str, consumer: str, count: int) -> list[tuple[str, bytes]]:
        stream = f"{self.prefix}q:{queue}"
        await self._group(stream)
        out: list[tuple[str, bytes]] = []
        # 1. our own unacknowledged deliveries (a failed write is retried), 2. a dead consumer's
        # deliveries idle for long enough, 3. new records
        for start in ("0", None, ">"):
            if start is None:
                reply = await self.redis.xautoclaim(
                    stream, GROUP, consumer, self.claim_idle_ms, start_id="0-0", count=count - len(out)
                )
                entries = reply[1]
            else:
                streams: Any = await self.redis.xreadgroup(GROUP, consumer, {stream: start}, count=count - len(out))
                if isinstance(streams, dict):  # RESP3
                    entries = next(iter(streams.values()), [])
                else:
                    entries = streams[0][1] if streams else []
            seen = {rid for rid, _ in out}
            for entry_id, fields in entries:
                rid = entry_id.decode()
                if fields and rid not in seen:
                    out.append((rid, fields[b"r"]))
            if len(out) >= count:
                break
        return out

    async def queue_ack(self, queue: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        stream = f"{self.prefix}q:{queue}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            await pipe.execute()

    async def queue_len(self, queue: str) -> int:
        return int(await self.redis.xlen(f"{self.prefix}q:{queue}"))

    # -- values ----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        value = await self.redis.get(f"{self.prefix}v:{key}")
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        await self.redis.set(f"{self.prefix}v:{key}", value, px=int(ttl * 1000) if ttl else None)

    async def delete(self, key: str) -> None:
        p = self.prefix
        await self.redis.delete(*(f"{p}{kind}:{key}" for kind in ("v", "w", "s", "b", "bh", "be")))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        name = f"{self.prefix}v:{key}"
        value = int(await self.redis.incrby(name, amount))
        if ttl and value == amount:
            await self.redis.pexpire(name, int(ttl * 1000))
        return value

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()
