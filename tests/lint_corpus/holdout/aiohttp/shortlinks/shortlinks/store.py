LINKS: dict[int, str] = {}
OWNERS: dict[int, str] = {}
