"""Minimal examples of every miss and false-positive class that real services showed.

Each case is a small tree written here (never code from those services). Lines
that must be reported end with `# !SLxxx`; every other line must stay silent, so
each test pins both the recall fix and the absence of new noise.
"""

from __future__ import annotations

from pathlib import Path

from lint_marks import check

from stateline.lint import lint

# misses -----------------------------------------------------------------------------

def test_imports_inside_a_function_body_are_followed(tmp_path: Path) -> None:
    check(tmp_path, {
        "jobs.py": """
            QUEUE = []

            def enqueue(job):
                QUEUE.append(job)  # !SL102
            """,
        "app.py": """
            from fastapi import FastAPI
            app = FastAPI()

            @app.post("/jobs")
            def submit(job: str):
                from jobs import enqueue
                enqueue(job)
                return {"ok": True}
            """,
    })


def test_namespace_package_under_src_resolves(tmp_path: Path) -> None:
    check(tmp_path, {
        "src/shop/store.py": "CARTS = {}\n",
        "src/shop/api/routes.py": """
            from flask import Flask
            from shop.store import CARTS
            app = Flask(__name__)

            @app.post("/cart/<user>")
            def add(user):
                CARTS[user] = 1  # !SL104
                return "ok"
            """,
    })


def test_sibling_module_import_inside_a_package_folder(tmp_path: Path) -> None:
    check(tmp_path, {
        "svc/__init__.py": "",
        "svc/store.py": "SEEN = set()\n",
        "svc/views.py": """
            from flask import Blueprint
            from store import SEEN
            bp = Blueprint("v", __name__)

            @bp.get("/seen/<k>")
            def seen(k):
                SEEN.add(k)  # !SL104
                return "ok"
            """,
    })


def test_roots_named_in_pyproject_and_the_entry_folder(tmp_path: Path) -> None:
    check(tmp_path, {
        "pyproject.toml": '[tool.setuptools.packages.find]\nwhere = ["lib"]\n',
        "lib/tally/counts.py": "COUNTS = {}\n",
        "service/helpers/state.py": "LAST = []\n",
        "service/main.py": """
            from fastapi import FastAPI
            from tally.counts import COUNTS
            from helpers.state import LAST
            app = FastAPI()

            @app.get("/hit/{k}")
            def hit(k: str):
                COUNTS[k] = 1  # !SL104
                LAST.append(k)  # !SL104
                return {}
            """,
    })


def test_state_handed_through_a_constructor(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from fastapi import FastAPI, WebSocket

            class Manager:
                def __init__(self):
                    self.connections = []

            class Service:
                def __init__(self, manager):
                    self.manager = manager

                def register(self, websocket: WebSocket):
                    self.manager.connections.append(websocket)  # !SL112

            manager = Manager()
            service = Service(manager)
            app = FastAPI()

            @app.websocket("/ws")
            async def ws(websocket: WebSocket):
                service.register(websocket)
            """,
    })


def test_state_injected_at_start_up_and_fetched_by_a_getter(tmp_path: Path) -> None:
    check(tmp_path, {
        "app/registry.py": """
            class Registry:
                def __init__(self):
                    self._rooms = {}

                def join(self, room, websocket):
                    if room not in self._rooms:
                        self._rooms[room] = set()  # !SL112
                    self._rooms[room].add(websocket)  # !SL112

                def leave(self, room, websocket):
                    self._rooms[room].discard(websocket)
            """,
        "app/alerts.py": """
            class Alerts:
                def __init__(self, registry):
                    self.registry = registry
            """,
        "app/deps.py": """
            _alerts = None

            def set_alerts(alerts):
                global _alerts
                _alerts = alerts

            def get_alerts():
                return _alerts
            """,
        "app/main.py": """
            from contextlib import asynccontextmanager
            from fastapi import FastAPI, WebSocket
            from app.alerts import Alerts
            from app.deps import get_alerts, set_alerts
            from app.registry import Registry

            registry = Registry()
            alerts = Alerts(registry)

            @asynccontextmanager
            async def lifespan(app):
                set_alerts(alerts)
                yield

            app = FastAPI(lifespan=lifespan)

            @app.websocket("/ws/{room}")
            async def ws(websocket: WebSocket, room: str):
                reg = get_alerts().registry
                reg.join(room, websocket)
                reg.leave(room, websocket)
            """,
    })


def test_more_caching_decorators(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import httpx
            from aiocache import cached as aio_cached
            from async_lru import alru_cache
            from asyncache import cached
            from cachetools import TTLCache
            from fastapi import FastAPI
            app = FastAPI()

            @cached(TTLCache(maxsize=16, ttl=600))  # !SL119
            async def rates():
                return httpx.get("https://rates.example").json()

            @alru_cache(maxsize=32)  # !SL107
            async def profile(user):
                return httpx.get(f"https://users.example/{user}").json()

            @aio_cached(ttl=30)  # !SL107
            async def weather():
                return httpx.get("https://weather.example").json()

            @app.get("/")
            async def home():
                return [await rates(), await profile("u"), await weather()]
            """,
    })


