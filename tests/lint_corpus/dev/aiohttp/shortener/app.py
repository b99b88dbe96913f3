import collections
import itertools

from aiohttp import web

CLICKS = collections.defaultdict(int)
LINKS: dict[str, str] = {}
_codes = itertools.count(1)


async def shorten(request: web.Request) -> web.Response:
    data = await request.json()
    code = format(next(_codes), "x")  # expect: SL114
    LINKS[code] = data["url"]  # expect: SL102
    return web.json_response({"code": code})


async def follow(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if code not in LINKS:
        raise web.HTTPNotFound()
    CLICKS[code] += 1  # expect: SL103
    raise web.HTTPFound(LINKS[code])


async def stats(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    clicks = CLICKS[code] if code in CLICKS else 0  # trap: guarded read inserts nothing
    return web.json_response({"clicks": clicks})


app = web.Application()
app.add_routes([web.post("/links", shorten), web.get("/{code}", follow),
                web.get("/{code}/stats", stats)])
