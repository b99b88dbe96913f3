from flask import Blueprint, Flask, g, jsonify, request, session
from flask.views import MethodView
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_session import Session

app = Flask(__name__)
app.config["SESSION_TYPE"] = "filesystem"  # expect: SL110
app.config["SECRET_KEY"] = "dev"  # trap: configured at import
Session(app)
limiter = Limiter(get_remote_address, app=app)  # expect: SL109
api = Blueprint("api", __name__)
ERRORS: list[str] = []
request_count = 0
CATALOG = {"1": {"name": "tea"}}  # trap: read-only table
LOGINS: dict[str, str] = {}


@app.before_request
def count_requests():
    global request_count
    request_count += 1  # expect: SL101
    g.started = True  # trap: flask.g is per request


@app.errorhandler(404)
def not_found(err):
    ERRORS.append(request.path)  # expect: SL102
    return jsonify(error="not found"), 404


@api.route("/items/<item_id>")
def item(item_id):
    session["last"] = item_id  # trap: signed-cookie session
    return jsonify(CATALOG.get(item_id, {}))


@api.route("/login", methods=["POST"])
def login():
    LOGINS[request.form["user"]] = request.remote_addr  # expect: SL102
    app.config["LAST_LOGIN"] = request.form["user"]  # expect: SL116
    return jsonify(ok=True)


class Wishlist(MethodView):
    items: list[str] = []
    template = "wishlist.html"

    def get(self):
        self.template = "other.html"  # trap: a new view instance per request
        return jsonify(self.items)

    def post(self):
        Wishlist.items.append(request.json["item"])  # expect: SL105
        return jsonify(ok=True)


def export():
    return jsonify(CATALOG)


app.add_url_rule("/wishlist", view_func=Wishlist.as_view("wishlist"))
app.add_url_rule("/export", "export", export)
app.register_blueprint(api, url_prefix="/api")
