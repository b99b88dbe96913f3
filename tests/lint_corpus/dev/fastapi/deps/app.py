from contextvars import ContextVar

from fastapi import Depends, FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware

request_id: ContextVar[str] = ContextVar("request_id", default="")
TOKENS: dict[str, dict] = {}
app = FastAPI()


def current_user(token: str = "") -> dict:
    user = TOKENS.get(token)
    if user is None:
        user = {"name": token}
        TOKENS[token] = user  # expect: SL102
    return user


class QuotaChecker:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: dict[str, int] = {}

    def __call__(self, request: Request) -> None:
        key = request.headers.get("x-key", "")
        self.seen[key] = self.seen.get(key, 0) + 1  # expect: SL109,SL105


check_quota = QuotaChecker(limit=100)


class TimingMiddleware(BaseHTTPMiddleware):
    served = 0

    async def dispatch(self, request, call_next):
        self.last_path = request.url.path  # expect: SL105
        request.state.started = 1  # trap: request.state is per request
        request_id.set(request.headers.get("x-request-id", ""))  # trap: ContextVar
        return await call_next(request)


app.add_middleware(TimingMiddleware)


@app.get("/me", dependencies=[Depends(check_quota)])
def me(user: dict = Depends(current_user), request: Request = None) -> dict:
    request.app.state.last_user = user["name"]  # expect: SL116
    return user
