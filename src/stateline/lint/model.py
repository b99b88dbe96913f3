"""Value types shared by the analyser passes: state cells, writes and findings.

A *cell* is a place in a process that outlives a request: a module global, a
class attribute, a function default, a closure variable, a framework object or a
long-lived instance. A *write* is a site that changes a cell. A *finding* is a
write reached from request handling, with the chain of calls that reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    """A state cell. `kind`: global | classattr | default | closure | app | instance.

    `vkind` is what the cell holds (list, dict, count, lock, instance:mod:Cls, ...),
    as far as the defining expression tells.
    """

    kind: str
    module: str
    name: str
    vkind: str = "unknown"
    lazy: bool = False

    @property
    def label(self) -> str:
        return f"{self.module}.{self.name}" if self.module else self.name


@dataclass(frozen=True)
class Param:
    """A reference to a parameter of the function being summarised."""

    name: str


Ref = Cell | Param


@dataclass(frozen=True)
class Write:
    """One write site. `op` names the shape (rebind, setitem, setattr, method, next,
    seed, read, ...); `detail` holds extra facts the rule classifier needs."""

    target: Ref
    op: str
    path: str
    module: str
    line: int
    col: int
    text: str
    func: str
    via: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()
    element: bool = False


@dataclass
class Finding:
    rule: str
    severity: str
    path: str
    line: int
    col: int
    message: str
    cell: str
    chain: list[str] = field(default_factory=list)
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "cell": self.cell,
            "chain": list(self.chain),
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not a finding: a file left out of the
    analysis because it needs a newer Python to parse. Notes never change the exit status."""

    path: str
    message: str
    needs: str = ""  # "3.14": the interpreter that parses the file

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "needs": self.needs}
