import uuid

_seq = 0


def next_tenant_id() -> str:
    global _seq
    _seq += 1  # expect: SL114
    return f"T{_seq:05d}"


def request_token() -> str:
    return uuid.uuid4().hex  # trap: random ids need no shared counter
