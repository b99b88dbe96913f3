"""Exactly-once: retried writes with and without Idempotency-Key while instances die.

Writers add cart lines and increment the counter through the gateway over 3
app instances while one instance after another is SIGKILLed mid-request.
Every writer retries on 5xx, timeouts and dropped connections, as a good
client library does. Two phases, one after the other so the shared counter's
growth belongs to one of them: *unkeyed* writers (a retry is a new request)
and *keyed* writers (every attempt of one operation carries one
``Idempotency-Key``).

A retry is only dangerous when the first attempt was applied and its answer
lost: the instance died between its Redis write and its response. Then the
unkeyed retry applies the write again; the keyed one is answered from the
record that the same Lua script wrote. The final state is compared with what
each writer was told (see ``lab.retrying.tally``).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from stateline.lab import progress
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.retrying import Op, RetryingWriter, tally
from stateline.lab.system import System

APPS = 3
#: A killed attempt's claim blocks its retries (409) this long: short, so a quick
#: run sees retries succeed; the default (30 s) is sized for real request times.
LEASE_MS = 1000


def _writer(port: int, keyed: bool, user: str, stop: threading.Event,
            ops: list[Op], seed: int) -> RetryingWriter:
    """Write until ``stop``: cart adds (a new sku each), counter increments, a few users."""
    w = RetryingWriter(port, keyed)
    n = 0
    while not stop.is_set():
        n += 1
        turn = (n + seed) % 5
        if turn in (0, 1):
            op = Op("cart", sku=f"op{n}")
            ops.append(w.perform(op, "POST", f"/api/carts/{user}/items",
                                 {"sku": op.sku, "qty": 1}))
        elif turn in (2, 3):
            ops.append(w.perform(Op("counter"), "POST", "/api/counter/incr"))
        else:
            ops.append(w.perform(Op("user"), "POST", "/api/users",
                                 {"name": "xo", "email": f"{user}-{n}@example.com"}))
    w.close()
    return w


def _read(system: System, path: str) -> Any:
    """A GET through the gateway, retried until an instance answers (GETs are safe)."""
    client = system.client()
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                status, _, body = client.request("GET", path)
                if status == 200:
                    return body
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"GET {path} never answered 200")
            time.sleep(0.1)
    finally:
        client.close()


def _phase(system: System, ctx: Context, keyed: bool, writers: int, seconds: float,
           kill_every: float, run_id: str) -> dict[str, Any]:
    kind = "keyed" if keyed else "unkeyed"
    before = int(_read(system, "/api/counter")["value"])
    stop = threading.Event()
    per_writer: list[list[Op]] = [[] for _ in range(writers)]
    users = [f"xo-{run_id}-{kind}-{i}" for i in range(writers)]
    clients: list[RetryingWriter] = []
    threads = [threading.Thread(target=lambda i=i: clients.append(_writer(
        system.port, keyed, users[i], stop, per_writer[i], i)), daemon=True)
        for i in range(writers)]
    for t in threads:
        t.start()
    kills = 0
    started = time.monotonic()
    next_kill = started + kill_every / 2

    def counts() -> tuple[int, int]:
        done = [o for ops in per_writer for o in list(ops)]
        return len(done), sum(1 for o in done if not o.acked)

    with progress.ticking(f"{kind} writes", seconds, counts):
        while time.monotonic() - started < seconds:
            if time.monotonic() >= next_kill:
                target = f"app-{kills % APPS + 1}"
                reply = system.kill(target)
                kills += 1
                ctx.log(f"  {kind}: t={time.monotonic() - started:.1f}s SIGKILL {target} "
                        f"(pid {reply.get('pid')})")
                next_kill += kill_every
            time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(120)
    time.sleep(0.5)  # an attempt the client gave up on may still be finishing upstream
    lines: dict[str, int] = {}
    for i, user in enumerate(users):
        cart = _read(system, f"/api/carts/{user}")
        for item in cart["items"]:
            lines[f"{i}:{item['sku']}"] = int(item["qty"])
    after = int(_read(system, "/api/counter")["value"])
    ops = [Op(o.kind, f"{i}:{o.sku}" if o.sku else None, o.attempts, o.acked, o.replayed,
              o.statuses, o.code) for i, wops in enumerate(per_writer) for o in wops]
    counts = tally(ops, lines, after - before)
    statuses: dict[str, int] = {}
    for o in ops:
        for s in o.statuses[:-1] if o.acked else o.statuses:
            statuses[str(s)] = statuses.get(str(s), 0) + 1
    return {**counts, "kills": kills, "requests": sum(c.requests for c in clients),
            "counter_growth": after - before, "failed_attempts": statuses}


def run(ctx: Context) -> Result:
    seconds = 6.0 if ctx.quick else 30.0
    writers = 6 if ctx.quick else 8
    kill_every = 1.0 if ctx.quick else 1.5
    run_id = uuid.uuid4().hex[:8]
    env = {"STATELINE_IDEMPOTENCY_LEASE_MS": str(LEASE_MS)}
    with System(APPS, ctx.log, extra_env=env) as system:
        ctx.log(f"exactly-once: {writers} writers per phase, {seconds:g} s each, "
                f"SIGKILL an instance every {kill_every:g} s")
        unkeyed = _phase(system, ctx, False, writers, seconds, kill_every, run_id)
        keyed = _phase(system, ctx, True, writers, seconds, kill_every, run_id)
    data = {
        "requests": unkeyed["requests"] + keyed["requests"],
        "duplicates_keyed": keyed["duplicates"],
        "duplicates_unkeyed": unkeyed["duplicates"],
        "lost_acknowledged": keyed["lost_acknowledged"] + unkeyed["lost_acknowledged"],
        "kills": unkeyed["kills"] + keyed["kills"],
        # SQL user creates: a keyed retry answered 409 email_taken found its first attempt's
        # user without a record of it: a kill in the window between commit and record.
        "sql_window_hits_keyed": keyed["users_refused_as_taken"],
        "sql_duplicates_refused_unkeyed": unkeyed["users_refused_as_taken"],
        "writers": writers,
        "phase_s": seconds,
        "lease_ms": LEASE_MS,
        "keyed": keyed,
        "unkeyed": unkeyed,
        "teardown": system.teardown,
    }
    rows = [[name, p["ops"], p["requests"], p["kills"], p["retried"], p["acknowledged"],
             p["unresolved"], p["replayed"], p["duplicates_cart"], p["duplicates_counter"],
             p["lost_acknowledged"]]
            for name, p in (("without key", unkeyed), ("with Idempotency-Key", keyed))]
    none_note = ("" if unkeyed["duplicates"] else
                 "\n\nNo unkeyed duplicate occurred in this run: a duplicate needs a kill that "
                 "lands after an instance's Redis write and before its response left, a window "
                 "of well under a millisecond per request; longer runs (without `--quick`) "
                 "give it more chances.")
    md = (
        f"{writers} writers per phase for {seconds:g} s each, through the gateway over {APPS} "
        f"instances; an instance SIGKILLed every {kill_every:g} s (supervisor restarts it). "
        "Each writer retries an operation on 5xx, timeout or dropped connection (and on 409 "
        "while a keyed attempt is in flight; claim lease "
        f"{LEASE_MS} ms). Cart adds write one sku each (qty 1), so the cart shows how often "
        "each was applied; counter figures are lower bounds from its growth.\n\n"
        + md_table(["writers", "operations", "HTTP requests", "kills", "retried", "acknowledged",
                    "unresolved", "replayed", "duplicated (cart)", "duplicated (counter, ≥)",
                    "acknowledged but lost"], rows)
        + f"\n\nRetries without keys double-applied {unkeyed['duplicates']} writes; with keys "
        f"{keyed['duplicates']}." + none_note
        + f"\n\nUser creates (SQL; the record is a second step in Redis): "
        f"{keyed['users_refused_as_taken']} of {keyed['users']} keyed creates hit the window "
        "between the SQL commit and the record (the retry found the user and got 409 "
        "`email_taken` instead of the replayed 201); without keys, "
        f"{unkeyed['users_refused_as_taken']} of {unkeyed['users']} retries were refused by "
        "the UNIQUE email. No user is ever created twice.\n"
    )
    headline = {
        "requests": data["requests"],
        "duplicates_keyed": data["duplicates_keyed"],
        "duplicates_unkeyed": data["duplicates_unkeyed"],
        "lost_acknowledged": data["lost_acknowledged"],
        "kills": data["kills"],
        "sql_window_hits_keyed": data["sql_window_hits_keyed"],
    }
    return Result("exactly-once", "Exactly-once writes: retries with and without "
                  "Idempotency-Key", data, headline, md)
