"""`stateline verify`: replay one script three ways and find the first answer that changes.

The static checker (`stateline lint`) reads code; this module watches it run.
A stateless service answers a script the same way whether every request goes
to one replica, the requests go round robin across replicas, or the replica
that just answered is restarted before the next request. Accidental state shows
up as the first request whose answer depends on *which* process served it:

- (a) ``single``: everything to replica 1. This is the reference.
- (b) ``round_robin``: request k to replica k mod N, as a round-robin gateway does.
- (c) ``restart``: round robin, and the replica that answered is restarted before
  the next request (only when the verifier started the replicas itself).

Each replay gets its own ``{run}`` token, cookie jar and captures, so that it
creates its own rows instead of colliding with the previous replay's.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from stateline.verify.compare import (
    Mismatch,
    Normaliser,
    Observed,
    compare,
    with_returned_values,
)
from stateline.verify.http import Exchange, apply_set_cookie, exchange, new_client
from stateline.verify.script import (
    NOT_JSON,
    RUN_VARIABLE,
    Script,
    Step,
    capture_value,
    render,
)
from stateline.verify.spawn import Replica, SpawnError

MODES = ("single", "round_robin", "restart")
MODE_TITLES = {
    "single": "(a) every request to one replica",
    "round_robin": "(b) round robin across replicas",
    "restart": "(c) round robin, restarting the replica that answered",
}


@dataclass(frozen=True)
class Options:
    volatile: tuple[str, ...] = ()
    relative: tuple[str, ...] = ()
    timeout_s: float = 10.0
    modes: tuple[str, ...] = MODES


@dataclass(frozen=True)
class StepResult:
    step: Step
    exchange: Exchange
    observed: Observed


@dataclass(frozen=True)
class Difference:
    """The first request of a replay whose answer is not the reference's."""

    mode: str
    step: Step
    summary: str
    reference: StepResult
    other: StepResult
    mismatch: Mismatch | None = None


@dataclass
class ModeReport:
    name: str
    status: str  # "reference" | "same" | "different" | "skipped" | "failed"
    requests: int = 0
    reason: str | None = None
    difference: Difference | None = None

    @property
    def title(self) -> str:
        return MODE_TITLES[self.name]


@dataclass
class Report:
    replicas: list[str]
    modes: list[ModeReport] = field(default_factory=list)

    @property
    def first_difference(self) -> Difference | None:
        return next((m.difference for m in self.modes if m.difference), None)

    @property
    def exit_code(self) -> int:
        """1: a difference was found; 2: the verification could not be done; 0: none."""
        if self.first_difference is not None:
            return 1
        if any(m.status == "failed" for m in self.modes):
            return 2
        return 0


class _ReplayFailed(Exception):
    """The reference replay broke (no answer, wrong status, missing capture)."""


@dataclass(frozen=True)
class _Context:
    """What every replay of one verification shares."""

    script: Script
    replicas: Sequence[Replica]
    client: httpx.Client
    volatile: tuple[str, ...]
    relative: tuple[str, ...]


def verify(script: Script, replicas: Sequence[Replica], options: Options = Options()) -> Report:
    """Replay ``script`` in each requested mode, with mode (a) as the reference."""
    if len(replicas) < 2:
        raise ValueError("verify needs at least two replicas")
    report = Report(replicas=[r.label for r in replicas])
    with new_client(options.timeout_s) as client:
        ctx = _Context(script, replicas, client, script.volatile + options.volatile,
                       script.relative + options.relative)
        try:
            reference, _ = _replay(ctx, "single", None)
        except _ReplayFailed as exc:
            report.modes.append(ModeReport("single", "failed", reason=str(exc)))
            return report
        report.modes.append(ModeReport("single", "reference", requests=len(reference)))
        for mode in MODES[1:]:
            if mode not in options.modes:
                report.modes.append(ModeReport(mode, "skipped", reason="not requested (--modes)"))
            elif mode == "restart" and not all(r.can_restart for r in replicas):
                report.modes.append(ModeReport(
                    mode, "skipped",
                    reason="replicas were given as URLs; restarting one needs --spawn"))
            else:
                report.modes.append(_run_mode(ctx, mode, reference))
    return report


