"""Per-process caches, memos, one-time initialisers and locks (lint/memos.py).

Each case is a small service written here. Lines that must be reported end with
`# !SLxxx`; every other line must stay silent. The true bugs next to them (an
OAuth state table, a token blocklist, a per-user store, a counter read back)
stay errors, so each test pins both sides of the line.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from lint_marks import check


def _app(body: str) -> str:
    """A FastAPI module: the app, then `body`."""
    return "from fastapi import FastAPI\napp = FastAPI()\n" + textwrap.dedent(body)


def test_read_through_cache_with_ttl_and_bound_is_sl119(tmp_path: Path) -> None:
    check(tmp_path, {
        "cache.py": """
            import time
            import httpx

            _META_TTL_S = 300
            _META_MAX = 256
            _meta_cache = {}

            def get_meta(key):
                now = time.monotonic()
                hit = _meta_cache.get(key)
                if hit is not None and now - hit[0] < _META_TTL_S:
                    return hit[1]
                meta = httpx.get(f"https://meta/{key}").json()
                _meta_cache[key] = (now, meta)  # !SL119
                if len(_meta_cache) > _META_MAX:
                    oldest = min(_meta_cache, key=lambda k: _meta_cache[k][0])
                    del _meta_cache[oldest]  # !SL119
                return meta
            """,
        "app.py": _app("""
            from cache import get_meta

            @app.get("/meta/{key}")
            def meta(key: str):
                return get_meta(key)
            """),
    })


def test_cache_split_in_get_and_put_with_deadline_and_lru_eviction(tmp_path: Path) -> None:
    check(tmp_path, {
        "emb.py": """
            import time
            from collections import OrderedDict

            _EMB_TTL = 600
            _embedding_cache = OrderedDict()

            def cache_get(key):
                entry = _embedding_cache.get(key)
                if entry is None:
                    return None
                expires_at, vec = entry
                if expires_at < time.monotonic():
                    _embedding_cache.pop(key, None)  # !SL119
                    return None
                return vec

            def cache_put(key, vec):
                expires_at = time.monotonic() + _EMB_TTL
                _embedding_cache[key] = (expires_at, vec)  # !SL119
                while len(_embedding_cache) > 1000:
                    _embedding_cache.popitem(last=False)  # !SL119
            """,
        "app.py": _app("""
            from emb import cache_get, cache_put

            @app.get("/embed")
            def embed(text: str):
                vec = cache_get(text)
                if vec is None:
                    vec = [float(len(text))]
                    cache_put(text, vec)
                return vec
            """),
    })


def test_global_rebound_to_a_timestamped_value_is_sl119(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import time
            from db import load_origins

            _ORIGINS_TTL = 30
            _origins_cache = (0.0, set())

            @app.get("/cors-check")
            def allowed(origin: str):
                global _origins_cache
                now = time.monotonic()
                cached_at, origins = _origins_cache
                if now - cached_at < _ORIGINS_TTL:
                    return origin in origins
                origins = set(load_origins())
                _origins_cache = (now, origins)  # !SL119
                return origin in origins
            """),
        "db.py": """
            def load_origins():
                return ["https://a.example"]
            """,
    })


def test_cache_bookkeeping_is_part_of_the_cache(tmp_path: Path) -> None:
    """`_frame_meta` (no cache word) is written under the cache's key and
    `_total_bytes` is its size tally: both are the cache's own bookkeeping."""
    check(tmp_path, {
        "frames.py": """
            import time

            _frame_cache = {}
            _frame_meta = {}
            _total_bytes = 0

            def evict_oldest():
                global _total_bytes
                oldest = min(_frame_meta, key=lambda k: _frame_meta[k]["ts"])
                _total_bytes -= _frame_meta[oldest]["size"]  # !SL119
                del _frame_cache[oldest]  # !SL119
                del _frame_meta[oldest]  # !SL119

            def load(key, build):
                global _total_bytes
                if key in _frame_cache:
                    return _frame_cache[key]
                frame = build(key)
                while _total_bytes > 10_000_000:
                    evict_oldest()
                _frame_cache[key] = frame  # !SL119
                _frame_meta[key] = {"size": len(frame), "ts": time.time()}  # !SL119
                _total_bytes += len(frame)  # !SL119
                return frame
            """,
        "app.py": _app("""
            from frames import load

            def build(key):
                return key * 10

            @app.get("/frame/{key}")
            def frame(key: str):
                return load(key, build)
            """),
    })


