import time
from collections import defaultdict
from functools import lru_cache

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask.views import MethodView

from .db import get_db

bp = Blueprint("notes", __name__)

TAG_INDEX = defaultdict(set)
_not_found = 0
_next_note_id = 1


@lru_cache(maxsize=256)  # trap: pure text function
def slugify(title: str) -> str:
    return "-".join(title.lower().split())


def index():
    rows = get_db().execute("SELECT id, title FROM note ORDER BY id DESC").fetchall()
    return jsonify([dict(r) for r in rows])


@bp.route("/notes", methods=["POST"])
def create_note():
    global _next_note_id
    note_id = _next_note_id
    _next_note_id += 1  # expect: SL114
    data = request.get_json()
    row = (note_id, data["title"], data["body"])
    get_db().execute("INSERT INTO note (id, title, body) VALUES (?, ?, ?)", row)  # trap: SQL write
    get_db().commit()
    for tag in data.get("tags", []):
        TAG_INDEX[tag].add(note_id)  # expect: SL103
    return jsonify({"id": note_id, "slug": slugify(data["title"])}), 201


@bp.route("/tags/<tag>")
def by_tag(tag):
    return jsonify(sorted(TAG_INDEX.get(tag, ())))  # trap: .get on a defaultdict inserts nothing


@bp.route("/export", methods=["POST"])
def export():
    current_app.config["LAST_EXPORT"] = time.time()  # expect: SL116
    return jsonify({"ok": True})


@bp.app_errorhandler(404)
def not_found(error):
    global _not_found
    _not_found += 1  # expect: SL101
    return jsonify({"error": "not found"}), 404


class NoteAPI(MethodView):
    init_every_request = True  # trap: class-based view attribute
    decorators = []  # trap: read by Flask at registration

    def get(self, note_id):
        self.note = get_db().execute("SELECT * FROM note WHERE id = ?", (note_id,)).fetchone()  # trap: a new view instance per request
        if self.note is None:
            abort(404)
        return jsonify(dict(self.note) | {"viewer": g.user["id"] if g.user else None})


bp.add_url_rule("/notes/<int:note_id>", view_func=NoteAPI.as_view("note"))
