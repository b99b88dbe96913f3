import collections
import itertools
import random
import time

import redis.asyncio as aioredis
from aiohttp import ClientSession, web

from . import geo
from .store import LINKS as links
from .store import OWNERS

_ids = itertools.count(1)
_by_status = collections.defaultdict(int)
BLOCKED_SCHEMES = ("javascript", "data")  # trap: tuple constant


def middleware_factory(header: str):
    @web.middleware
    async def timing(request, handler):
        request["started"] = time.monotonic()  # trap: per-request mapping
        response = await handler(request)
        response.headers[header] = f"{time.monotonic() - request['started']:.4f}"  # trap: this response
        return response

    return timing


async def count_status(request, response):
    _by_status[response.status] += 1  # expect: SL103


def normalise(url: str, _seen={}) -> str:
    if url not in _seen:
        _seen[url] = url.strip().rstrip("/")  # expect: SL106
    return _seen[url]


async def create(request):
    body = await request.json()
    url = normalise(body["url"])
    if url.split(":", 1)[0] in BLOCKED_SCHEMES:
        raise web.HTTPBadRequest()
    link_id = next(_ids)  # expect: SL114
    links[link_id] = url  # expect: SL104
    OWNERS[link_id] = request["user"] if "user" in request else "anon"  # expect: SL104,SL102
    await request.app["redis"].hset("links", link_id, url)  # trap: Redis write
    return web.json_response({"id": link_id}, status=201)


async def follow(request):
    link_id = int(request.match_info["id"])
    country = geo.resolver().country(request.remote)
    geo.resolver().lookups[request.remote] = country  # expect: SL117
    await request.app["redis"].incr(f"clicks:{link_id}")  # trap: Redis INCR
    raise web.HTTPFound(links[link_id])


async def sample(request):
    random.seed(request.query.get("seed", "0"))  # expect: SL115
    picked = random.sample(sorted(links), k=min(3, len(links)))
    return web.json_response(picked)


class RecentView(web.View):
    recent = collections.deque(maxlen=50)

    async def get(self):
        return web.json_response(list(self.recent))

    async def post(self):
        item = await self.request.json()
        self.recent.appendleft(item)  # expect: SL105
        return web.json_response(item, status=201)


class StatsView(web.View):
    async def get(self):
        self.request.app["stats"]["views"] += 1  # expect: SL116
        return web.json_response({"views": self.request.app["stats"]["views"],
                                  "by_status": dict(_by_status)})


async def startup(app):
    app["redis"] = aioredis.from_url("redis://redis:6379/0")  # trap: client at start-up
    app["http"] = ClientSession()  # trap: client at start-up
    app["stats"] = {"views": 0}  # trap: start-up


async def cleanup(app):
    await app["http"].close()
    await app["redis"].aclose()


def build() -> web.Application:
    app = web.Application(middlewares=[middleware_factory("X-Elapsed")])
    app.router.add_route("POST", "/links", create)  # trap: route registration
    app.router.add_get("/l/{id}", follow)
    app.router.add_get("/sample", sample)
    app.router.add_view("/recent", RecentView)
    app.router.add_view("/stats", StatsView)
    app.on_response_prepare.append(count_status)
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app