def test_drf_throttling_on_the_default_local_memory_cache(tmp_path: Path) -> None:
    check(tmp_path, {
        "proj/settings.py": """
            INSTALLED_APPS = ["rest_framework"]
            REST_FRAMEWORK = {
                "DEFAULT_THROTTLE_CLASSES": [  # !SL109
                    "rest_framework.throttling.AnonRateThrottle",
                ],
            }
            """,
        "proj/views.py": """
            from rest_framework.decorators import api_view, throttle_classes
            from rest_framework.throttling import UserRateThrottle
            from rest_framework.views import APIView

            class Login(APIView):
                throttle_classes = [UserRateThrottle]  # !SL109

                def post(self, request):
                    return None

            @api_view(["POST"])
            @throttle_classes([UserRateThrottle])  # !SL109
            def reset(request):
                return None
            """,
    })


def test_drf_throttling_with_a_shared_cache_is_fine(tmp_path: Path) -> None:
    check(tmp_path, {
        "proj/settings.py": """
            INSTALLED_APPS = ["rest_framework"]
            CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                  "LOCATION": "redis://redis:6379"}}
            REST_FRAMEWORK = {
                "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"]}
            """,
    })


def test_django_context_processors_receivers_and_middleware_call(tmp_path: Path) -> None:
    check(tmp_path, {
        "site/settings.py": """
            INSTALLED_APPS = ["shop"]
            CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
            MIDDLEWARE = ["shop.middleware.Counter"]
            TEMPLATES = [{"OPTIONS": {"context_processors": ["shop.context.recent"]}}]
            """,
        "shop/__init__.py": "",
        "shop/context.py": """
            RECENT = []

            def recent(request):
                RECENT.append(request.path)  # !SL102
                return {"recent": RECENT[-5:]}
            """,
        "shop/signals.py": """
            from django.db.models.signals import post_save
            from django.dispatch import receiver

            SAVED = {}
            DELETED = []

            @receiver(post_save)
            def on_save(sender, instance, **kwargs):
                SAVED[instance.pk] = instance  # !SL102

            def on_delete(sender, instance, **kwargs):
                DELETED.append(instance.pk)  # !SL102

            post_save.connect(on_delete)
            """,
        "shop/middleware.py": """
            class Counter:
                def __init__(self, get_response):
                    self.get_response = get_response
                    self.seen = 0

                def __call__(self, request):
                    self.seen += 1  # !SL105
                    return self.get_response(request)
            """,
    })


def test_library_objects_mutated_through_their_methods(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import queue
            import networkx as nx
            from flask import Flask
            app = Flask(__name__)
            OUTBOX = queue.Queue()
            GRAPH = nx.Graph()

            @app.post("/follow/<a>/<b>")
            def follow(a, b):
                GRAPH.add_edge(a, b)  # !SL102
                OUTBOX.put((a, b))  # !SL102
                return "ok"
            """,
    })


# false positives --------------------------------------------------------------------

def test_staticmethod_called_through_self_does_not_bind_self(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from starlette.middleware.base import BaseHTTPMiddleware

            class Headers(BaseHTTPMiddleware):
                async def dispatch(self, request, call_next):
                    response = await call_next(request)
                    self.stamp(response)
                    self.tag(response)
                    return response

                @staticmethod
                def stamp(response):
                    response.headers["x-served-by"] = "me"

                @classmethod
                def tag(cls, response):
                    response.headers["x-tag"] = cls.__name__
            """,
    })


