"""Notes: a Flask app built by a factory, with blueprints."""

import logging
import os

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_session import Session

from . import auth, cli, db, files, notes

log = logging.getLogger(__name__)  # trap: logger


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(  # trap: configuration in the factory, before serving
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev"),
        DATABASE=os.path.join(app.instance_path, "notes.sqlite"),
        UPLOAD_FOLDER=os.path.join(app.instance_path, "uploads"),
    )
    app.config["SESSION_TYPE"] = "filesystem"  # expect: SL110
    if test_config is not None:
        app.config.update(test_config)  # trap: factory time
    Session(app)
    Limiter(get_remote_address, app=app, default_limits=["200 per day"])  # expect: SL109
    db.init_app(app)
    app.register_blueprint(auth.bp)  # trap: blueprint registration
    app.register_blueprint(notes.bp)
    app.register_blueprint(files.bp, url_prefix="/files")
    app.add_url_rule("/", endpoint="index", view_func=notes.index)
    app.cli.add_command(cli.seed_command)
    log.info("app created")
    return app
