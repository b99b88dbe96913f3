class Tally:
    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}


_tally = None


def tally() -> Tally:
    global _tally
    if _tally is None:
        _tally = Tally()  # trap: lazily creating an empty object stores nothing yet
    return _tally