def test_method_names_alone_are_not_container_mutations(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from flask import Flask
            from .models import Order
            from .query import build
            app = Flask(__name__)
            BUILDER = build()
            SEEN = {}

            @app.post("/orders/<oid>")
            def update(oid):
                Order.update(oid, status="paid")
                BUILDER.add("where", oid)
                BUILDER.insert(0, oid)
                SEEN.update({oid: True})  # !SL102
                return "ok"
            """,
        "models.py": """
            class Order:
                @classmethod
                def update(cls, oid, **values):
                    return {"id": oid, **values}
            """,
        "query.py": """
            def build():
                return make()
            """,
    })


def test_idempotent_lazy_initialisation_shapes(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import functools
            import json
            import threading
            import redis
            from prometheus_client import Counter
            from sqlalchemy import create_engine
            from fastapi import FastAPI
            app = FastAPI()
            _engine = None
            _client = None
            _lock = threading.Lock()
            _METRICS = {}

            def engine(force=False):
                global _engine
                if _engine is None or force:
                    _engine = create_engine("sqlite://")
                return _engine

            def client():
                global _client
                if _client is None:
                    with _lock:
                        if _client is None:
                            _client = redis.Redis()
                return _client

            def counter(name):
                if name not in _METRICS:
                    _METRICS[name] = Counter(name, "requests")
                return _METRICS[name]

            @functools.cache
            def get_redis():
                return redis.Redis.from_url("redis://redis:6379")

            @functools.lru_cache
            def load_config():
                with open("config.json") as f:
                    return json.load(f)

            @app.get("/")
            def home():
                engine()
                client()
                counter("home").inc()
                get_redis().incr("hits")
                return load_config()
            """,
    })


def test_semaphores_serialising_locks_and_task_sets_are_not_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import asyncio
            import httpx
            from fastapi import FastAPI
            app = FastAPI()
            LIMIT = asyncio.Semaphore(4)
            SERIAL = asyncio.Lock()
            TASKS = set()
            DONE = set()

            async def work(job):
                return job

            @app.post("/jobs/{job}")
            async def submit(job: str):
                async with LIMIT:
                    await httpx.AsyncClient().get("https://api.example")
                async with SERIAL:
                    await httpx.AsyncClient().post("https://api.example")
                task = asyncio.create_task(work(job))
                TASKS.add(task)
                task.add_done_callback(TASKS.discard)
                async with SERIAL:  # !SL118
                    if job not in DONE:
                        DONE.add(job)  # !SL102
                return {}
            """,
    })


def test_deliberate_bounded_or_commented_caches_are_info(tmp_path: Path) -> None:
    messages = check(tmp_path, {
        "app.py": """
            from cachetools import TTLCache
            from flask import Flask
            app = Flask(__name__)
            PRICES = TTLCache(maxsize=1000, ttl=300)
            # per-process cache: each worker may lag by a minute, that is fine
            RENDERED = {}
            FOREVER = TTLCache(maxsize=10, ttl=30 * 86400)

            @app.get("/price/<sku>")
            def price(sku):
                PRICES[sku] = 1  # !SL119
                RENDERED[sku] = "<p>"  # !SL119
                FOREVER[sku] = 2  # !SL102
                return "ok"
            """,
    })
    assert len(messages) == 3


def test_rules_name_what_the_state_is(tmp_path: Path) -> None:
    messages = check(tmp_path, {
        "app.py": """
            from flask import Flask
            app = Flask(__name__)
            REVOKED_TOKENS = set()
            ROOMS = {}

            @app.post("/logout")
            def check_rate_limit_and_logout():
                REVOKED_TOKENS.add("jti")  # !SL102
                return "ok"

            @app.post("/rooms/<name>")
            def throttled_join(name):
                ROOMS.setdefault(name, []).append("me")  # !SL102
                return "ok"
            """,
    })
    assert any("token blocklist" in m for m in messages)
    assert any("chat rooms" in m for m in messages)


def test_attribute_memo_and_own_object_bookkeeping_are_not_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import datetime
            import functools
            import uuid
            import httpx
            from fastapi import FastAPI
            from sqlalchemy.orm import Session

            class Plugins:
                cache = None

                def all(self):
                    if self.cache is not None:
                        return self.cache
                    self.cache = [p for p in ("a", "b")]
                    return self.cache

            class Tracker:
                _open: dict = {}

                @classmethod
                def track(cls, session: Session) -> str:
                    key = str(uuid.uuid4())
                    cls._open[key] = {"session": session}
                    return key

            _last = None

            @functools.lru_cache(maxsize=1)  # !SL119
            def latest_release():
                return httpx.get("https://api.example/releases/latest").json()["tag"]

            def latest():
                global _last
                now = datetime.datetime.now()
                if not _last or now - _last > datetime.timedelta(days=1):
                    _last = now
                    latest_release.cache_clear()
                return latest_release()

            PLUGINS = Plugins()
            app = FastAPI()

            @app.get("/")
            def home(session: Session):
                Tracker.track(session)
                return {"plugins": PLUGINS.all(), "latest": latest()}
            """,
    })


