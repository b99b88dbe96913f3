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
from dataclasses import dataclass, field

from stateline.local import procs
from stateline.local.restart_policy import Decision, GiveUp, RestartPolicy, RestartState
from stateline.local.specs import ProcessSpec


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

    def as_status(self) -> dict[str, object]:
        # Between an exit and the monitor's next tick, do not claim "up".
        state = "backoff" if self.exited_unexpectedly() else self.state
        return {"role": self.spec.role, "id": self.id, "pid": self.pid,
                "address": self.spec.address, "state": state,
                "restarts": self.restart.restarts, "log": str(self.spec.log_path),
                **({"reason": self.reason} if self.reason else {})}
