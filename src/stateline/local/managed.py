"""One supervised stateless process (an app instance or the gateway) and its state.

States, as ``stateline status`` shows them:

``starting``  spawned, health not yet answered
``up``        ``GET /_stateline/health`` answered 200
``backoff``   exited; waiting for its restart time (see :mod:`restart_policy`)
``draining``  asked to stop (SIGTERM) by a scale-down or shutdown
``failed``    crashed too often in a row; left down
``stopped``   gone for good
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from stateline.local import procs
from stateline.local.restart_policy import Decision, GiveUp, RestartPolicy, RestartState
from stateline.local.specs import ProcessSpec

#: However long the gateway takes to drain, the apps still get this long after it.
MIN_APP_GRACE = 2.0


@dataclass
class ManagedProcess:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    state: str = "stopped"
    restart: RestartState = field(default_factory=RestartState)
    restart_at: float | None = None
    kill_requested: bool = False
    reason: str = ""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited_unexpectedly(self) -> bool:
        """Exited while it should be running (``starting``/``up``), by crash or by our kill."""
        return self.state in ("starting", "up") and self.proc is not None \
            and self.proc.poll() is not None

    def spawn(self, policy: RestartPolicy, now: float) -> None:
        """Start (or restart) the process; main thread only (see :mod:`procs`)."""
        self.proc = procs.spawn(self.spec.argv, env=self.spec.env, log_path=self.spec.log_path)
        self.state = "starting"
        self.restart = policy.started(self.restart, now)
        self.restart_at = None
        self.kill_requested = False
        self.reason = ""

    def on_exit(self, policy: RestartPolicy, now: float) -> Decision:
        """Record the exit and return the policy's decision; sets ``backoff`` or ``failed``."""
        self.restart, decision = policy.exited(self.restart, now, self.kill_requested)
        if isinstance(decision, GiveUp):
            self.state, self.reason, self.restart_at = "failed", decision.reason, None
        else:
            self.state, self.restart_at = "backoff", decision.at
        return decision

    def exit_description(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if self.kill_requested:
            return "was killed on request"
        if code is not None and code < 0:
            return f"died of signal {-code}"
        return f"exited with code {code}"

    def why_not_up(self, why: str, tail_lines: int) -> str:
        """A failed start explained: how it ended, then the end of its log.

        The tail skips blank lines and shows the last ``tail_lines``: the first
        line of an app's log only says it started; why it never became ready
        comes last.
        """
        if self.proc is not None and self.proc.poll() is not None:
            how = f"{self.id} {self.exit_description()} during start-up"
        else:
            how = f"{self.id} {why}"
        log = self.spec.log_path
        try:
            text = log.read_text(errors="replace")
        except OSError:
            text = ""
        tail = [line for line in text.splitlines() if line.strip()][-tail_lines:]
        if not tail:
            return f"{how}\n  (its log, {log}, is empty)"
        return f"{how}\n  last lines of its log, {log}:" + "".join(f"\n    {x}" for x in tail)

    def as_status(self) -> dict[str, object]:
        # Between an exit and the monitor's next tick, do not claim "up".
        state = "backoff" if self.exited_unexpectedly() else self.state
        return {"role": self.spec.role, "id": self.id, "pid": self.pid,
                "address": self.spec.address, "state": state,
                "restarts": self.restart.restarts, "log": str(self.spec.log_path),
                **({"reason": self.reason} if self.reason else {})}


def explain_failed_starts(failed: Sequence[tuple[ManagedProcess, str]], tail_lines: int) -> str:
    """Why these processes did not come up, each with its log tail.

    N apps given one wrong database URL fail alike: the reason and a log tail
    are shown once, the others only point at their logs.
    """
    told: set[str] = set()
    lines = []
    for m, why in failed:
        if why in told and m.alive():
            lines.append(f"{m.id}: the same (its log: {m.spec.log_path})")
        else:
            lines.append(m.why_not_up(why or "did not become healthy", tail_lines))
            told.add(why)
    return "\n".join(lines)


def stop_stateless(
    ms: Sequence[ManagedProcess], gateway_grace: float, drain_timeout: float
) -> None:
    """Stop the gateway first, then the apps; every one is gone when this returns.

    The gateway goes first and alone: it stops accepting and finishes the
    requests it holds while the apps that serve them are still there (stopping
    both at once dropped requests in flight). It gets up to ``gateway_grace``
    seconds; the apps then drain (SIGTERM) for what is left of
    ``drain_timeout``, but at least :data:`MIN_APP_GRACE`, before SIGKILL.
    """
    started = time.monotonic()
    gateway = [m.proc for m in ms if m.spec.role == "gateway" and m.proc is not None]
    procs.stop_gracefully(gateway, gateway_grace)
    app_grace = max(MIN_APP_GRACE, drain_timeout - (time.monotonic() - started))
    procs.stop_gracefully([m.proc for m in ms if m.spec.role != "gateway" and m.proc is not None],
                          app_grace)
