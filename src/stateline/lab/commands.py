"""Commands of `stateline.lab`: ``bench``, ``experiment``, ``report``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

RESULTS = Path("results")


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the `stateline` command."""
    app.command("bench")(bench)
    app.command("experiment")(experiment)
    app.command("report")(report)


def bench(
    url: Annotated[str, typer.Argument(help="http://host:port or http://host:port/path. "
                                       "No path: the default stateline mix; a path: GET "
                                       "that path.")],
    rate: Annotated[float | None, typer.Option(
        "--rate", "-r", help="Open loop: requests per second.")] = None,
    connections: Annotated[int | None, typer.Option(
        "--connections", "-c", help="Closed loop: this many connections "
        "(open loop: the most it may use, default 64).")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds of load.")] = 10.0,
    mix: Annotated[Path | None, typer.Option(
        "--mix", "-m", help="YAML/JSON workload mix file.", exists=True, dir_okay=False)] = None,
    poisson: Annotated[bool, typer.Option(
        "--poisson", help="Poisson arrivals instead of constant spacing (open loop).")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Seconds before a request counts as a timeout.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    idempotency_keys: Annotated[bool, typer.Option(
        "--idempotency-keys", help="Send every write (POST/PUT/PATCH/DELETE) with a fresh "
        "Idempotency-Key, and count replays and duplicates of repeated ones.")] = False,
    repeat: Annotated[float, typer.Option(
        "--repeat", help="With --idempotency-keys: share of answered keyed writes sent again "
        "with the same key (a retrying client); one not replayed is a duplicate.")] = 0.1,
    progress_file: Annotated[Path | None, typer.Option(
        "--progress-file", hidden=True,
        help="Also write load ticks and the result's figures as JSON lines here "
        "(the dashboard charts them).")] = None,
) -> None:
    """Load a URL (a running stateline or any HTTP/1.1 server) and print its latency."""
    from stateline.lab.bench import run_bench
    from stateline.lab.loadgen import LoadConfig
    from stateline.lab.mix import MixError, load_mix

    try:
        config = LoadConfig(url, rate=rate, connections=connections, duration=duration,
                            mix=load_mix(mix) if mix else None,
                            spacing="poisson" if poisson else "constant", timeout=timeout,
                            idempotency_keys=idempotency_keys,
                            repeat=repeat if idempotency_keys else 0.0)
        config.resolved_mix()
    except (ValueError, MixError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    if problem := unreachable(config.host, config.port, timeout):
        typer.echo(f"stateline bench: cannot connect to {config.host}:{config.port}: {problem}; "
                   "is it running (`stateline up`)?", err=True)
        raise typer.Exit(1)
    from stateline.lab.progress import TickFile, listening

    ticks = TickFile(progress_file) if progress_file is not None else None
    with listening(ticks.tick) if ticks else contextlib.nullcontext():
        result = run_bench(config, as_json)
    if ticks is not None:
        lat = result["latency"]
        ticks.write({"kind": "done", "text": (
            f"{result['requests']:,} requests, {result['failed']:,} failed, "
            f"{result['throughput_rps']:,.0f} req/s, p50 {lat['p50_ms']:.2f} ms, "
            f"p99 {lat['p99_ms']:.2f} ms"),
            "headline": {"requests": result["requests"], "failed": result["failed"],
                         "throughput_rps": result["throughput_rps"],
                         "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"]}})
    if result["ok"] == 0:
        typer.echo(f"stateline bench: not one of {result['requests']:,} requests succeeded "
                   f"(errors: {result['errors'] or 'none recorded'})", err=True)
        raise typer.Exit(1)


def unreachable(host: str, port: int, timeout: float) -> str | None:
    """Why nothing accepts a TCP connection on ``host:port`` now, or None if something does.

    Asked once before the load, so that a dead address is one clear error
    rather than ten seconds of "connect" errors reported as throughput.
    """
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def experiment(
    name: Annotated[str, typer.Argument(help="failover | scaling | stateful-failover | "
                                        "routing | accidental-state | resharding | "
                                        "stateful-shard | exactly-once | all")],
    quick: Annotated[bool, typer.Option(
        "--quick", help="A short run (about two minutes each).")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = RESULTS,
    max_instances: Annotated[int | None, typer.Option(
        "--max-instances", help="scaling: the largest pool to measure.")] = None,
    progress_file: Annotated[Path | None, typer.Option(
        "--progress-file", hidden=True,
        help="Also write steps, load ticks and the headline as JSON lines here "
        "(the dashboard charts them).")] = None,
) -> None:
    """Run an experiment; write OUT/NAME/data.json, report.md and plots."""
    from stateline.lab.experiments import EXPERIMENTS

    if name != "all" and name not in EXPERIMENTS:
        raise typer.BadParameter(f"unknown experiment {name!r}; known: "
                                 + ", ".join(EXPERIMENTS))
    from stateline.lab.progress import TickFile
    from stateline.lab.signals import terminate_as_interrupt

    names = list(EXPERIMENTS) if name == "all" else [name]

    ticks = TickFile(progress_file) if progress_file is not None else None
    with terminate_as_interrupt():
        _run_experiments(names, out, quick, max_instances, ticks)


def _run_experiments(names: list[str], out: Path, quick: bool, max_instances: int | None,
                     ticks: Any) -> None:
    """Run ``names`` in turn, each with its console progress and headline."""
    from stateline.lab.console import headline_text, progress
    from stateline.lab.experiments import Context, run_experiment
    from stateline.lab.experiments.base import read_result
    from stateline.lab.netns import HostsUnavailable
    from stateline.lab.progress import listening

    for n in names:
        try:
            with progress(n) as shown, (listening(ticks.tick) if ticks
                                        else contextlib.nullcontext()):
                def log(msg: str, shown: Callable[[str], None] = shown) -> None:
                    shown(msg)
                    if ticks is not None:
                        ticks.step(msg)

                folder = run_experiment(n, Context(out, quick, max_instances, log))
        except HostsUnavailable as exc:  # the across-hosts experiments need root
            typer.echo(f"stateline experiment {n}: {exc}", err=True)
            if ticks is not None:
                ticks.write({"kind": "failed", "experiment": n, "error": str(exc)})
            if len(names) == 1:
                raise typer.Exit(2) from None
            continue
        except Exception as exc:
            if ticks is not None:
                ticks.write({"kind": "failed", "experiment": n, "error": repr(exc)})
            raise
        data = read_result(out, n)
        text = headline_text(n, data) if data else ""
        if text:
            typer.echo(text)
        typer.echo(f"{n}: {folder / 'report.md'}")
        if ticks is not None:
            ticks.write({"kind": "done", "experiment": n, "text": text,
                         "headline": (data or {}).get("headline") or {},
                         "report": str(folder / "report.md")})


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = RESULTS,
    run: Annotated[bool, typer.Option(
        "--run/--no-run", help="Run every experiment first (default: read OUT).")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="With --run: quick runs.")] = False,
) -> None:
    """Write OUT/report.md and OUT/report.html: the seed's table with measured figures."""
    from stateline.lab.experiments import EXPERIMENTS, Context, run_experiment
    from stateline.lab.report import write_report

    if run:
        from stateline.lab.signals import terminate_as_interrupt

        with terminate_as_interrupt():
            for n in EXPERIMENTS:
                try:
                    run_experiment(n, Context(out, quick))
                except Exception as exc:  # one broken experiment must not hide the others
                    typer.echo(f"{n}: failed: {exc}", err=True)
    if problem := _report_dir_problem(out):
        typer.echo(f"stateline report: {problem}", err=True)
        raise typer.Exit(1)
    md, html = write_report(out)
    typer.echo(f"{md}\n{html}")


def _report_dir_problem(out: Path) -> str | None:
    """Why there is nothing to report from ``out`` (it is missing, or holds no results)."""
    from stateline.lab.experiments import EXPERIMENTS

    if not out.is_dir():
        return (f"{out} is not a directory; run `stateline experiment NAME --out {out}` "
                "first, or give --out the folder that holds the results")
    if not any((out / name / "data.json").is_file() for name in EXPERIMENTS):
        return (f"{out} holds no experiment results (no NAME/data.json); run "
                f"`stateline experiment NAME --out {out}` first")
    return None
