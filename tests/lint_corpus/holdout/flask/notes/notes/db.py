import sqlite3

from flask import current_app, g


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])  # trap: Flask g is per request
        g.db.row_factory = sqlite3.Row  # trap: attribute of a per-request connection
    return g.db


def close_db(e=None):
    db = g.pop("db", None)  # trap: g again
    if db is not None:
        db.close()


def init_app(app):
    app.teardown_appcontext(close_db)
