"""Country lookup with a memo that grew into a table of every visitor."""

import ipaddress


class GeoResolver:
    def __init__(self) -> None:
        self.lookups: dict[str, str] = {}

    def country(self, ip: str) -> str:
        return "private" if ipaddress.ip_address(ip).is_private else "unknown"


_resolver: GeoResolver | None = None


def resolver() -> GeoResolver:
    global _resolver
    if _resolver is None:
        _resolver = GeoResolver()  # trap: the empty object itself is harmless
    return _resolver