def _run_mode(ctx: _Context, mode: str, reference: list[StepResult]) -> ModeReport:
    try:
        results, difference = _replay(ctx, mode, reference)
    except SpawnError as exc:
        return ModeReport(mode, "failed", reason=str(exc))
    if difference is not None:
        return ModeReport(mode, "different", requests=len(results), difference=difference)
    return ModeReport(mode, "same", requests=len(results))


@dataclass(frozen=True)
class _Problem:
    summary: str
    mismatch: Mismatch | None = None


def _replay(
    ctx: _Context, mode: str, reference: list[StepResult] | None
) -> tuple[list[StepResult], Difference | None]:
    """Run the script once, stopping at the first difference from ``reference``.

    Without a reference (mode (a)), any problem — no answer, an unexpected
    status, a capture that finds nothing — means there is nothing to compare
    against, and raises _ReplayFailed.
    """
    run_token = f"r{secrets.token_hex(5)}"
    normaliser = Normaliser(volatile=ctx.volatile, relative=ctx.relative, run_token=run_token)
    variables: dict[str, object] = {RUN_VARIABLE: run_token}
    jar: dict[str, str] = {}
    results: list[StepResult] = []
    steps = ctx.script.steps
    for i, step in enumerate(steps):
        replica = ctx.replicas[0] if mode == "single" else ctx.replicas[i % len(ctx.replicas)]
        ex = exchange(ctx.client, replica.url, replica.label, render(step, variables), jar)
        jar = apply_set_cookie(jar, ex.headers.get_list("set-cookie"))
        body = ex.json
        observed = Observed(
            status=ex.status,
            error=ex.error,
            body=normaliser.json(body) if body is not NOT_JSON else NOT_JSON,
            raw=normaliser.raw(ex.content),
        )
        result = StepResult(step, ex, observed)
        results.append(result)
        ref = reference[i] if reference is not None else None
        problem = _check(step, result, ref) or _capture(step, ex, body, jar, variables)
        if problem is not None:
            if ref is None:
                raise _ReplayFailed(f"{step.title} on {replica.label}: {problem.summary}")
            return results, _difference(mode, problem, ref, result)
        if mode == "restart" and i + 1 < len(steps):
            replica.restart()
    return results, None


def _difference(mode: str, problem: _Problem, ref: StepResult, other: StepResult) -> Difference:
    mismatch, summary = problem.mismatch, problem.summary
    if mismatch is not None and mismatch.fields:
        fields = with_returned_values(mismatch.fields, ref.exchange.json, other.exchange.json)
        mismatch = dataclasses.replace(mismatch, fields=fields)
        summary = mismatch.summary()
    return Difference(mode, other.step, summary, ref, other, mismatch)


def _check(step: Step, result: StepResult, reference: StepResult | None) -> _Problem | None:
    ex = result.exchange
    if reference is not None:
        mismatch = compare(reference.observed, result.observed)
        if mismatch is not None:
            return _Problem(mismatch.summary(), mismatch)
    if ex.status is None:
        return _Problem(f"no response ({ex.error})")
    if step.expect_status is not None and ex.status != step.expect_status:
        return _Problem(f"expected status {step.expect_status}, got {ex.status}")
    return None


def _capture(
    step: Step, ex: Exchange, body: object, jar: dict[str, str], variables: dict[str, object]
) -> _Problem | None:
    for name, source in step.captures.items():
        try:
            variables[name] = capture_value(source, body, ex.headers, jar)
        except KeyError:
            return _Problem(f"capture {name!r}: the response has no {source}")
    return None
