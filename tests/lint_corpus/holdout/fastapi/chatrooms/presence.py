class Presence:
    def __init__(self) -> None:
        self.members: dict[str, set[str]] = {}


_presence: Presence | None = None


def presence() -> Presence:
    global _presence
    if _presence is None:
        _presence = Presence()  # trap: an empty object, created once
    return _presence
