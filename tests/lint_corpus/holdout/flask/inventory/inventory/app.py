import tempfile
import threading

import requests
from cachetools import TTLCache, cached
from flask import Flask, current_app, g, jsonify, request, send_file, session

from . import catalog, jobs
from .views import bp as views_bp

SUPPLIER_API = "https://supplier.example/api"
_prices = TTLCache(maxsize=1000, ttl=300)
_import_lock = threading.Lock()
_imported_batches: set[str] = set()


@cached(cache=TTLCache(maxsize=100, ttl=60))  # expect: SL107
def supplier_stock(sku: str) -> int:
    return requests.get(f"{SUPPLIER_API}/stock/{sku}", timeout=3).json()["qty"]


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "dev"  # trap: factory, start-up
    app.config["PAGE_SIZE"] = 50  # trap: factory, start-up
    app.register_blueprint(views_bp, url_prefix="/v1")
    catalog.load_defaults()  # trap: start-up fills the tables

    @app.get("/price/<sku>")
    def price(sku):
        if sku not in _prices:
            _prices[sku] = catalog.lookup_price(sku)  # expect: SL102
        session["last_sku"] = sku  # trap: Flask's default session is a signed cookie
        g.sku = sku  # trap: Flask g
        return jsonify({"sku": sku, "price": _prices[sku], "stock": supplier_stock(sku)})

    @app.post("/settings/page-size")
    def set_page_size():
        current_app.config.update(PAGE_SIZE=int(request.form["size"]))  # expect: SL116
        return jsonify({"ok": True})

    @app.post("/imports/<batch>")
    def run_import(batch):
        with _import_lock:  # expect: SL118
            if batch in _imported_batches:
                return jsonify({"status": "duplicate"}), 409
            _imported_batches.add(batch)  # expect: SL102
            jobs.start_import(batch)
        return jsonify({"status": "started"}), 202

    @app.get("/imports")
    def imports():
        return jsonify({"done": jobs.DONE, "log": jobs.LOG[-20:]})

    @app.post("/labels")
    def labels():
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(request.data)  # trap: a temp file written and read within one request
            tmp.flush()
            return send_file(tmp.name, mimetype="application/pdf")

    return app
