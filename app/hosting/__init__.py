"""Public disclosures rendered from hoster.toml: hosting, services, charter, ChatonsInfos, JSON."""

from flask import Blueprint, Flask

bp = Blueprint("hosting", __name__)

from app.hosting import views  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
