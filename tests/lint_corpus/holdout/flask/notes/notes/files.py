import os

from flask import Blueprint, current_app, request, send_from_directory
from werkzeug.utils import secure_filename

bp = Blueprint("files", __name__)


@bp.post("/")
def upload():
    f = request.files["file"]
    name = secure_filename(f.filename)
    f.save(os.path.join(current_app.config["UPLOAD_FOLDER"], name))  # expect: SL111
    return {"name": name}, 201


@bp.get("/<name>")
def download(name):
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], name)
