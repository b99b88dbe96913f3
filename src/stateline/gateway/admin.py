"""The gateway's own endpoints under ``/_stateline/``; nothing there is ever proxied.

- ``GET /_stateline/health`` — public: is this gateway up, how many instances can it use.
- ``GET /_stateline/metrics`` — public: Prometheus text (counters only, no addresses
  beyond instance ids, so a scraper needs no secret).
- ``GET /_stateline/pools``, ``GET /_stateline/stats`` — need the admin token: they
  show the internal topology.
- ``POST /_stateline/pools/<pool>/members/<id>/{drain,undrain,eject,restore}`` — need
  the admin token; with no ``STATELINE_ADMIN_TOKEN`` configured they are refused (403),
  so a gateway started without thinking about it cannot be steered from outside.

The token is compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote

from stateline.gateway import errors, metrics, native
from stateline.gateway.framing import path_of
from stateline.gateway.headers import header_value

if TYPE_CHECKING:
    from stateline.gateway.server import Gateway

_ACTIONS = ("drain", "undrain", "eject", "restore")


class Admin:
    def __init__(self, gw: Gateway, token: str | None) -> None:
        self.gw = gw
        self.token = token.encode() if token else None
        self.started = time.time()

    def answer(self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]],
               keep_alive: bool) -> bytes:
        path = path_of(target).decode("latin-1")
        head = method == b"HEAD"
        if path == "/_stateline/health":
            if method not in (b"GET", b"HEAD"):
                return self._method(keep_alive)
            doc = self._health()
            return errors.json_response(200 if doc["status"] == "ok" else 503, doc,
                                        keep_alive=keep_alive, head_only=head)
        if path == "/_stateline/metrics":
            if method not in (b"GET", b"HEAD"):
                return self._method(keep_alive)
            text = metrics.render(self.gw.metric_sources(), len(self.gw.connections),
                                  self.gw.refused_connections)
            return errors.json_response(200, text.encode(), keep_alive=keep_alive, head_only=head,
                                        content_type=b"text/plain; version=0.0.4")
        denied = self._check_token(headers, keep_alive)
        if path in ("/_stateline/pools", "/_stateline/stats"):
            if denied:
                return denied
            if method not in (b"GET", b"HEAD"):
                return self._method(keep_alive)
            doc = self._pools() if path.endswith("pools") else self._stats()
            return errors.json_response(200, doc, keep_alive=keep_alive, head_only=head)
        parts = path.split("/")  # "", "_stateline", "pools", P, "members", ID, ACTION
        if len(parts) == 7 and parts[2] == "pools" and parts[4] == "members":
            if denied:
                return denied
            if method != b"POST":
                return self._method(keep_alive)
            return self._action(unquote(parts[3]), unquote(parts[5]), parts[6], keep_alive)
        return errors.error_response(404, "not_found", "no such gateway endpoint",
                                     keep_alive=keep_alive, head_only=head)

    def _method(self, keep_alive: bool) -> bytes:
        return errors.error_response(405, "method_not_allowed", "method not allowed here",
                                     keep_alive=keep_alive)

    def _check_token(self, headers: Sequence[tuple[bytes, bytes]],
                     keep_alive: bool) -> bytes | None:
        if self.token is None:
            return errors.error_response(
                403, "admin_disabled", "admin endpoints need STATELINE_ADMIN_TOKEN on the gateway",
                keep_alive=keep_alive)
        auth = header_value(headers, b"authorization") or b""
        scheme, _, given = auth.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            return errors.error_response(
                401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' is required",
                keep_alive=keep_alive, extra=((b"www-authenticate", b"Bearer"),))
        return None

    def _health(self) -> dict[str, object]:
        """Ready (``ok``) only when every configured pool has members to route to.

        A gateway started before the registry's first answer (or whose pool
        has no instance at all) would answer ``503 no_upstream`` to every
        request; a load balancer in front must not send it traffic yet. The
        503's body names the empty pools.
        """
        empty = [name for name, p in self.gw.pools.items() if not p.members]
        doc: dict[str, object] = {
            "status": "ok" if not empty else "unavailable",
            "role": "gateway",
            "pid": os.getpid(),
            "pools": {name: len(p.candidates()) for name, p in self.gw.pools.items()},
        }
        if empty:
            doc["empty_pools"] = empty
            doc["error"] = {"code": "pools_empty",
                            "message": f"no members yet in pool(s): {', '.join(empty)}"}
        return doc

    def _pools(self) -> dict[str, object]:
        return {"pools": [p.snapshot() for p in self.gw.pools.values()]}

    def _stats(self) -> dict[str, object]:
        pools = {}
        for name, p in self.gw.pools.items():
            m = p.metrics
            pools[name] = {
                "requests": sum(m.by_class),
                "by_status_class": {f"{i}xx": n for i, n in enumerate(m.by_class) if i},
                "retries": m.retries,
                "retry_budget_exhausted": p.budget.exhausted_total,
                "rate_limited": m.rate_limited,
                "panic": m.panic,
                "panics": m.panics,
                "upgrades": m.upgrades,
                "tunnels_open": m.tunnels_open,
                "mean_latency_ms": round(1000 * m.latency_sum / m.latency_count, 3)
                if m.latency_count else None,
                "upstreams": {u.id: {"requests": u.metrics.requests,
                                     "errors": dict(u.metrics.errors),
                                     "outstanding": u.outstanding}
                              for u in p.members.values()},
            }
        return {"pid": os.getpid(), "uptime_s": round(time.time() - self.started, 1),
                "connections": len(self.gw.connections), "tunnels": len(self.gw.tunnels),
                "max_client_connections": self.gw.max_connections,
                "connections_refused": self.gw.refused_connections,
                "data_plane": native.describe(),
                "pools": pools}

    def _action(self, pool_name: str, id: str, action: str, keep_alive: bool) -> bytes:
        pool = self.gw.pools.get(pool_name)
        if pool is None or id not in pool.members:
            return errors.error_response(404, "not_found", f"no member {id!r} in pool "
                                         f"{pool_name!r}", keep_alive=keep_alive)
        if action not in _ACTIONS:
            return errors.error_response(404, "not_found", f"unknown action {action!r}; one of "
                                         f"{', '.join(_ACTIONS)}", keep_alive=keep_alive)
        now = time.monotonic()
        if action in ("drain", "undrain"):
            pool.set_draining(id, action == "drain")
        elif action == "eject":
            pool.health.eject(id, now)
        else:
            pool.health.restore(id)
        state = pool.health.snapshot(now).get(id, {})
        return errors.json_response(200, {"pool": pool_name, "id": id, "action": action,
                                          "member": state}, keep_alive=keep_alive)
