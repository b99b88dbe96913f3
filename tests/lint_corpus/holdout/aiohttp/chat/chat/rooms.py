import itertools

from aiohttp import web

ROOMS: dict[str, list[str]] = {"lobby": []}
_moderators = itertools.cycle(["ana", "bo", "cy"])


class RoomView(web.View):
    async def get(self):
        self.name = self.request.match_info["name"]  # trap: one view instance per request
        return web.json_response({"room": self.name, "members": ROOMS.get(self.name, [])})

    async def post(self):
        name = self.request.match_info["name"]
        user = self.request["user"]
        ROOMS.setdefault(name, []).append(user)  # expect: SL102
        moderator = next(_moderators)  # expect: SL103
        return web.json_response({"room": name, "moderator": moderator})