def test_put_on_an_app_state_client_is_not_a_queue(tmp_path: Path) -> None:
    """`.put()` mutates a known queue, not whatever object app state holds (a blob client)."""
    check(tmp_path, {
        "app.py": """
            import queue
            from starlette.applications import Starlette
            from starlette.routing import Route

            JOBS = queue.Queue()

            async def upload(request):
                await request.app.state.blobs.put("k", b"data")
                JOBS.put("k")  # !SL102
                return None

            app = Starlette(routes=[Route("/up", upload, methods=["POST"])])
            """,
    })


# in-process cache objects of libraries -------------------------------------------------

def test_cache_library_objects_kept_in_the_process(tmp_path: Path) -> None:
    check(tmp_path, {
        "site/__init__.py": """
            from flask import Flask

            def create_app():
                app = Flask(__name__)
                from cachelib import SimpleCache
                app.cache = SimpleCache()
                from site.views import bp
                app.register_blueprint(bp)
                return app
            """,
        "site/views.py": """
            from flask import Blueprint, current_app
            import diskcache
            from aiocache import SimpleMemoryCache, Cache
            bp = Blueprint("v", __name__)
            DISK = diskcache.Cache("/tmp/x")
            MEM = SimpleMemoryCache()
            SHARED = Cache(Cache.REDIS, endpoint="redis")

            @bp.route("/news")
            def news():
                data = current_app.cache.get("news")
                if data is None:
                    data = fetch()
                    current_app.cache.set("news", data, timeout=60)  # !SL119
                return data

            @bp.route("/disk/<k>")
            async def disk(k):
                DISK.set(k, 1)  # !SL119
                await MEM.set(k, 2)  # !SL119
                await SHARED.set(k, 3)
                return "ok"

            def fetch():
                return {}
            """,
    })


def test_flask_caching_is_per_process_only_on_an_in_process_backend(tmp_path: Path) -> None:
    app = """
        from flask import Flask
        from flask_caching import Cache
        app = Flask(__name__)
        cache = Cache(app, config={"CACHE_TYPE": "%s"})

        @app.route("/report")
        @cache.cached(timeout=300)  %s
        def report():
            return "r"

        @app.post("/mark/<k>")
        def mark(k):
            cache.set(k, True)  %s
            return "ok"
        """
    check(tmp_path / "simple", {"app.py": app % ("SimpleCache", "# !SL119", "# !SL119")})
    check(tmp_path / "redis", {"app.py": app % ("RedisCache", "", "")})


def test_cache_page_on_django_local_memory_cache(tmp_path: Path) -> None:
    check(tmp_path, {
        "proj/settings.py": """
            INSTALLED_APPS = ["shop"]
            """,
        "shop/views.py": """
            from django.views.decorators.cache import cache_page
            from django.http import HttpResponse

            @cache_page(60)  # !SL119
            def prices(request):
                return HttpResponse("p")
            """,
    })


# decorators applied by a call -------------------------------------------------------

def test_a_decorator_applied_by_a_call_in_urls_makes_its_wrapper_an_entry(
        tmp_path: Path) -> None:
    check(tmp_path, {
        "proj/utils.py": """
            import time
            _cache = {}

            def cached(expire):
                def wrapper(func):
                    def wrapped(request, **kwargs):
                        if request.path in _cache:
                            return _cache[request.path][1]
                        resp = func(request, **kwargs)
                        _cache[request.path] = (time.time() + expire, resp)  # !SL102
                        return resp
                    return wrapped
                return wrapper

            def remember(view):
                def inner(request):
                    SEEN.append(request.path)  # !SL102
                    return view(request)
                return inner

            SEEN = []
            """,
        "proj/views.py": """
            from django.views.generic import ListView

            class Names(ListView):
                pass

            def hello(request):
                return "hi"
            """,
        "proj/urls.py": """
            from django.urls import path
            from proj import utils
            from proj.views import Names, hello

            urlpatterns = [
                path("names/", utils.cached(3600)(Names.as_view())),
                path("hi/", utils.remember(hello)),
            ]
            """,
    })