def test_stamped_store_without_read_through_stays_an_error(tmp_path: Path) -> None:
    """OAuth states carry a timestamp and expire, but nothing looks them up to fill
    them: the login handler stores them, the callback on another replica misses."""
    check(tmp_path, {
        "app.py": _app("""
            import secrets
            import time

            _STATE_TTL = 600
            _oauth_states = {}

            @app.get("/login")
            def login():
                state = secrets.token_urlsafe()
                _oauth_states[state] = {"created": time.time()}  # !SL102
                return {"state": state}

            @app.get("/callback")
            def callback(state: str):
                entry = _oauth_states.pop(state, None)  # !SL102
                if entry is None or time.time() - entry["created"] > _STATE_TTL:
                    return {"ok": False}
                return {"ok": True}
            """),
    })


def test_unbounded_response_cache_without_known_expiry_stays_an_error(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import time

            _cache = {}

            def cached(expire):
                def wrap(func):
                    def inner(path):
                        if path in _cache:
                            until, resp = _cache[path]
                            if until > time.time():
                                return resp
                        resp = func(path)
                        _cache[path] = (time.time() + expire, resp)  # !SL102
                        return resp
                    return inner
                return wrap

            @app.get("/page")
            @cached(3600)
            def page(path: str):
                return {"path": path}
            """),
    })


def test_version_validated_memo_and_its_reset_are_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "keys.py": """
            import os

            _key_cache = {}
            _sprite = None

            def load_key(path):
                with open(path) as f:
                    return f.read()

            def get_key(path):
                cached = _key_cache.get(path)
                mtime = os.stat(path).st_mtime
                if cached is None or cached[0] != mtime:
                    cached = (mtime, load_key(path))
                    _key_cache[path] = cached
                return cached[1]

            class Sprite:
                def __init__(self, signature, png):
                    self.signature = signature
                    self.png = png

            def sprite(icons):
                global _sprite
                signature = tuple(icons)
                if _sprite is not None and _sprite.signature == signature:
                    return _sprite.png
                _sprite = Sprite(signature=signature, png=b"".join(icons))
                return _sprite.png

            def clear_sprite():
                global _sprite
                _sprite = None
            """,
        "app.py": _app("""
            from keys import clear_sprite, get_key, sprite

            @app.get("/jwks")
            def jwks():
                return {"key": get_key("/etc/key.pem")}

            @app.get("/sprite")
            def get_sprite():
                return sprite([b"a", b"b"])

            @app.post("/icons")
            def new_icon():
                clear_sprite()
                return {"ok": True}
            """),
    })


def test_once_guarded_initialisers_are_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "secrets_.py": """
            import json
            import os

            _secret_key = None
            _secret_kid = None
            _secret_loaded = False
            _registry = {}
            _registry_ready = False

            def load_secret():
                global _secret_key, _secret_kid, _secret_loaded
                if _secret_loaded:
                    return _secret_key, _secret_kid
                _secret_loaded = True
                data = json.loads(os.environ.get("JWK", "{}"))
                _secret_kid = data.get("kid")
                _secret_key = data.get("k")
                return _secret_key, _secret_kid

            def ensure_registry():
                global _registry, _registry_ready
                if _registry_ready:
                    return
                _registry = {"a": object()}
                _registry["a"].label = "A"
                _registry_ready = True

            class UrlBuilder:
                _cached_url = None
                _cached_env = None

                @staticmethod
                def url():
                    env = os.getenv("ENV", "dev")
                    if UrlBuilder._cached_url and UrlBuilder._cached_env == env:
                        return UrlBuilder._cached_url
                    UrlBuilder._cached_url = os.getenv("URL", "redis://localhost")
                    UrlBuilder._cached_env = env
                    return UrlBuilder._cached_url
            """,
        "app.py": _app("""
            from secrets_ import UrlBuilder, ensure_registry, load_secret

            @app.get("/start")
            def start():
                ensure_registry()
                return {"kid": load_secret()[1], "url": UrlBuilder.url()}
            """),
    })


def test_once_flag_reset_by_a_request_is_still_reported(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            _loaded = False
            _value = None

            def load():
                global _loaded, _value
                if _loaded:
                    return _value
                _value = {"k": 1}
                _loaded = True
                return _value

            @app.get("/v")
            def value():
                return load()

            @app.post("/reload")
            def reload():
                global _loaded
                _loaded = False  # !SL101
                return {"ok": True}
            """),
    })


