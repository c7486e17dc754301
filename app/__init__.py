"""chatons-panel: the self-service web panel of a CHATON's hosted users."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

import config as panel_config
from app import (
    audit,
    dates,
    doctor,
    errors,
    health,
    mail,
    pagecache,
    security,
    sessions,
    tasks,
    templating,
    text,
    theme,
    units,
)
from app import cli as panel_cli
from app import db as panel_db
from app.accounts import feature as accounts_feature
from app.accounts import services as account_services
from app.accounts import sso
from app.accounts.models import Account
from app.deletion import feature as deletion_feature
from app.directory import Directory, DirectoryMisconfigured, DirectorySettings
from app.directory import cli as directory_cli
from app.directory.demo import DEMO_PASSWORD, DEMO_PEOPLE_ROWS, demo_directory
from app.disclosure import feature as disclosure_feature
from app.export import feature as export_feature
from app.extensions import babel, csrf, limiter, login_manager
from app.extensions import directory as current_directory
from app.features import Feature, install
from app.incidents import feature as incidents_feature
from app.legal import feature as legal_feature
from app.moving import feature as moving_feature
from app.oidc import feature as oidc_feature
from app.profile import loading as profile_loading
from app.sessions import feature as sessions_feature
from app.sessions import services as session_services
from app.staff import feature as staff_feature
from app.support import feature as support_feature
from app.transparency import feature as transparency_feature
from app.urls import PanelFlask, trusted_hosts

ROOT = Path(__file__).resolve().parent.parent
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
log = logging.getLogger(__name__)

# Every feature of the panel, installed in this order (app/features.py says how). The order
# is the order of the staff home's lines, of the account page's notices, of the figures on
# /stats and of the panel's sections in the export: the account and activity (export) lead.
FEATURES: tuple[Feature, ...] = (
    sessions_feature.FEATURE,
    accounts_feature.FEATURE,
    staff_feature.FEATURE,
    Feature(name="health", blueprints=(health.bp,)),
    Feature(name="theme", blueprints=(theme.bp,)),
    oidc_feature.FEATURE,
    export_feature.FEATURE,
    legal_feature.FEATURE,
    disclosure_feature.FEATURE,
    transparency_feature.FEATURE,
    incidents_feature.FEATURE,
    support_feature.FEATURE,
    deletion_feature.FEATURE,
    incidents_feature.JOURNAL_FIGURES,
    moving_feature.FEATURE,
    staff_feature.MAIL_FEATURE,
    Feature(
        name="commands",
        commands=(
            panel_cli.db_group,
            panel_cli.hoster_group,
            doctor.doctor,
            directory_cli.directory_group,
        ),
    ),
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the panel: defaults, then PANEL_* environment, then the `config` argument."""
    app = PanelFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(panel_config.defaults())
    app.config.from_prefixed_env("PANEL")
    if config:
        app.config.update(config)
    panel_config.validate(app.config, app.instance_path)
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    if not app.config.get("DATABASE_URL"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'panel.sqlite3'}"
    if not HEX_COLOUR.match(str(app.config["HOSTER_ACCENT_COLOUR"])):
        raise panel_config.ConfigError("PANEL_HOSTER_ACCENT_COLOUR must be a colour like #1f5f8b.")
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)

    panel_db.init_app(app)
    profile_loading.init_app(app)
    tasks.init_app(app)
    _init_directory(app)
    _init_extensions(app)
    dates.init_app(app)
    templating.init_app(app)
    for feature in FEATURES:
        install(app, feature)
    _register_hooks(app)
    errors.register(app)
    security.init_app(app)
    mail.init_app(app)
    pagecache.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )
    return app


def _init_directory(app: Flask) -> None:
    if app.config.get("LDAP_URL"):
        try:
            found = Directory(DirectorySettings.from_config(app.config))
        except DirectoryMisconfigured as exc:
            # TLS settings that can never work stop the start, in one sentence.
            raise panel_config.ConfigError(str(exc)) from None
        app.extensions["panel_directory"] = found
        app.extensions["panel_demo_people"] = None
        return
    app.extensions["panel_directory"] = demo_directory()
    app.extensions["panel_demo_people"] = [
        (uid, name, staff, DEMO_PASSWORD) for uid, name, _m, _l, staff in DEMO_PEOPLE_ROWS
    ]


def _init_extensions(app: Flask) -> None:
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_account(account_id: str) -> Any:
        # While the database is failing, render error pages as anonymous instead of looping.
        if not account_id.isdigit() or g.get("panel_degraded"):
            return None
        return panel_db.get_session().get(Account, int(account_id))


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # The worker and the CLI: messages they store (step outcomes) are for staff.
        return str(languages[0])
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if (
        not g.get("panel_degraded")
        and current_user
        and current_user.is_authenticated
        and current_user.preferred_language
    ):
        primary = current_user.preferred_language.split("-")[0].split("_")[0].lower()
        if primary in languages:
            return str(primary)
    return request.accept_languages.best_match(languages) or languages[0]


def _register_hooks(app: Flask) -> None:
    sso.init_app(app)

    @app.before_request
    def recheck_directory() -> Response | None:
        """Re-read the person from the directory every few minutes; gone means signed out."""
        if security.is_public_request() or not current_user.is_authenticated:
            return None
        account = current_user._get_current_object()
        if not account_services.recheck_due(account, app.config["DIRECTORY_RECHECK_SECONDS"]):
            return None
        db = panel_db.get_session()
        was_staff = account.is_staff
        still_there = account_services.recheck_account(db, current_directory(), account)
        if not still_there or (was_staff and not account.is_staff):
            # Every copy of every session of this person ends now, on every instance.
            session_services.end_sessions_on_access_change(
                db,
                sessions.session_store(),
                account,
                reason="not in directory" if not still_there else "staff rights removed",
            )
        if not still_there:
            logout_user()
            security.rotate_session()
            flash(
                _("Your account is no longer active in the directory. You have been signed out."),
                "error",
            )
            return redirect(url_for("accounts.login"))  # type: ignore[return-value]
        if was_staff and not account.is_staff:
            logout_user()
            security.rotate_session()
            flash(_("Your staff rights were removed. Sign in again."), "error")
            return redirect(url_for("accounts.login"))  # type: ignore[return-value]
        return None

    app.before_request_funcs.setdefault(None, []).append(security.login_guard)

    bound = templating.BoundTranslations()

    @app.context_processor
    def layout_context() -> dict[str, Any]:
        translated = bound.current()
        return {
            "gettext": translated["gettext"],
            "_": translated["_"],
            "ngettext": translated["ngettext"],
            "hoster_name": app.config["HOSTER_NAME"],
            "hoster_logo": app.config["HOSTER_LOGO"],
            "has_endpoint": lambda name: name in app.view_functions,
            "current_language": str(get_locale() or "fr"),
            "languages": app.config["LANGUAGES"],
            "is_demo": app.extensions.get("panel_demo_people") is not None,
            "describe_event": audit.describe,
            "current_path": security.here,
        }

    app.jinja_env.filters["sentence"] = text.sentence
    app.jinja_env.filters["byte_size"] = units.byte_size

    @app.template_filter("html_datetime")
    def html_datetime(value: date) -> str:
        """A `<time datetime>` value in whole seconds: HTML allows at most 3 decimals."""
        if isinstance(value, datetime):
            return value.replace(microsecond=0).isoformat()
        return value.isoformat()