# Python 2 code bases -----------------------------------------------------------------

def test_python2_code_is_one_note_not_a_syntax_error_per_file(tmp_path: Path) -> None:
    files = {
        "old/a.py": 'print "hello"\n',
        "old/b.py": "try:\n    pass\nexcept ValueError, e:\n    pass\n",
        "old/c.py": "x = ur'abc'\n",
        "old/d.py": "y = `1`\n",
        "old/e.py": 'exec "x = 1"\n',
        "new.py": "try:\n    pass\nexcept ValueError, KeyError:\n    pass\n",
        "broken.py": "def f(:\n    pass\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = lint([tmp_path], cwd=tmp_path)
    assert [(f.path, f.rule) for f in result.findings] == [("broken.py", "SL001")]
    py2 = [n for n in result.notes if n.needs == "2"]
    assert len(py2) == 1 and "5 file(s)" in py2[0].message and py2[0].path == "old"
    assert "not analysed" in py2[0].message
    # `except A, B:` is PEP 758 (3.14), read through the rewrite, never Python 2
    assert not any(n.path == "new.py" and n.needs == "2" for n in result.notes)


# per-process pools of clients; pure caches ---------------------------------------------

def test_pools_of_clients_filled_through_a_local_are_not_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from fastapi import FastAPI
            from redis import StrictRedis, ConnectionPool
            from sqlalchemy.ext.asyncio import create_async_engine
            from sqlalchemy.orm import sessionmaker
            import requests
            app = FastAPI()
            POOL = {}
            PAGES = {}

            class Manager:
                _clients = {}

                @staticmethod
                def make(address):
                    return StrictRedis(connection_pool=ConnectionPool(host=address))

                @staticmethod
                def client(key, address):
                    found = Manager._clients.get(key)
                    if found is not None:
                        return found
                    client = Manager.make(address)
                    Manager._clients[key] = client
                    return client

                @staticmethod
                def drop(key):
                    Manager._clients.pop(key)

            class Engines:
                def __init__(self):
                    self.connections = dict()

                def get(self, url):
                    eg = create_async_engine(url)
                    data = dict(engine=eg, session=sessionmaker(bind=eg))
                    self.connections[url] = data
                    return data

                def remove(self, url):
                    self.connections.pop(url)

            engines = Engines()

            @app.get("/r/{key}")
            def use(key: str, address: str):
                Manager.client(key, address)
                engines.get(address)
                client = StrictRedis(host=address)
                POOL[key] = client
                return {}

            @app.delete("/r/{key}")
            def drop(key: str, address: str):
                Manager.drop(key)
                engines.remove(address)
                return {}

            @app.get("/page")
            def page(url: str):
                body = requests.get(url).text
                PAGES[url] = body  # !SL102
                return body
            """,
    })


def test_lru_cache_on_compiling_a_template_is_pure(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from functools import lru_cache
            from fastapi import FastAPI
            from jinja2 import Environment
            import redis
            app = FastAPI()
            ENV = Environment()
            store = redis.Redis()

            @lru_cache(128)
            def load(source: str):
                return ENV.from_string(source)

            @lru_cache(128)  # !SL107
            def flag(name: str):
                return store.get(name)

            @app.get("/render")
            def render(source: str):
                return load(source).render() + str(flag(source))
            """,
    })


# dynamic dispatch ---------------------------------------------------------------------

