"""SL120: a signing or encryption key made at random by each process.

`app.secret_key = os.urandom(24)`, `SECRET_KEY = secrets.token_hex()` at import,
`fernet = Fernet(Fernet.generate_key())`, `SessionMiddleware(secret_key=
secrets.token_urlsafe())`: every worker and replica draws its own key, so a
session cookie, CSRF token or encrypted value made by one is rejected by the next
(and all of them by the same worker after a restart). This is configuration, not a
request write, so it is reported where the key is made.

Kept conservative:
- only a key made unconditionally: a fallback (`os.environ.get("KEY", token_hex())`,
  `getenv("KEY") or urandom(16)`, `if not KEY: ...`, `except ImportError:`) is a
  development default that a deployment overrides;
- at module level or in a class body (settings), or, inside a function (an app
  factory), only written onto the app or its config; a random value in a local or
  per request is a nonce, not a key;
- never in test modules, development settings (`settings/local.py`, `settings/test.py`)
  or scratch folders (`dev/`, `examples/`, `sandbox/`), and not
  as a field of a pydantic-settings class (`SECRET_KEY: str = token_hex()` there is a
  default the environment overrides).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from stateline.lint.entries import is_test_module
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.resolve import Project

_SECRET = re.compile(r"secret|signing_?key|encryption_?key|fernet|hmac_?key|jwt_?key"
                     r"|cookie_?key|csrf_?key", re.IGNORECASE)
RANDOM = frozenset({
    "os.urandom", "secrets.token_hex", "secrets.token_bytes", "secrets.token_urlsafe",
    "uuid.uuid4", "uuid.uuid1", "random.getrandbits", "nacl.utils.random",
    "Crypto.Random.get_random_bytes", "cryptography.fernet.Fernet.generate_key",
    "django.core.management.utils.get_random_secret_key", "werkzeug.security.gen_salt",
})
_SIGNERS = re.compile(r"(?:^|\.)(?:Fernet|MultiFernet|URLSafeTimedSerializer|URLSafeSerializer"
                      r"|TimedSerializer|Serializer|TimestampSigner|Signer|TimedJSONWebSignature"
                      r"Serializer|AESGCM|ChaCha20Poly1305)$")
# a random value inside these is a default that the environment overrides
_FALLBACK_CALLS = frozenset({"get", "getenv", "setdefault", "env", "config", "Field"})
# folders of code that is not the deployed service (besides tests)
_SCRATCH = frozenset({"dev", "examples", "example", "sandbox", "scratch", "playground",
                      "experiments", "demo", "demos", "docs", "notebooks", "prototypes"})
# settings modules for development and tests (`settings/local.py`, `settings/test.py`)
_DEV_STEMS = frozenset({"test", "testing", "dev", "develop", "development", "local", "debug",
                        "ci", "example", "sample"})
_APP_NAMES = ("app", "application", "current_app", "config", "settings")


def _dotted(project: Project, mod: ModuleInfo, node: ast.expr) -> str:
    s = project.module_expr(mod, node)
    return s.name if s is not None and s.kind == "ext" else ""


def random_value(project: Project, mod: ModuleInfo, value: ast.expr) -> str:
    """The random call `value` is made from (`os.urandom`), or "" — also "" when the
    random value is only a fallback (`getenv("K") or urandom(16)`)."""
    if isinstance(value, ast.BoolOp | ast.IfExp):
        return ""
    found = ""
    for n in ast.walk(value):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(
            f, ast.Name) else ""
        if name in _FALLBACK_CALLS:
            return ""
        d = _dotted(project, mod, f)
        if d in RANDOM or d.endswith("Fernet.generate_key"):
            found = d
    return found


def _key_name(target: ast.expr) -> str:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) and \
            isinstance(target.slice.value, str):
        return target.slice.value
    return ""


def _on_app(target: ast.expr) -> bool:
    """`app.secret_key`, `app.config["SECRET_KEY"]`, `self.app.config[...]`."""
    node = target.value if isinstance(target, ast.Attribute | ast.Subscript) else None
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute) and node.attr in _APP_NAMES:
            return True
        node = node.value
    return isinstance(node, ast.Name) and (node.id in _APP_NAMES or node.id.endswith("_app"))


def _signer_arg(project: Project, mod: ModuleInfo, call: ast.Call) -> str:
    """`Fernet(Fernet.generate_key())`, `Serializer(os.urandom(16))`,
    `SessionMiddleware(secret_key=token_urlsafe())`: the random call, or ""."""
    callee = _dotted(project, mod, call.func) or ast.unparse(call.func)
    if _SIGNERS.search(callee) and call.args:
        got = random_value(project, mod, call.args[0])
        if got:
            return got
    for k in call.keywords:
        if k.arg and _SECRET.search(k.arg):
            got = random_value(project, mod, k.value)
            if got:
                return got
    return ""


def not_deployed(mod: ModuleInfo) -> bool:
    """Test code, or code kept in a scratch folder (`dev/`, `examples/`, `sandbox/`)."""
    # the path as shown (relative to where lint runs); folders above it (`..`) and
    # before them are the user's, not the project's
    folders = mod.src.display.replace("\\", "/").split("/")[:-1]
    if ".." in folders:
        folders = folders[len(folders) - folders[::-1].index(".."):]
    return is_test_module(mod) or mod.src.path.stem in _DEV_STEMS or any(
        p in _SCRATCH for p in folders)


def _env_settings(cls: ast.ClassDef) -> bool:
    """A pydantic-settings/environ class: its field values are defaults the
    environment overrides."""
    return any(ast.unparse(b).endswith("Settings") for b in cls.bases)


def _app_setting(call: ast.Call) -> bool:
    """`app.add_middleware(..., secret_key=...)`, `app.config.update(SECRET_KEY=...)`,
    `app.config.from_mapping(...)`: a key handed to the app in its factory."""
    f = call.func
    if "iddleware" in ast.unparse(f):
        return True
    return isinstance(f, ast.Attribute) and f.attr in ("update", "from_mapping") and \
        isinstance(f.value, ast.Attribute) and f.value.attr == "config"


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for s in body:
        yield s
        if isinstance(s, ast.ClassDef) and not _env_settings(s):
            yield from s.body


def random_keys(project: Project) -> Iterator[tuple[ModuleInfo, ast.AST, str, str]]:
    """(module, node, what the key is, the random call) for each per-process key."""
    for mod in project.modules:
        tree = mod.src.tree
        text = mod.src.text
        if tree is None or not any(t in text for t in ("urandom", "token_", "uuid",
                                                           "generate_key", "random")):
            continue
        if not_deployed(mod):
            continue
        for s in _top_level(tree.body):
            yield from _statement(project, mod, s, in_function=False)
        for fn in mod.all_funcs:
            yield from _function(project, mod, fn)


def _statement(project: Project, mod: ModuleInfo, s: ast.stmt, in_function: bool
               ) -> Iterator[tuple[ModuleInfo, ast.AST, str, str]]:
    if isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        for t in targets:
            key = _key_name(t)
            if not key or (in_function and not _on_app(t)):
                continue
            if _SECRET.search(key):
                got = random_value(project, mod, s.value)
                if got:
                    yield mod, s, ast.unparse(t), got
                    break
    if isinstance(s, ast.Assign | ast.AnnAssign | ast.Expr) and isinstance(
            s.value, ast.Call):
        call = s.value
        # any signer made at import; in a factory only a middleware's key
        # (`app.add_middleware(SessionMiddleware, secret_key=...)`): a record made with a
        # fresh secret (`Webhook(secret=token_hex())`) is stored, not per process
        got = _signer_arg(project, mod, call)
        if got and (not in_function or _app_setting(call)):
            yield mod, call, ast.unparse(call.func), got


def _function(project: Project, mod: ModuleInfo, fn: FuncInfo
              ) -> Iterator[tuple[ModuleInfo, ast.AST, str, str]]:
    node = fn.node
    body = node.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
    for s in body:  # the factory's own top-level statements, not its branches
        if isinstance(s, ast.Assign | ast.AnnAssign | ast.Expr):
            yield from _statement(project, mod, s, in_function=True)
