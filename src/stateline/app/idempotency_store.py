"""Idempotency records in Redis: four Lua scripts, each one atomic step.

A record is a hash ``stateline:idem:{TAG}:ENDPOINT:KEY`` with ``state``
(``inflight`` or ``done``), ``fp`` (the request's fingerprint), ``owner`` (a
random token of the attempt that claimed it) and, once done, ``status``,
``headers``, ``body`` and ``enc``.

- :data:`CLAIM`: read the record, or create it as ``inflight`` with a *lease*
  (a short TTL): an attempt whose instance dies leaves a claim that expires,
  so a retry can run after the lease instead of never.
- :data:`WRITE`: for a write that is itself one Redis command on a key in the
  record's slot (``INCR``, ``HINCRBY``, ``HSET``, ``HDEL``): check the claim is
  still ours, run the command, build the response body from its result and
  record it as ``done`` with the full TTL -- in one script, so the write and
  the stored outcome cannot disagree after any crash: Redis runs a script
  entirely or not at all, and AOF logs it as one unit.
- :data:`RECORD`: for any other write (SQL, blobs, a key in another slot):
  record the outcome after the handler returned. A crash between the write
  and this step is the remaining window (see docs/api.md).
- :data:`RELEASE`: delete our claim (a 5xx, an exception), so a retry runs.

Scripts go by ``EVALSHA`` and fall back to ``EVAL`` when the server does not
know them yet; a cluster client routes both by the first key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.exceptions import NoScriptError

from stateline.app.idempotency import Outcome, Record
from stateline.stores.redis import AsyncRedis

CLAIM = """
local r = redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'headers', 'body', 'enc')
if not r[1] then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1], 'owner', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return false
end
return r
"""

RECORD = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[2], 'owner', ARGV[1],
           'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5], 'enc', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
"""

RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1]
   and redis.call('HGET', KEYS[1], 'state') == 'inflight' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: KEYS: record, data key. ARGV: owner, fp, ttl_ms, status, headers, body prefix,
#: body suffix, "1" when the command's result goes between them (else "0"),
#: command, its arguments.
#: Returns {1, result} when written and recorded, {0} when another attempt owns
#: the claim (nothing written); a failing command's error is returned as is,
#: with nothing written or recorded.
WRITE = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return {0} end
local op = ARGV[9]
local res = redis.pcall(op, KEYS[2], unpack(ARGV, 10))
if type(res) == 'table' and res.err then return res end
local shown = ''
if op == 'INCR' then shown = redis.call('GET', KEYS[2])
elseif op == 'HINCRBY' then shown = redis.call('HGET', KEYS[2], ARGV[10])
else shown = tostring(res) end
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[2], 'owner', ARGV[1],
           'status', ARGV[4], 'headers', ARGV[5],
           'body', ARGV[6] .. (ARGV[8] == '1' and shown or '') .. ARGV[7],
           'enc', 'utf8')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, shown}
"""

#: The commands :data:`WRITE` may run: single-key writes whose result is known.
ATOMIC_COMMANDS = frozenset({"INCR", "HINCRBY", "HSET", "HDEL"})


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


_CLAIM_SHA, _RECORD_SHA, _RELEASE_SHA, _WRITE_SHA = (_sha(s) for s in (CLAIM, RECORD, RELEASE,
                                                                        WRITE))


def _sha_of(script: str) -> str:
    return {CLAIM: _CLAIM_SHA, RECORD: _RECORD_SHA, RELEASE: _RELEASE_SHA,
            WRITE: _WRITE_SHA}[script]


async def run_script(redis: AsyncRedis, script: str, keys: list[str], args: list[Any]) -> Any:
    """``EVALSHA``, or ``EVAL`` once when this server has not cached the script yet."""
    try:
        return await redis.evalsha(_sha_of(script), len(keys), *keys, *args)  # type: ignore[misc]
    except NoScriptError:
        return await redis.eval(script, len(keys), *keys, *args)  # type: ignore[misc]


async def claim(redis: AsyncRedis, key: str, fp: str, owner: str,
                lease_ms: int) -> Record | None:
    """None when this attempt now holds the key; else what is recorded there."""
    found = await run_script(redis, CLAIM, [key], [fp, owner, lease_ms])
    return None if found is None else Record.from_fields(list(found))


async def record(redis: AsyncRedis, key: str, fp: str, owner: str, outcome: Outcome,
                 ttl_ms: int) -> bool:
    """Store the outcome; False when another attempt took the key over meanwhile."""
    f = outcome.encoded()
    done = await run_script(redis, RECORD, [key], [owner, fp, f["status"], f["headers"],
                                                   f["body"], f["enc"], ttl_ms])
    return bool(done)


async def release(redis: AsyncRedis, key: str, owner: str) -> None:
    await run_script(redis, RELEASE, [key], [owner])


async def write_and_record(redis: AsyncRedis, key: str, data_key: str, fp: str, owner: str,
                           ttl_ms: int, template: Outcome, placeholder: bytes,
                           command: str, args: list[Any]) -> tuple[bool, str]:
    """Run ``command data_key *args`` and record ``template`` with its result, atomically.

    ``template.body`` holds ``placeholder`` where the result goes (at most
    once). Returns ``(True, result as text)``, or ``(False, "")`` when the
    claim is another attempt's, in which case nothing was written.
    """
    if command not in ATOMIC_COMMANDS:
        raise ValueError(f"{command} cannot be recorded atomically")
    prefix, found, suffix = template.body.partition(placeholder)
    f = template.encoded()
    reply = await run_script(redis, WRITE, [key, data_key], [
        owner, fp, ttl_ms, f["status"], f["headers"], prefix.decode("utf-8"),
        suffix.decode("utf-8"), "1" if found else "0", command, *args])
    if int(reply[0]) != 1:
        return False, ""
    return True, str(reply[1])
