import asyncio

import aiohttp

FEED_URL = "https://news.example/api/headlines"
HEADLINES: list[str] = []


async def poll_headlines() -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(FEED_URL) as resp:
                for item in await resp.json():
                    HEADLINES.append(item["title"])  # expect: SL113
            await asyncio.sleep(60)