def test_handler_tables_and_getattr_dispatch_are_followed(tmp_path: Path) -> None:
    check(tmp_path, {
        "sources.py": """
            SEEN = []
            LOG = []
            ROOMS = {}

            class Jhu:
                def get_all(self):
                    SEEN.append("jhu")  # !SL102
                    return []

            class Nyt:
                def get_all(self):
                    return []

            SOURCES = {"jhu": Jhu(), "nyt": Nyt()}

            def pick(name):
                return SOURCES.get(name)

            def on_created(payload):
                LOG.append(payload)  # !SL102

            HANDLERS = {"created": on_created}
            """,
        "app.py": """
            from fastapi import FastAPI, Request
            from sources import HANDLERS, pick
            app = FastAPI()
            JOINED = []

            @app.middleware("http")
            async def choose(request: Request, call_next):
                request.state.source = pick(request.query_params.get("source", "jhu"))
                return await call_next(request)

            @app.get("/all")
            def all_(request: Request):
                return request.state.source.get_all()

            @app.post("/event/{kind}")
            def event(kind: str, payload: dict):
                HANDLERS[kind](payload)
                Bot().dispatch(kind, payload)
                return {}

            class Bot:
                def dispatch(self, kind, payload):
                    getattr(self, "on_" + kind)(payload)

                def on_join(self, payload):
                    JOINED.append(payload)  # !SL102

                def unrelated(self, payload):
                    JOINED.clear()
            """,
    })


def test_removal_from_a_table_of_own_sessions_is_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import uuid
            from fastapi import FastAPI
            from sqlalchemy.orm import Session
            app = FastAPI()

            class Tracker:
                _sessions = {}

                @classmethod
                def track(cls, session: Session) -> str:
                    sid = str(uuid.uuid4())
                    cls._sessions[sid] = {"session": session}
                    return sid

                @classmethod
                def untrack(cls, sid: str) -> None:
                    if sid in cls._sessions:
                        cls._sessions.pop(sid)

            @app.middleware("http")
            async def db(request, call_next):
                Tracker.untrack(request.headers.get("x", ""))
                return await call_next(request)
            """,
    })


def test_a_table_kept_on_a_long_lived_instance_dispatches_to_its_parts(
        tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from flask import Flask
            app = Flask(__name__)

            class Group:
                def __init__(self):
                    self.size = 0
                    self.scanner = None

                def update(self):
                    self.size = self.size + 1  # !SL105
                    self.rebuild()

                def rebuild(self):
                    try:
                        self.scanner = object()  # !SL105
                    except ValueError:
                        if self.scanner is None:
                            raise

            class Manager:
                def init_app(self):
                    self.groups = {"all": Group()}

                def update(self, name="all"):
                    self.groups.get(name).update()

            manager = Manager()

            @app.post("/scope")
            def scope():
                manager.update()
                return "ok"
            """,
    })


def test_methods_of_classes_picked_from_a_table_are_not_dict_mutations(
        tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from flask import Flask, request
            app = Flask(__name__)

            class Standard:
                @staticmethod
                def update(challenge, req):
                    return challenge

            KINDS = {"standard": Standard}

            def kind_of(name):
                return KINDS.get(name)

            @app.patch("/c/<name>")
            def patch(name):
                cls = kind_of(name)
                cls.update(name, request)
                return "ok"
            """,
    })


def test_a_mutable_default_is_state_only_when_a_call_leaves_it_out(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from fastapi import FastAPI
            app = FastAPI()

            def enqueue(job, metadata={}):
                metadata["queue"] = job
                return metadata

            def remember(key, seen={}):
                seen[key] = True  # !SL106
                return seen

            @app.post("/run/{job}")
            def run(job: str):
                enqueue(job, metadata={"user": "u"})
                enqueue(job, {"user": "v"})
                remember(job)
                return {}
            """,
    })


def test_receivers_and_views_registered_in_tests_are_not_entries(tmp_path: Path) -> None:
    check(tmp_path, {
        "shop/__init__.py": "",
        "shop/tests/__init__.py": "",
        "shop/tests/test_models.py": """
            from django.db.models.signals import post_save
            SAVED = []

            def test_saves():
                def capture(sender, instance, **kwargs):
                    SAVED.append(instance)
                post_save.connect(capture)
            """,
        "shop/views.py": """
            from django.http import HttpResponse
            HITS = []

            def index(request):
                HITS.append(request.path)  # !SL102
                return HttpResponse("ok")
            """,
    })


