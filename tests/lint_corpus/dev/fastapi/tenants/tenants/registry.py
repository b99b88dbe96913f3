from functools import lru_cache


class Registry:
    def __init__(self) -> None:
        self.tenants: dict[str, dict] = {}

    def add(self, name: str, data: dict) -> None:
        self.tenants[name] = data  # expect: SL117

    def names(self) -> list[str]:
        return sorted(self.tenants)


@lru_cache
def get_registry() -> Registry:
    return Registry()
