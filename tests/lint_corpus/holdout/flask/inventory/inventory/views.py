import os

from flask import Blueprint, jsonify, request, send_from_directory
from flask.views import MethodView

from .catalog import sorted_categories

bp = Blueprint("inventory", __name__)
PHOTO_DIR = os.environ.get("PHOTO_DIR", "/srv/photos")


class StockAPI(MethodView):
    history: list[dict] = []

    def get(self, sku):
        return jsonify({"sku": sku, "recent": self.history[-5:]})

    def post(self, sku):
        change = {"sku": sku, "delta": int(request.form["delta"])}
        self.history.append(change)  # expect: SL105
        return jsonify(change), 201


class PhotoAPI(MethodView):
    def put(self, sku):
        request.files["photo"].save(os.path.join(PHOTO_DIR, f"{sku}.jpg"))  # expect: SL111
        return "", 204

    def get(self, sku):
        return send_from_directory(PHOTO_DIR, f"{sku}.jpg")


@bp.teardown_request
def forget(exc):
    StockAPI.history[:] = StockAPI.history[-100:]  # expect: SL105


@bp.get("/categories")
def categories():
    return jsonify(sorted_categories(request.args.getlist("extra")))


bp.add_url_rule("/stock/<sku>", view_func=StockAPI.as_view("stock"))
bp.add_url_rule("/photos/<sku>", view_func=PhotoAPI.as_view("photos"))
