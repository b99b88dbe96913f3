"""Generic helpers that mutate whatever they are given."""


def remember(table: dict, key: str, value: object) -> None:
    table[key] = value  # expect: SL104


def bump(counter: dict, key: str) -> int:
    counter[key] = counter.get(key, 0) + 1  # expect: SL104
    return counter[key]


def scratch_total(items: list[dict]) -> int:
    totals: dict[str, int] = {}
    for it in items:
        remember(totals, it["name"], it["qty"])  # trap: local dict passed to the helper
    return sum(totals.values())
