"""Process-wide tables. They were meant to be temporary."""

TENANTS: dict[str, dict] = {}
QUOTAS: dict[str, int] = {}
PLAN_NAMES = {"free": "Free", "pro": "Pro", "team": "Team"}  # trap: constant mapping, only read
MAINTENANCE_UNTIL = 0.0
USAGE_SAMPLES: list[tuple[str, int]] = []
