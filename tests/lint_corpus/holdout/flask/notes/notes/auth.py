import time
from collections import defaultdict

from flask import Blueprint, flash, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash

from .db import get_db

bp = Blueprint("auth", __name__, url_prefix="/auth")

_last_seen: dict[int, float] = {}
_login_failures = defaultdict(int)


@bp.before_app_request
def load_logged_in_user():
    user_id = session.get("user_id")
    if user_id is None:
        g.user = None  # trap: Flask g
        return
    g.user = get_db().execute("SELECT * FROM user WHERE id = ?", (user_id,)).fetchone()  # trap: Flask g
    _last_seen[user_id] = time.time()  # expect: SL102


@bp.route("/login", methods=("GET", "POST"))
def login():
    username = request.form["username"]
    user = get_db().execute("SELECT * FROM user WHERE username = ?", (username,)).fetchone()
    if user is None or not check_password_hash(user["password"], request.form["password"]):
        _login_failures[username] += 1  # expect: SL103
        flash("Incorrect username or password.")
        return redirect(url_for("auth.login"))
    session.clear()  # trap: the session store is configured (and reported) in the factory
    session["user_id"] = user["id"]  # trap: same
    return redirect(url_for("index"))


@bp.route("/online")
def online():
    cutoff = time.time() - 300
    return {"online": [uid for uid, t in _last_seen.items() if t > cutoff]}
