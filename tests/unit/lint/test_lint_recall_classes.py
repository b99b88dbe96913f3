"""Minimal examples of the recall classes missed on real services in round 2.

Each test is a small tree written here (never code from those services), with a
positive case and a near miss beside it. Lines that must be reported end with
`# !SLxxx`; every other line must stay silent.
"""

from __future__ import annotations

from pathlib import Path

from lint_marks import check

# 1. a temp file's path handed to a task queue ----------------------------------------

_TASKS = """
    from celery import Celery

    celery = Celery("t", broker="redis://queue")

    @celery.task
    def transcode(path):
        with open(path, "rb") as f:
            return len(f.read())
    """


def test_temp_file_path_handed_to_a_queue_worker(tmp_path: Path) -> None:
    messages = check(tmp_path, {
        "tasks.py": _TASKS,
        "flaskweb.py": """
            import tempfile
            import flask
            from tasks import transcode

            bp = flask.Blueprint("b", __name__)

            @bp.route("/up", methods=["POST"])
            def up():
                path = tempfile.mktemp()
                flask.request.files["f"].save(path)  # !SL111
                transcode.delay(path)
                return "ok"

            @bp.route("/local", methods=["POST"])
            def local():
                path = tempfile.mktemp()
                flask.request.files["f"].save(path)
                return str(transcode(path))
            """,
        "web.py": """
            import os
            import shutil
            import tempfile
            from dataclasses import dataclass

            from fastapi import FastAPI, UploadFile
            from rq import Queue

            from tasks import transcode

            app = FastAPI()
            queue = Queue()

            @dataclass
            class Job:
                file_path: str
                name: str

            async def schedule(job: Job) -> None:
                queue.enqueue("worker.run", job.file_path, job.name)

            @app.post("/a")
            async def upload_a(file: UploadFile):
                with tempfile.NamedTemporaryFile(delete=False, suffix=".mp3") as tmp:
                    path = tmp.name
                    tmp.write(await file.read())  # !SL111
                transcode.delay(path)
                return {"ok": True}

            @app.post("/b")
            async def upload_b(file: UploadFile):
                folder = tempfile.mkdtemp()
                target = os.path.join(folder, "in.bin")
                with open(target, "wb") as out:
                    out.write(await file.read())  # !SL111
                await schedule(Job(file_path=target, name=file.filename))
                return {"ok": True}

            @app.post("/f")
            async def upload_f(file: UploadFile):
                with tempfile.NamedTemporaryFile(delete=False) as tmp:
                    tmp.write(await file.read())  # !SL111
                transcode.apply_async(args=[tmp.name])
                return {"ok": True}

            @app.post("/g")
            async def upload_g(file: UploadFile):
                dest = f"/tmp/{file.filename}"
                with open(dest, "wb") as out:
                    shutil.copyfileobj(file.file, out)  # !SL111
                queue.enqueue("worker.run", dest)
                return {"ok": True}
            """,
    })
    assert all("task queue" in m for m in messages)


def test_temp_file_used_in_process_is_silent(tmp_path: Path) -> None:
    # near misses: FastAPI BackgroundTasks run in this process; a temp file read back
    # by the same handler; a project folder (may be a volume the workers share)
    check(tmp_path, {
        "tasks.py": _TASKS,
        "web.py": """
            import os
            import tempfile

            from fastapi import BackgroundTasks, FastAPI, UploadFile

            from tasks import transcode

            app = FastAPI()
            UPLOADS = "/srv/uploads"

            @app.post("/c")
            async def upload_c(file: UploadFile, background: BackgroundTasks):
                with tempfile.NamedTemporaryFile(delete=False) as tmp:
                    path = tmp.name
                    tmp.write(await file.read())
                background.add_task(transcode, path)
                return {"ok": True}

            @app.post("/d")
            async def upload_d(file: UploadFile):
                with tempfile.NamedTemporaryFile(delete=False) as tmp:
                    tmp.write(await file.read())
                    path = tmp.name
                size = transcode(path)
                os.unlink(path)
                return {"size": size}

            @app.post("/e")
            async def upload_e(file: UploadFile):
                path = os.path.join(UPLOADS, file.filename)
                with open(path, "wb") as out:
                    out.write(await file.read())
                transcode.delay(path)
                return {"ok": True}
            """,
    })


# 2. a container hung on the Flask app, written per request ---------------------------

def test_container_on_the_app_written_per_request(tmp_path: Path) -> None:
    check(tmp_path, {
        "web.py": """
            import flask
            from flask import current_app

            app = flask.Flask(__name__)

            def configure():
                app.token_map = {}
                app.seen = set()
                app.labels = {"a": "A"}

            @app.route("/login")
            def login():
                key = flask.request.args["k"]
                app.token_map[key] = "token"  # !SL116
                return "ok"

            @app.route("/seen")
            def seen():
                current_app.seen.add(flask.request.args["k"])  # !SL116
                return "ok"

            @app.route("/read")
            def read():
                # near misses: a table only read, a framework attribute never given a
                # container by the project
                app.url_map.strict_slashes = False
                return app.labels.get("a", "")
            """,
    })


# 3. "only once" flags on a long-lived instance ----------------------------------------