def test_queue_hand_offs_expiring_entries_and_provider_pools(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import asyncio
            from time import time
            from fastapi import FastAPI
            app = FastAPI()
            invoices = asyncio.Queue()
            audit = asyncio.Queue()
            PROVIDERS = {}

            class Cache:
                def __init__(self):
                    self._values = {}

                def set(self, key, value, expiry: float = 10):
                    self._values[key] = (value, time() + expiry)  # !SL119

                def set_long(self, key, value):
                    self._values[key] = (value, time() + 7 * 86400)  # !SL119

            cache = Cache()
            LONG = {}

            def init_provider(name):
                return object()

            async def consume():
                while True:
                    await invoices.get()

            @app.post("/pay/{i}")
            async def pay(i: str):
                await invoices.put(i)
                await audit.put(i)  # !SL102
                cache.set(i, 1)
                cache.set_long(i, 2)
                LONG[i] = (i, time() + 7 * 86400)  # !SL102
                provider = init_provider(i)
                PROVIDERS[i] = provider
                return {}
            """,
    })


def test_django_local_memory_cache_values_are_a_cache_flags_coordinate(
        tmp_path: Path) -> None:
    views = """
        from django.core.cache import cache
        from django.http import HttpResponse

        def feed(request):
            items = cache.get("feed")
            if items is None:
                items = ["a", "b"]
                cache.set("feed", items, 3600)  %s
            return HttpResponse(str(items))

        def nightly(request):
            if cache.add("nightly-ran", 1):  %s
                pass
            return HttpResponse("ok")
        """
    check(tmp_path / "locmem", {"proj/settings.py": "INSTALLED_APPS = ['shop']\n",
                                "shop/views.py": views % ("# !SL119", "# !SL118")})
    check(tmp_path / "redis", {
        "proj/settings.py": "INSTALLED_APPS = ['shop']\nCACHES = {'default': {'BACKEND': "
                            "'django_redis.cache.RedisCache'}}\n",
        "shop/views.py": views % ("", "")})


def test_star_reexports_and_subclass_registries_are_followed(tmp_path: Path) -> None:
    check(tmp_path, {
        "finder/__init__.py": "from .types import *\n",
        "finder/types.py": """
            SEEN = []

            class Service:
                @classmethod
                def run(cls, vid):
                    SEEN.append(vid)  # !SL102
                    return cls.__name__

            class YouTube(Service):
                pass

            class Wayback(YouTube):
                pass

            class Archive(YouTube):
                @classmethod
                def run(cls, vid):
                    LOG.append(vid)  # !SL102
                    return "a"

            LOG = []

            class Response:
                @classmethod
                def services(cls):
                    return list(YouTube.__subclasses__())

                @classmethod
                def each(cls, vid):
                    services = cls.services()
                    for svc in services:
                        svc.run(vid)
            """,
        "app.py": """
            from flask import Flask
            import finder
            app = Flask(__name__)

            @app.route("/find/<vid>")
            def find(vid):
                finder.Response.each(vid)
                return "ok"
            """,
    })


def test_a_reference_counted_pool_of_loaded_providers_is_not_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            from dataclasses import dataclass, field
            from fastapi import Depends, FastAPI
            app = FastAPI()

            class JsonProvider:
                def __init__(self, path):
                    self.path = path

            @dataclass
            class InUse:
                provider: JsonProvider
                locks: int

            @dataclass
            class Factory:
                _store: dict = field(default_factory=dict)

                def get(self, locale):
                    if locale in self._store:
                        self._store[locale].locks += 1
                    else:
                        self._store[locale] = InUse(provider=JsonProvider(locale), locks=1)
                    return self._store[locale].provider

            factory = Factory()
            NOTES = {}

            def provider(locale: str = "en"):
                return factory.get(locale)

            @app.get("/t")
            def translate(p=Depends(provider)):
                NOTES["last"] = InUse(provider=None, locks=0)  # !SL102
                return {}
            """,
    })


def test_what_a_memoised_singleton_factory_does_happens_once(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import shutil
            from functools import lru_cache
            from pathlib import Path
            from fastapi import FastAPI
            from fastapi.responses import FileResponse
            app = FastAPI()
            DATA = Path("/data")
            LOADED = []

            class Dirs:
                def __init__(self):
                    self.templates = DATA / "templates"
                    target = self.templates / "recipes.md"
                    if not target.exists():
                        shutil.copyfile("package/recipes.md", target)
                    LOADED.append(str(target))

            @lru_cache
            def get_dirs() -> Dirs:
                return Dirs()

            @app.get("/template")
            def template():
                return FileResponse(get_dirs().templates / "recipes.md")

            @app.post("/seen/{k}")
            def seen(k: str):
                LOADED.append(k)  # !SL102
                return {}
            """,
    })


def test_a_hand_written_memo_of_a_pure_function_is_not_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import requests
            from fastapi import FastAPI
            from pydantic import create_model
            app = FastAPI()
            _schemas = {}
            _certs = {}
            SEEN = {}

            def schema_for(fields):
                key = tuple(fields)
                cached = _schemas.get(key)
                if cached is not None:
                    return cached
                schema = create_model("Input", **{f: (str, ...) for f in fields})
                _schemas[key] = schema
                return schema

            def cert(url):
                if url in _certs:
                    return _certs[url]
                res = requests.get(url).text
                _certs[url] = res  # !SL102
                return res

            def remember(user):
                value = True
                if user in SEEN:
                    return SEEN[user]
                SEEN[user] = value  # !SL102
                return SEEN[user]

            @app.post("/x")
            def x(fields: list[str], url: str, user: str):
                schema_for(fields)
                cert(url)
                remember(user)
                return {}
            """,
    })


