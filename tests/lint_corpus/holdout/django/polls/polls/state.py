OPEN_POLLS: set[int] = set()
VOTE_LOG: dict[int, list[int]] = {}
