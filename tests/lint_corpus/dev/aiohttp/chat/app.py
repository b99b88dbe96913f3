from aiohttp import web

routes = web.RouteTableDef()
PEERS: list[web.WebSocketResponse] = []
NAMES: dict[str, str] = {}


@routes.get("/hits")
async def hits(request: web.Request) -> web.Response:
    request.app["hits"] += 1  # expect: SL116
    return web.json_response({"hits": request.app["hits"]})


@routes.get("/ws")
async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    PEERS.append(ws)  # expect: SL112
    async for msg in ws:
        for peer in PEERS:
            await peer.send_str(msg.data)
    PEERS.remove(ws)  # trap: registry removal
    return ws


class NameView(web.View):
    async def post(self) -> web.Response:
        data = await self.request.post()
        NAMES[data["id"]] = data["name"]  # expect: SL102
        return web.json_response({"ok": True})


@web.middleware
async def audit(request, handler):
    request["seen"] = True  # trap: per-request mapping
    return await handler(request)


async def on_startup(app: web.Application) -> None:
    app["hits"] = 0  # trap: start-up signal
    NAMES["admin"] = "root"  # trap: start-up signal


async def echo(request: web.Request) -> web.Response:
    NAMES.clear()  # expect: SL102
    return web.Response(text="cleared")


def make_app() -> web.Application:
    app = web.Application(middlewares=[audit])
    app.add_routes(routes)
    app.router.add_get("/names", echo)
    app.router.add_view("/name", NameView)
    app.on_startup.append(on_startup)
    return app


if __name__ == "__main__":
    web.run_app(make_app())
