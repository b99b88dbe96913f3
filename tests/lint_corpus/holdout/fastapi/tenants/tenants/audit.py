"""An audit trail that was supposed to be shipped to a log service."""


class AuditLog:
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.by_tenant: dict[str, int] = {}


_log: AuditLog | None = None


def audit_log() -> AuditLog:
    global _log
    if _log is None:
        _log = AuditLog()  # trap: creating the empty object is harmless; what it later holds is not
    return _log


def record(tenant: str, action: str) -> None:
    log = audit_log()
    log.entries.append({"tenant": tenant, "action": action})  # expect: SL117
    log.by_tenant[tenant] = log.by_tenant.get(tenant, 0) + 1  # expect: SL117