def test_lock_tables_and_cache_locks_are_no_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import threading
            import time
            from db import resolve

            _TTL = 60
            _filter_cache = {}
            _filter_locks = {}
            _guard = threading.Lock()
            _done = set()
            _done_lock = threading.Lock()

            @app.get("/filters/{key}")
            def filters(key: str):
                now = time.monotonic()
                hit = _filter_cache.get(key)
                if hit and now - hit[0] < _TTL:
                    return hit[1]
                with _guard:
                    lock = _filter_locks.setdefault(key, threading.Lock())
                with lock:
                    value = resolve(key)
                    _filter_cache[key] = (time.monotonic(), value)  # !SL119
                for stale in [k for k, (ts, _) in _filter_cache.items() if now - ts > _TTL]:
                    _filter_cache.pop(stale, None)  # !SL119
                    with _guard:
                        _filter_locks.pop(stale, None)
                return value

            @app.post("/once/{job}")
            def once(job: str):
                with _done_lock:  # !SL118
                    if job in _done:
                        return {"dup": True}
                    _done.add(job)  # !SL102
                return {"ok": True}
            """),
        "db.py": """
            def resolve(key):
                return [key]
            """,
    })


def test_housekeeping_stamp_is_silent_but_an_alert_cooldown_is_not(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import time

            _SWEEP_EVERY = 600
            _last_sweep_at = 0.0
            _last_alert_at = 0.0

            def sweep():
                return None

            @app.get("/export")
            def export():
                global _last_sweep_at
                now = time.time()
                if now - _last_sweep_at >= _SWEEP_EVERY:
                    _last_sweep_at = now
                    sweep()
                return {"ok": True}

            @app.get("/health")
            def health():
                global _last_alert_at
                now = time.time()
                if now - _last_alert_at >= 300:
                    _last_alert_at = now  # !SL101
                return {"ok": True}
            """),
    })


def test_constant_key_seeding_and_kept_results_are_no_mutation(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            _extensions = {}
            _rooms = {}
            _frames = {}

            class Default:
                pass

            @app.get("/provider/{name}")
            def provider(name: str):
                providers = _extensions.setdefault("providers", {})
                providers.setdefault("default", Default())
                return str(providers.get(name))

            @app.post("/join/{room}")
            def join(room: str, user: str):
                _rooms.setdefault(room, set()).add(user)  # !SL102
                return {"ok": True}

            @app.get("/sorted/{key}")
            def sorted_frame(key: str):
                frame = _frames.get(key)
                if frame is None:
                    return []
                result = frame.sort("col")
                return result
            """),
    })


def test_lru_cache_on_a_file_loader_is_no_sl107_but_on_the_clock_it_is(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import functools
            import time
            from pathlib import Path

            CATALOG = Path(__file__).parent / "catalog"

            @functools.lru_cache(maxsize=1)
            def load_catalog():
                return tuple(p.read_text() for p in sorted(CATALOG.iterdir()))

            @functools.lru_cache(maxsize=32)  # !SL107
            def stamp(key):
                return (key, time.time())

            @app.get("/catalog")
            def catalog():
                return {"n": len(load_catalog()), "s": stamp("a")}
            """),
    })


def test_registry_of_classes_and_lazy_imports_is_no_state(tmp_path: Path) -> None:
    check(tmp_path, {
        "registry.py": """
            import importlib


            class Base:
                pass


            class Registry:
                _agents = {}
                _lazy = {"report": "plugins.Report"}
                _runs = {}

                @classmethod
                def register(cls, kind: str, agent_class: type[Base]) -> None:
                    cls._agents[kind] = agent_class

                @classmethod
                def get(cls, kind: str):
                    if kind in cls._lazy:
                        module_path, name = cls._lazy[kind].rsplit(".", 1)
                        agent = getattr(importlib.import_module(module_path), name)
                        cls.register(kind, agent)
                        del cls._lazy[kind]
                    return cls._agents[kind]

                @classmethod
                def record(cls, kind: str, user: str) -> None:
                    cls._runs[kind] = user  # !SL105
            """,
        "app.py": _app("""
            from registry import Registry

            @app.post("/run/{kind}")
            def run(kind: str, user: str):
                agent = Registry.get(kind)
                Registry.record(kind, user)
                return {"agent": str(agent)}
            """),
    })


