import secrets

from flask import Flask, jsonify, make_response, request

app = Flask(__name__)
USERS_BY_SID: dict[str, str] = {}
PROFILES: dict[str, dict] = {}


@app.route("/login", methods=["POST"])
def login():
    sid = secrets.token_hex(16)
    USERS_BY_SID[sid] = request.form["user"]  # expect: SL110
    resp = make_response(jsonify(ok=True))
    resp.set_cookie("sid", sid)
    return resp


@app.route("/me")
def me():
    user = USERS_BY_SID.get(request.cookies.get("sid", ""))
    return jsonify(user=user)


@app.route("/profile", methods=["POST"])
def profile():
    PROFILES[request.cookies["sid"]] = request.json  # expect: SL110
    return jsonify(ok=True)
