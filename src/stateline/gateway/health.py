"""Upstream health: passive outlier ejection and active checks, as one pure state machine.

The data plane reports what happened (a response, a connect failure, a health
check result, the time) and asks one question back on every request: which
instances may get traffic now? Nothing here does I/O or reads a clock -- ``now``
is monotonic seconds passed in -- so every rule below is tested by driving the
machine directly, h11 style.

An instance is *available* unless one of these holds:

- **ejected** (passive outlier detection, Envoy's names and defaults): after
  ``consecutive_5xx`` responses that were 5xx (connect failures, resets and
  timeouts count, the client would have seen a 5xx for them), or
  ``consecutive_gateway_failure`` 502/503/504-like failures, or
  ``consecutive_local_origin_failure`` connect failures, the instance is ejected
  for ``base_ejection_time * n`` seconds, where ``n`` is how many times it has
  been ejected recently (capped at ``max_ejection_time``). A flapping instance
  is therefore kept out longer each time; the multiplier decays by one for every
  ``multiplier_decay_interval`` the instance spends without an ejection, so an
  instance that recovered for good is forgiven. An admin ejection lasts until
  an admin restore.
- **unhealthy** (active checks): ``unhealthy_threshold`` failed checks in a row;
  ``healthy_threshold`` good checks in a row bring it back. A good active check
  also ends a passive ejection early (Envoy's
  ``successful_active_health_check_uneject_host``).
- **draining**: the registry (or an admin) says it is leaving; it finishes what
  it has and gets nothing new.

At most ``max_ejection_percent`` of the pool is passively ejected at once, so a
shared failure (the database is down, every instance answers 503) cannot eject
the whole pool and turn "slow errors" into "no upstream". But the limit is
rounded in favour of ejecting one host: in a pool of three, 10% is 0.3 hosts,
and flooring that would mean outlier detection never works in small pools,
which is exactly where one bad instance hurts most. So one host may always be
ejected (Envoy behaves the same way).

**Panic** (Envoy's ``healthy_panic_threshold``): when fewer than
``panic_threshold`` percent of the pool's routable hosts (those neither draining
nor ejected by an admin) are available, the pool routes to all of them, ejected
and unhealthy included. Health data that condemns most of a pool is more
likely wrong (one overloaded instance answering 503, a flaky check) than most
of the pool is down, and a guess that turns every request into "no upstream"
is a self-inflicted outage. 0 turns panic off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, StrEnum

INFINITY = math.inf


class Outcome(Enum):
    """What one proxied request told us about its upstream."""

    SUCCESS = "success"
    CONNECT_FAILURE = "connect_failure"  # refused, unreachable, connect timeout
    GATEWAY_FAILURE = "gateway_failure"  # 502/503/504 from upstream, reset, timeout, garbage
    SERVER_ERROR = "server_error"  # any other 5xx


# Members as module constants for ``record`` (once per request): reading an enum
# member through its class costs tens of nanoseconds each time.
_SUCCESS = Outcome.SUCCESS
_SERVER_ERROR = Outcome.SERVER_ERROR
_CONNECT_FAILURE = Outcome.CONNECT_FAILURE

class State(StrEnum):
    """An instance's health as shown to operators; only HEALTHY receives new requests."""

    HEALTHY = "healthy"
    DRAINING = "draining"
    UNHEALTHY = "unhealthy"  # failed active checks
    EJECTED = "ejected"  # passive outlier ejection, or an admin ejection


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    """Envoy's outlier detection and health check knobs, with Envoy's defaults."""

    consecutive_5xx: int = 5
    consecutive_gateway_failure: int = 5
    consecutive_local_origin_failure: int = 5
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    max_ejection_percent: float = 10.0
    panic_threshold: float = 50.0  # percent available below which the whole pool is used
    multiplier_decay_interval: float = 10.0  # Envoy's outlier detection ``interval``
    # active health checks
    interval: float = 5.0
    timeout: float = 1.0
    unhealthy_threshold: int = 2
    healthy_threshold: int = 1

    def __post_init__(self) -> None:
        for name in ("consecutive_5xx", "consecutive_gateway_failure",
                     "consecutive_local_origin_failure", "unhealthy_threshold",
                     "healthy_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("base_ejection_time", "max_ejection_time", "multiplier_decay_interval",
                     "interval", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if not 0.0 <= self.max_ejection_percent <= 100.0:
            raise ValueError("max_ejection_percent must be within 0..100")
        if not 0.0 <= self.panic_threshold <= 100.0:
            raise ValueError("panic_threshold must be within 0..100")

    def ejection_time(self, times_ejected: int) -> float:
        """How long the ``times_ejected``-th recent ejection lasts: linear growth, capped."""
        return min(self.base_ejection_time * times_ejected, self.max_ejection_time)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of one instance's state, for logs and metrics."""

    id: str
    old_state: State
    new_state: State
    reason: str


class _Host:
    """Everything the machine knows about one instance (mutable, private)."""

    __slots__ = ("admin_ejected", "check_failures", "check_successes", "consecutive_5xx",
                 "consecutive_gateway", "consecutive_local", "draining", "ejected_since",
                 "ejected_until", "last_decay", "multiplier", "unhealthy")

    def __init__(self) -> None:
        self.consecutive_5xx = 0
        self.consecutive_gateway = 0
        self.consecutive_local = 0
        self.ejected_until: float | None = None  # passive: until then; admin: INFINITY
        self.ejected_since = 0.0
        self.admin_ejected = False
        self.multiplier = 0  # recent ejections, for the growing ejection time
        self.last_decay = 0.0
        self.unhealthy = False
        self.check_failures = 0
        self.check_successes = 0
        self.draining = False

    @property
    def state(self) -> State:
        if self.ejected_until is not None:
            return State.EJECTED
        if self.unhealthy:
            return State.UNHEALTHY
        if self.draining:
            return State.DRAINING
        return State.HEALTHY

    def reset_counters(self) -> None:
        self.consecutive_5xx = self.consecutive_gateway = self.consecutive_local = 0


class PoolHealth:
    """The health of every instance in one pool; the data plane's single source of availability.

    ``version`` is bumped whenever the set of available ids changes, so the data
    plane can keep its candidate list until the version moves instead of
    filtering the pool on every request.
    """

    def __init__(self, policy: OutlierPolicy | None = None) -> None:
        self.policy = policy or OutlierPolicy()
        self.version = 0
        self.ejections_total: dict[str, int] = {}
        self._hosts: dict[str, _Host] = {}
        self._available: frozenset[str] = frozenset()
        self._routable: frozenset[str] = frozenset()
        self.panic = False  # routing to every routable host, ignoring health
        self.panics_total = 0  # times the pool entered panic
        self._passively_ejected = 0
        self._next_event = INFINITY  # next ejection end or multiplier decay

    # -- membership ---------------------------------------------------------

    def add(self, id: str) -> None:
        """Start tracking ``id`` as healthy (new instances get traffic at once, as in Envoy)."""
        if id not in self._hosts:
            self._hosts[id] = _Host()
            self.ejections_total.setdefault(id, 0)
            self._refresh()

    def remove(self, id: str) -> None:
        """Forget ``id`` (it left the pool); unknown ids are ignored."""
        host = self._hosts.pop(id, None)
        if host is not None:
            if host.ejected_until is not None and not host.admin_ejected:
                self._passively_ejected -= 1
            self.ejections_total.pop(id, None)
            self._refresh()

    def __contains__(self, id: object) -> bool:
        return id in self._hosts

    def __len__(self) -> int:
        return len(self._hosts)

    # -- the hot path --------------------------------------------------------

    def available_ids(self) -> frozenset[str]:
        """The healthy instances (cached; rebuilt on change)."""
        return self._available

    def routable_ids(self) -> frozenset[str]:
        """The instances to route new requests to: the available ones, or in panic all."""
        return self._routable

    def record(self, id: str, outcome: Outcome, now: float) -> Transition | None:
        """Account one proxied request's outcome; returns the ejection it caused, if any."""
        host = self._hosts.get(id)
        if host is None:
            return None  # removed while the request was in flight
        if outcome is _SUCCESS:
            if host.consecutive_5xx:
                host.consecutive_5xx = host.consecutive_gateway = host.consecutive_local = 0
            return None
        host.consecutive_5xx += 1
        if outcome is _SERVER_ERROR:
            host.consecutive_gateway = host.consecutive_local = 0
        else:
            host.consecutive_gateway += 1
            if outcome is _CONNECT_FAILURE:
                host.consecutive_local += 1
            else:
                host.consecutive_local = 0
        if host.ejected_until is not None:
            return None
        p = self.policy
        if host.consecutive_local >= p.consecutive_local_origin_failure:
            reason = "consecutive_local_origin_failure"
        elif host.consecutive_gateway >= p.consecutive_gateway_failure:
            reason = "consecutive_gateway_failure"
        elif host.consecutive_5xx >= p.consecutive_5xx:
            reason = "consecutive_5xx"
        else:
            return None
        return self._eject_passively(id, host, now, reason)

    # -- active checks and time ------------------------------------------------

    def record_check(self, id: str, ok: bool, now: float) -> Transition | None:
        """Account one active health check result."""
        host = self._hosts.get(id)
        if host is None:
            return None
        old = host.state
        p = self.policy
        if ok:
            host.check_failures = 0
            host.check_successes += 1
            if host.unhealthy and host.check_successes >= p.healthy_threshold:
                host.unhealthy = False
            if host.ejected_until is not None and not host.admin_ejected:
                self._uneject(host)
                host.last_decay = now
                self._next_event = min(self._next_event, now + p.multiplier_decay_interval)
        else:
            host.check_successes = 0
            host.check_failures += 1
            if not host.unhealthy and host.check_failures >= p.unhealthy_threshold:
                host.unhealthy = True
        return self._changed(id, host, old, "active_check_passed" if ok else "active_check_failed")

    def tick(self, now: float) -> list[Transition]:
        """End passive ejections whose time is up and decay ejection multipliers.

        Called often (every ~100 ms); it returns at once until the next ejection
        ends or the next multiplier decays, so an idle pool costs one comparison.
        """
        if now < self._next_event:
            return []
        transitions: list[Transition] = []
        decay = self.policy.multiplier_decay_interval
        next_event = INFINITY
        for id, host in self._hosts.items():
            until = host.ejected_until
            if until is not None:
                if host.admin_ejected:
                    continue
                if until > now:
                    next_event = min(next_event, until)
                    continue
                old = host.state
                self._uneject(host)
                host.last_decay = now
                t = self._changed(id, host, old, "ejection_time_elapsed")
                if t is not None:
                    transitions.append(t)
            elif host.multiplier and now - host.last_decay >= decay:
                steps = int((now - host.last_decay) // decay)
                host.multiplier = max(0, host.multiplier - steps)
                host.last_decay += steps * decay
            if host.multiplier:
                next_event = min(next_event, host.last_decay + decay)
        self._next_event = next_event
        return transitions

    # -- operator and registry actions -------------------------------------------

    def set_draining(self, id: str, draining: bool) -> None:
        """Mark ``id`` as draining (no new requests) or not."""
        host = self._hosts.get(id)
        if host is not None and host.draining != draining:
            host.draining = draining
            self._refresh()

    def eject(self, id: str, now: float) -> None:
        """Admin ejection: out of rotation until ``restore``, whatever the limits say.

        An operator's decision is not an outlier guess, so it neither obeys nor
        uses up ``max_ejection_percent`` (a passive ejection it replaces frees
        its slot).
        """
        host = self._hosts.get(id)
        if host is None or host.admin_ejected:
            return
        if host.ejected_until is not None:
            self._passively_ejected -= 1
        host.admin_ejected = True
        host.ejected_until = INFINITY
        host.ejected_since = now
        self.ejections_total[id] = self.ejections_total.get(id, 0) + 1
        self._refresh()

    def restore(self, id: str) -> None:
        """Admin restore: end any ejection and forget the failure history."""
        host = self._hosts.get(id)
        if host is None:
            return
        if host.ejected_until is not None:
            if not host.admin_ejected:
                self._passively_ejected -= 1
            host.ejected_until = None
            host.admin_ejected = False
        host.multiplier = 0
        host.reset_counters()
        self._refresh()

    # -- reporting -------------------------------------------------------------

    def state(self, id: str) -> State:
        """The state of one instance (KeyError for an unknown id)."""
        return self._hosts[id].state

    def snapshot(self, now: float) -> dict[str, dict[str, object]]:
        """Per instance: state and counters, for ``/_stateline/pools``."""
        out: dict[str, dict[str, object]] = {}
        for id, h in self._hosts.items():
            until = h.ejected_until
            out[id] = {
                "state": h.state.value,
                "available": id in self._available,
                "draining": h.draining,
                "ejections": self.ejections_total.get(id, 0),
                "ejection_multiplier": h.multiplier,
                "consecutive_5xx": h.consecutive_5xx,
                "consecutive_gateway_failure": h.consecutive_gateway,
                "consecutive_local_origin_failure": h.consecutive_local,
                "active_check_failures": h.check_failures,
                "admin_ejected": h.admin_ejected,
                "ejected_until": None if until is None or until == INFINITY else until,
                "ejected_for_s": None if until is None or until == INFINITY
                else max(0.0, until - now),
            }
        return out

    # -- internals -------------------------------------------------------------

    def _may_eject_one_more(self) -> bool:
        """Whether the ejection limit leaves room for one more passive ejection."""
        limit = max(1, math.floor(len(self._hosts) * self.policy.max_ejection_percent / 100.0))
        return self._passively_ejected < limit

    def _eject_passively(self, id: str, host: _Host, now: float, reason: str) -> Transition | None:
        if not self._may_eject_one_more():
            return None
        old = host.state
        host.multiplier += 1
        until = now + self.policy.ejection_time(host.multiplier)
        host.ejected_until = until
        host.ejected_since = now
        host.last_decay = now
        self._passively_ejected += 1
        self.ejections_total[id] = self.ejections_total.get(id, 0) + 1
        self._next_event = min(self._next_event, until)
        return self._changed(id, host, old, reason)

    def _uneject(self, host: _Host) -> None:
        host.ejected_until = None
        host.reset_counters()
        self._passively_ejected -= 1

    def _changed(self, id: str, host: _Host, old: State, reason: str) -> Transition | None:
        new = host.state
        self._refresh()
        if new is old:
            return None
        return Transition(id, old, new, reason)

    def _refresh(self) -> None:
        available = frozenset(id for id, h in self._hosts.items() if h.state is State.HEALTHY)
        base = [id for id, h in self._hosts.items() if not h.draining and not h.admin_ejected]
        threshold = self.policy.panic_threshold
        panic = bool(base) and len(available) * 100.0 < threshold * len(base)
        routable = frozenset(base) if panic else available
        if panic and not self.panic:
            self.panics_total += 1
        self.panic = panic
        if available != self._available or routable != self._routable:
            self._available = available
            self._routable = routable
            self.version += 1
