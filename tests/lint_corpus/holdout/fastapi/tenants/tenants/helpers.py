"""Helpers the routers call. Some mutate what they are given."""

import random
import time


def register(table: dict, key: str, value: dict) -> None:
    table[key] = value  # expect: SL104


def charge_quota(quotas: dict, tenant: str, amount: int) -> int:
    quotas[tenant] = quotas.get(tenant, 100) - amount  # expect: SL104
    return quotas[tenant]


def stamp(record: dict) -> dict:
    record["updated_at"] = time.time()  # trap: only ever given a fresh dict built per request
    return record


def tag_list(tag: str, tags: list | None = None) -> list:
    tags = tags if tags is not None else []  # trap: the safe default idiom
    tags.append(tag)  # trap: a new list per call
    return tags


def plan_label(plan: str, aliases={"biz": "team"}) -> str:
    return aliases.get(plan, plan)  # trap: a mutable default that is only read


def sample_region(regions: tuple[str, ...], seed: str) -> str:
    return random.Random(seed).choice(regions)  # trap: a local generator, nothing kept
