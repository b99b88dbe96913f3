import os

from flask import Flask, current_app, jsonify, request, send_from_directory


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["UPLOAD_FOLDER"] = "/srv/uploads"
    cache: dict[str, str] = {}
    warmed = {"done": False}
    warmed["done"] = True  # trap: the factory runs once at start-up

    @app.route("/lookup/<key>")
    def lookup(key):
        if key not in cache:
            cache[key] = key.upper()  # expect: SL102
        return jsonify(value=cache[key])

    @app.route("/files", methods=["POST"])
    def upload():
        f = request.files["file"]
        f.save(os.path.join(current_app.config["UPLOAD_FOLDER"], f.filename))  # expect: SL111
        return jsonify(ok=True)

    @app.route("/files/<name>")
    def download(name):
        return send_from_directory(current_app.config["UPLOAD_FOLDER"], name)

    @app.route("/sum")
    def total():
        seen = []

        def note(x):
            seen.append(x)  # trap: closure of a per-request function

        for v in request.args.getlist("v"):
            note(v)
        return jsonify(n=len(seen))

    return app


if __name__ == "__main__":
    create_app().run()
