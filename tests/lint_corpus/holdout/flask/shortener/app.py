"""A URL shortener in one file, with its own login."""

import copy
import itertools
import random
import secrets
import string
from collections import Counter

from flask import Flask, abort, jsonify, redirect, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

app = Flask(__name__)
limiter = Limiter(get_remote_address, app=app, storage_uri="redis://redis:6379/2")  # trap: limits kept in Redis
random.seed(1234)  # trap: module top level, at import

ALPHABET = string.ascii_letters + string.digits  # trap: constant
RESERVED = frozenset({"admin", "login", "stats"})  # trap: frozenset
DEFAULT_LINKS = [("docs", "https://docs.example.com")]
TEMPLATE = {"clicks": 0, "tags": []}

URLS: dict[str, str] = dict(DEFAULT_LINKS)
HITS = Counter()
LEADERBOARD: list[tuple[str, int]] = []
SESSIONS: dict[str, dict] = {}
_codes = itertools.count(1)


def base62(n: int) -> str:
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(ALPHABET[r])  # trap: local list
    return "".join(reversed(out)) or "0"


def current_user():
    token = request.cookies.get("token", "")
    return SESSIONS.get(token)


@app.post("/login")
def login():
    token = secrets.token_urlsafe(24)
    SESSIONS[token] = {"user": request.form["user"]}  # expect: SL110
    resp = jsonify({"ok": True})
    resp.set_cookie("token", token, httponly=True)  # trap: a response header
    return resp


@app.post("/logout")
def logout():
    SESSIONS.pop(request.cookies.get("token", ""), None)  # expect: SL110
    return jsonify({"ok": True})


@app.post("/shorten")
@limiter.limit("10/minute")
def shorten():
    if current_user() is None:
        abort(401)
    code = base62(next(_codes))  # expect: SL114
    if code in RESERVED:
        abort(409)
    URLS[code] = request.json["url"]  # expect: SL102
    record = copy.deepcopy(TEMPLATE)  # trap: a deep copy is request-local
    record["tags"].append("new")  # trap: mutates the copy
    return jsonify({"code": code, **record}), 201


def follow(code):
    if code not in URLS:
        abort(404)
    HITS.update([code])  # expect: SL102
    return redirect(URLS[code])


app.add_url_rule("/s/<code>", view_func=follow)  # trap: route registration


@app.get("/stats")
def stats():
    LEADERBOARD.clear()  # expect: SL102
    LEADERBOARD.extend(HITS.most_common(10))  # expect: SL102
    LEADERBOARD.sort(key=lambda kv: (-kv[1], kv[0]))  # expect: SL102
    rows = list(DEFAULT_LINKS)  # trap: a local copy of a global
    rows.append(("total", len(URLS)))  # trap: appends to the copy
    return jsonify({"top": LEADERBOARD, "links": rows})


@app.after_request
def no_cache(response):
    response.headers["Cache-Control"] = "no-store"  # trap: per-response object
    return response


if __name__ == "__main__":
    URLS["local"] = "http://localhost"  # trap: only when run as a script
    app.run(debug=True)
