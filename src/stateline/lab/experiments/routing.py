"""Routing: where 100k keys go, and how many move when a pool grows from 3 to 4.

Driven through the gateway's real balancers (``create_balancer``), given plain
targets exactly as the data plane gives them. mod-N has no balancer in the
gateway (nobody should route a stateful pool that way); it is implemented here
as the naive baseline the others are measured against: ``crc32(key) % N``.

Round robin ignores the key: a key "moves" whenever its next request lands on
another member, which is fine for a stateless pool (any instance can serve
it) and fatal for a stateful one. Its movement is measured as the share of
keys whose request went to a different member before and after the change.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from stateline.lab import plots
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.metrics import coefficient_of_variation, fraction_moved, percent

POLICIES = ("round_robin", "mod_n", "rendezvous", "hash_slot")


@dataclass
class Member:
    """A plain target, as the data plane's Upstream looks to a balancer."""

    id: str
    weight: int = 1
    outstanding: int = 0


#: Policies that are not key-routed: drawn hatched, with this note, beside the others.
BASELINES = {"round_robin": "baseline: ignores the key, so a key's home is any member"}
#: What to see in keys_moved.png (printed under it).
CAPTION = ("Among key-routed policies, rendezvous moves about the minimum (25 %) and mod-N "
           "moves most keys; round robin (hatched) keeps no key anywhere, so its figure is "
           "not a cost.")


def assign(policy: str, keys: list[bytes], members: list[Member]) -> dict[bytes, str]:
    """Owner of each key under ``policy`` with ``members`` (one balancer per membership)."""
    if policy == "mod_n":
        n = len(members)
        return {k: members[zlib.crc32(k) % n].id for k in keys}
    from stateline.gateway.balancers import create_balancer

    balancer = create_balancer(policy, seed=0)
    out: dict[bytes, str] = {}
    for k in keys:
        target = balancer.pick(members, k if balancer.needs_key else None)
        assert target is not None
        out[k] = target.id
    return out


def measure(n_keys: int, before: int = 3, after: int = 4) -> dict[str, dict[str, Any]]:
    keys = [f"user:{i}".encode() for i in range(n_keys)]
    old = [Member(f"app-{i + 1}") for i in range(before)]
    new = [*old, *(Member(f"app-{i + 1}") for i in range(before, after))]
    out: dict[str, dict[str, Any]] = {}
    for policy in POLICIES:
        a = assign(policy, keys, old)
        b = assign(policy, keys, new)
        load_before = Counter(a.values())
        load_after = Counter(b.values())
        out[policy] = {
            "moved": round(fraction_moved(a, b), 4),
            "ideal_moved": round(1 - before / after, 4) if policy != "round_robin" else None,
            "cv_before": round(coefficient_of_variation([load_before[m.id] for m in old]), 4),
            "cv_after": round(coefficient_of_variation([load_after[m.id] for m in new]), 4),
            "load_after": {m.id: load_after[m.id] for m in new},
        }
    return out


def run(ctx: Context) -> Result:
    n_keys = 20_000 if ctx.quick else 100_000
    ctx.log(f"routing: {n_keys:,} keys, 3 → 4 members, through the gateway's balancers")
    figures = measure(n_keys)
    rows = [[p, percent(f["moved"]),
             percent(f["ideal_moved"]) if f["ideal_moved"] is not None else "—",
             f"{f['cv_before']:.3f}", f"{f['cv_after']:.3f}"] for p, f in figures.items()]
    md = (
        f"{n_keys:,} keys (`user:0` … ), pool grows from 3 to 4 members. Every policy "
        "except mod-N is the gateway's own balancer (`stateline.gateway.balancers`); mod-N "
        "(`crc32(key) % N`) is implemented here as the naive baseline.\n\n"
        + md_table(["policy", "keys moved", "minimum possible", "load CV (3)", "load CV (4)"],
                   rows)
        + "\n\nRound robin spreads load evenly but ignores the key, so a key's requests "
        "land anywhere: fine for a stateless pool, useless for state held in one member. "
        "mod-N keeps keys together but moves most of them when N changes; rendezvous "
        "hashing moves about the minimum (1/4 of the keys); hash_slot moves whatever the "
        "slot table reassigns.\n"
    )
    png = plots.bars(list(POLICIES), {"keys moved 3→4 (%)": [figures[p]["moved"] * 100
                                                              for p in POLICIES]},
                     "% of keys", "Keys that change member when the pool grows 3 → 4",
                     baselines=BASELINES, percent=True, caption=CAPTION)
    headline = {
        "keys": n_keys,
        **{f"{p}_moved": figures[p]["moved"] for p in POLICIES},
        **{f"{p}_cv": figures[p]["cv_after"] for p in POLICIES},
    }
    return Result("routing", "Routing: key movement and load spread, 3 → 4 members",
                  {"keys": n_keys, "policies": figures}, headline, md,
                  {"keys_moved.png": png}, {"keys_moved.png": CAPTION})