def test_a_handler_given_a_class_still_reports_the_data_it_stores(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            _rows = {}

            class Model:
                pass

            def save(model: type[Model], key: str, row: dict) -> None:
                _rows[key] = row  # !SL102

            @app.post("/rows/{key}")
            def put(key: str, row: dict):
                save(Model, key, row)
                return {"ok": True}
            """),
    })


def test_write_handler_invalidating_a_cache_without_expiry_stays_an_error(
        tmp_path: Path) -> None:
    """A size-bounded cache has no expiry: when a write handler drops its entries,
    every other replica keeps serving its stale copy until eviction. A cache whose
    entries expire (TTL) is only stale for the TTL: its invalidation is SL119."""
    check(tmp_path, {
        "frames.py": """
            import time
            import httpx

            _TTL = 60
            _frame_cache = {}
            _rates_cache = {}

            def load(key, build):
                if key in _frame_cache:
                    return _frame_cache[key]
                frame = httpx.get(f"https://frames/{key}").content
                if len(_frame_cache) > 100:
                    _frame_cache.clear()  # !SL119
                _frame_cache[key] = frame  # !SL119
                return frame

            def invalidate(key):
                _frame_cache.pop(key, None)  # !SL102

            def rate(cur, fetch):
                now = time.monotonic()
                hit = _rates_cache.get(cur)
                if hit and now - hit[0] < _TTL:
                    return hit[1]
                value = fetch(cur)
                _rates_cache[cur] = (now, value)  # !SL119
                return value

            def drop_rate(cur):
                _rates_cache.pop(cur, None)  # !SL119
            """,
        "app.py": _app("""
            from frames import drop_rate, invalidate, load, rate

            def build(key):
                return key * 3

            def fetch(cur):
                return 1.0

            @app.get("/frames/{key}")
            def get_frame(key: str):
                return {"f": load(key, build), "r": rate("eur", fetch)}

            @app.post("/frames/{key}")
            def put_frame(key: str):
                invalidate(key)
                drop_rate("eur")
                return {"ok": True}
            """),
    })


def test_datetime_ttl_forms_make_a_cache(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            from datetime import datetime, timedelta
            from db import fetch_price

            _price_cache = {}

            @app.get("/price/{sku}")
            def price(sku: str):
                now = datetime.now()
                hit = _price_cache.get(sku)
                if hit and (now - hit[0]).total_seconds() < 300:
                    return hit[1]
                if hit and hit[0] + timedelta(minutes=5) < now:
                    _price_cache.pop(sku, None)  # !SL119
                value = fetch_price(sku)
                _price_cache[sku] = (now, value)  # !SL119
                return value
            """),
        "db.py": """
            def fetch_price(sku):
                return 1.0
            """,
    })


def test_a_store_checked_against_a_passed_in_value_is_no_validated_memo(
        tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            _sessions = {}

            @app.post("/login")
            def login(sid: str, user_id: str, profile: dict):
                current = _sessions.get(sid)
                if current is not None and current[0] == user_id:
                    return {"ok": True}
                _sessions[sid] = (user_id, profile)  # !SL110
                return {"ok": True}
            """),
    })


def test_a_flag_toggled_once_is_no_initialiser(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            _paused = False

            def pause():
                global _paused
                if _paused:
                    return
                _paused = True  # !SL101

            @app.post("/pause")
            def post_pause():
                pause()
                return {"ok": True}
            """),
    })


def test_a_cache_refreshed_by_a_background_task_is_sl119(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": _app("""
            import asyncio
            import time
            from db import fetch_rates

            _RATES_TTL = 120
            _rates_cache = {}

            async def refresher():
                while True:
                    now = time.time()
                    for cur, (ts, _) in list(_rates_cache.items()):
                        if now - ts > _RATES_TTL:
                            _rates_cache.pop(cur, None)  # !SL119
                    _rates_cache["eur"] = (now, fetch_rates("eur"))  # !SL119
                    await asyncio.sleep(60)

            @app.on_event("startup")
            async def start():
                asyncio.create_task(refresher())

            @app.get("/rate")
            def rate():
                return _rates_cache.get("eur")
            """),
        "db.py": """
            def fetch_rates(cur):
                return 1.0
            """,
    })