def test_only_once_flag_on_a_cached_singleton(tmp_path: Path) -> None:
    check(tmp_path, {
        "router.py": """
            import functools
            import logging

            from notify import send_alert

            log = logging.getLogger(__name__)

            class Router:
                def __init__(self):
                    self._alert_sent = False
                    self._warned = False
                    self._client = None

                def client(self):
                    if not self._client:
                        self._client = object()
                    return self._client

                def record(self, spend: float) -> None:
                    if spend > 100 and not self._alert_sent:
                        send_alert(spend)
                        self._alert_sent = True  # !SL117
                    if spend > 50 and not self._warned:
                        log.warning("spend %s", spend)
                        self._warned = True

            @functools.lru_cache(maxsize=1)
            def get_router() -> Router:
                return Router()
            """,
        "notify.py": """
            import httpx

            def send_alert(spend):
                httpx.post("https://hooks.example/alert", json={"spend": spend})
            """,
        "web.py": """
            from fastapi import FastAPI

            from router import get_router

            app = FastAPI()

            @app.post("/spend")
            def spend(amount: float):
                router = get_router()
                router.client()
                router.record(amount)
                return {"ok": True}
            """,
        "budget.py": """
            import httpx
            from fastapi import FastAPI

            from notify import send_alert

            api = FastAPI()
            _budget_alerted = False
            _http = None

            @api.post("/use")
            def use(n: int):
                global _budget_alerted, _http
                if _http is None:
                    _http = httpx.Client()
                if n > 10 and not _budget_alerted:
                    send_alert(n)
                    _budget_alerted = True  # !SL101
                return {}
            """,
    })


# 4. a library's in-memory store used from requests -------------------------------------

def test_library_memory_store_reached_from_a_request(tmp_path: Path) -> None:
    messages = check(tmp_path, {
        "auth.py": """
            from authlib_x import OAuthClient
            from authlib_x.stores import InMemoryTokenStore, MemoryStateStore, RedisStateStore

            _states = MemoryStateStore()  # !SL121
            _shared = RedisStateStore("redis://cache")
            client = OAuthClient(state_store=_states, other_store=_shared)
            tokens = InMemoryTokenStore()  # !SL121
            unused = InMemoryTokenStore()
            """,
        "main.py": """
            from fastapi import FastAPI
            from sessions_x import InMemoryStore, SessionMiddleware

            api = FastAPI()
            api.add_middleware(SessionMiddleware, store=InMemoryStore())  # !SL121
            """,
        "web.py": """
            from fastapi import FastAPI

            from auth import client, tokens

            app = FastAPI()

            @app.get("/login")
            async def login(handle: str):
                url = await client.start_authorization(handle)
                return {"url": url}

            @app.post("/token")
            def token(user: str, value: str):
                tokens.save_token(user, value)
                return {"ok": True}
            """,
    })
    assert any("MemoryStateStore" in m for m in messages)


def test_memory_store_only_read_or_only_at_start_up_is_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "docs.py": """
            from vectors import InMemoryVectorStore

            STORE = InMemoryVectorStore()
            STORE.add_texts(["static", "documents"])
            """,
        "web.py": """
            from fastapi import FastAPI

            from docs import STORE

            app = FastAPI()

            @app.get("/search")
            def search(q: str):
                return STORE.similarity_search(q)
            """,
    })


# 5. a signing key drawn at random by each process --------------------------------------

def test_random_key_per_process(tmp_path: Path) -> None:
    messages = check(tmp_path, {
        "web.py": """
            import os
            import secrets

            from cryptography.fernet import Fernet
            from flask import Flask, session
            from itsdangerous import URLSafeTimedSerializer

            app = Flask(__name__)
            fernet = Fernet(Fernet.generate_key())  # !SL120
            signer = URLSafeTimedSerializer(secrets.token_bytes(16))  # !SL120

            class Config:
                SECRET_KEY = secrets.token_hex(32)  # !SL120

            def create_app():
                app.secret_key = os.urandom(24)  # !SL120
                app.config["JWT_SECRET_KEY"] = secrets.token_urlsafe()  # !SL120
                app.config.update(CSRF_SECRET=os.urandom(16).hex())  # !SL120
                return app

            @app.route("/")
            def index():
                session["seen"] = True
                return "ok"
            """,
    })
    assert all("own key" in m for m in messages)


def test_random_fallbacks_and_nonces_are_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "settings.py": """
            import os
            import secrets

            SECRET_KEY = os.environ.get("SECRET_KEY", secrets.token_hex(16))
            OTHER_KEY = os.getenv("OTHER_KEY") or os.urandom(16)
            try:
                from local_settings import SIGNING_KEY
            except ImportError:
                SIGNING_KEY = secrets.token_hex()
            """,
        "web.py": """
            import os
            import secrets

            from flask import Flask, session

            from models import Webhook

            app = Flask(__name__)

            def create_app():
                app.secret_key = os.environ["SECRET_KEY"]
                return app

            @app.route("/hook")
            def hook():
                session["csrf_secret"] = secrets.token_hex()
                Webhook.create(url="https://x", secret=secrets.token_hex(32))
                return "ok"
            """,
        "models.py": """
            class Webhook:
                @classmethod
                def create(cls, **kw):
                    return cls()
            """,
        "tests/test_web.py": """
            import secrets
            SECRET_KEY = secrets.token_hex()
            """,
        "settings/local.py": """
            from django.core.management.utils import get_random_secret_key
            SECRET_KEY = get_random_secret_key()
            """,
        "dev/prototype.py": """
            import os
            from flask import Flask
            server = Flask(__name__)
            server.secret_key = os.urandom(24)
            """,
        "config.py": """
            import secrets
            from pydantic import Field
            from pydantic_settings import BaseSettings

            class Settings(BaseSettings):
                SECRET_KEY: str = Field(default=secrets.token_urlsafe(64))
                SIGNING_KEY: str = secrets.token_hex()
            """,
    })