def test_code_generator_templates_named_py_are_one_note(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "client.py").write_text("class {{ name }}Client:\n    pass\n")
    (tmp_path / "tpl" / "models.py").write_text(
        "{% for m in models %}\nclass {{ m }}:\n    pass\n{% endfor %}\n")
    (tmp_path / "bad.py").write_text("def f(:\n    pass\n")
    result = lint([tmp_path], cwd=tmp_path)
    assert [(f.path, f.rule) for f in result.findings] == [("bad.py", "SL001")]
    assert [n.path for n in result.notes] == ["tpl"]
    assert "2 template file(s)" in result.notes[0].message


def test_socketio_event_handlers_are_entries(tmp_path: Path) -> None:
    # Flask-SocketIO and python-socketio run a decorated handler per client event, on
    # whichever worker holds the client's connection: a module dict they write is
    # per-process state like any handler's. `@app.on_event("startup")` stays start-up.
    check(tmp_path, {"app.py": """
        import socketio as sio_lib
        from fastapi import FastAPI
        from flask import Flask
        from flask_socketio import SocketIO, join_room

        app = Flask(__name__)
        socketio = SocketIO(app)
        sio = sio_lib.AsyncServer(async_mode="asgi")
        api = FastAPI()
        ROOMS = {}
        USERS = {}
        WARM = {}

        @socketio.on("join")
        def on_join(data):
            join_room(data["room"])
            ROOMS[data["room"]] = data["state"]  # !SL102

        @sio.event
        async def score(sid, data):
            USERS[data["player"]] = data["score"]  # !SL102

        @api.on_event("startup")
        def warm():
            WARM["ready"] = True
        """})


def test_dash_callbacks_are_entries(tmp_path: Path) -> None:
    # A Dash callback runs per browser update, on any worker behind the server: the
    # `global` it rebinds is per-process state. The layout built at import is not.
    check(tmp_path, {"dash_app.py": """
        import dash
        from dash import Input, Output, callback

        app = dash.Dash(__name__)
        app.layout = dash.html.Div()
        loaded_study = None
        SELECTED = {}

        @app.callback(Output("out", "children"), Input("study", "value"))
        def load(study):
            global loaded_study
            loaded_study = study  # !SL101
            return study

        @callback(Output("sel", "children"), Input("pick", "value"))
        def pick(value):
            SELECTED["last"] = value  # !SL102
            return value
        """, "qc.py": """
        from dash import dash, Input, Output

        app = dash.Dash(__name__)  # the class through the `dash.dash` module
        STUDY = {}

        @app.callback(Output("t", "data"), Input("s", "value"))
        def load(study):
            STUDY["name"] = study  # !SL102
            return []
        """})


def test_creating_a_folder_is_not_a_file_handed_to_another_request(tmp_path: Path) -> None:
    # SL111 reports the write of a file another handler reads back. `mkdir` leaves no
    # data behind (the files written into the folder are the hand-off, and reported
    # where they are written), so creating the folder, even under a root another
    # handler lists, is not a finding of its own.
    check(tmp_path, {"app.py": """
        from pathlib import Path
        from flask import Flask, request

        app = Flask(__name__)
        UPLOAD_DIR = Path("/srv/uploads")

        @app.post("/upload/<name>")
        def upload(name):
            UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
            (UPLOAD_DIR / name).mkdir(exist_ok=True)
            (UPLOAD_DIR / name / "data").write_bytes(request.data)  # !SL111
            return "ok"

        @app.get("/uploads")
        def listing():
            return {"names": [p.name for p in UPLOAD_DIR.iterdir()]}
        """})
