"""Run a command as another local user (``nobody``): for the tests of what one can reach.

The blob-server, data-dir and gateway checks all ask the same question -- what
can a second account on the machine do to a running stateline? -- so they
switch user the same way, here: ``setpriv`` to ``nobody:nogroup`` with no
supplementary groups, from ``/``, with nothing of our environment but PATH.
Switching user needs root; locally the checks are skipped with the reason,
under CI (``CI=true``, run as root) a reason is an error, not a skip.

Importable from any test module as ``otheruser`` (``tests/`` is on sys.path,
like any uniquely named module there).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

#: The prefix that runs the rest of an argv as ``nobody`` (for ``Popen`` of a long-lived one).
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def why_not() -> str | None:
    """Why commands cannot be run as ``nobody`` here, or None if they can."""
    if os.geteuid() != 0:
        return "needs root to become `nobody` (setpriv)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    import grp
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return "there is no user `nobody`"
    try:
        grp.getgrnam("nogroup")
    except KeyError:
        return "there is no group `nogroup`"
    return None


def required() -> pytest.MarkDecorator:
    """A module's ``pytestmark``: skipped with the reason here, an import error under CI."""
    reason = why_not()
    if reason and os.environ.get("CI") == "true":
        raise RuntimeError(f"CI must run the other-user checks, but: {reason}")
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def as_nobody(*argv: str, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to its end as ``nobody`` (output captured as text); ``timeout``: a hang guard.

    ``env`` replaces the environment (default: only PATH), so no secret of
    ours reaches the other user by accident.
    """
    return subprocess.run([*AS_NOBODY, *argv], capture_output=True, text=True, cwd="/",
                          env=env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                          timeout=timeout)
