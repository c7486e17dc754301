"""What every page's templates share, made cheap: translated strings and the layout's fixed parts.

Two costs dominate the rendering of a page once its data is loaded (issue 22):

- each `{{ _("…") }}` asked flask_babel for the domain, the locale and the catalogue, then
  built a `Markup` and %-formatted it, even for a string without variables (about 50 a
  page). The catalogue's own methods are bound once per catalogue, and a string without
  variables is translated, escaped and formatted once per catalogue and autoescape mode:
  the same `Markup` comes out, the same `%%` → `%`, as Jinja's i18n extension gives;
- the menu, the footer, the stylesheets' links and the account page's list of areas are
  the same on every page for one language and mount prefix (the menu also for one place
  and kind of person). `{% call fragment("name", …) %}…{% endcall %}` renders such a part
  once per key and keeps it; the key always holds the language and the mount prefix, and
  whatever else the part reads must be passed in it.

And each `{% import %}` / `{% from … import %}` (four on the account page) compared the
page's globals with the macro file's through a `ChainMap`, key by key in Python (about
30 µs each): `PanelTemplate` makes the same comparison with C-level set operations.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale, get_translations
from jinja2 import Template, pass_eval_context
from jinja2.ext import _make_new_ngettext
from jinja2.nodes import EvalContext
from markupsafe import Markup

FRAGMENTS = "panel_fragments"
# A catalogue has about 1,500 messages; a string built at run time (`_(variable)`) must
# not make the memo grow without end.
_MEMO_MAX = 4096
_BOUND_MAX = 16


class FragmentCache:
    """A small per-process LRU of rendered parts of pages (the layout's here, the incident
    journal's in app/incidents): keys say everything the part depends on, so entries are
    never invalidated, old keys just stop being asked for and fall out."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _template_text(eval_ctx: EvalContext, translated: str) -> str:
    if not eval_ctx.autoescape:
        return translated
    return Markup(translated)  # nosec B704 # noqa: S704 - the catalogue's markup, as Jinja's i18n


def _new_gettext(ugettext: Callable[[str], str]) -> Callable[..., str]:
    memo: dict[tuple[bool, str], str] = {}

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
        # Jinja's own (jinja2.ext._make_new_gettext), with the result of a string without
        # variables remembered: it depends only on the catalogue and the autoescape mode.
        if not variables:
            key = (eval_ctx.autoescape, string)
            found = memo.get(key)
            if found is None:
                found = _template_text(eval_ctx, ugettext(string)) % {}
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[key] = found
            return found
        return _template_text(eval_ctx, ugettext(string)) % variables

    return gettext


class BoundTranslations:
    """Per catalogue, the `gettext`, `_` and `ngettext` the templates call."""

    def __init__(self) -> None:
        self._bound: dict[int, dict[str, Any]] = {}

    def current(self) -> dict[str, Any]:
        # Looked up at each rendering, not once per request, so that a mail rendered under
        # `force_locale` still gets the recipient's language.
        translations = get_translations()
        found = self._bound.get(id(translations))
        if found is None or found["catalogue"] is not translations:
            gettext = _new_gettext(translations.ugettext)
            found = {
                "catalogue": translations,
                "gettext": gettext,
                "_": gettext,
                "ngettext": _make_new_ngettext(translations.ungettext),
            }
            if len(self._bound) >= _BOUND_MAX:  # one per language; never grow with odd ones
                self._bound.clear()
            self._bound[id(translations)] = found
        return found


def fragment(name: str, *key: Hashable, caller: Callable[[], Markup]) -> Markup:
    """The part of the layout inside `{% call fragment(name, …) %}`, rendered once per key.

    What `caller()` gives back is already escaped (Markup): the templates autoescape.
    """
    if not has_request_context():
        return caller()
    cache: FragmentCache = current_app.extensions[FRAGMENTS]
    full = (name, str(get_locale()), request.script_root, *key)
    found = cache.get(full)
    if found is None:
        found = caller()
        cache.put(full, found)
    return found


class PanelTemplate(Template):
    """Jinja's template, with a cheaper check of what an imported macro file must see."""

    def _get_default_module(self, ctx: Any = None) -> Any:
        # Jinja 3.1 computes `ctx.globals_keys - self.globals.keys()` (the page's globals
        # that the imported file lacks: then it renders a module of its own for this page)
        # over a ChainMap of dicts; set.difference over the same dicts gives the same keys.
        maps = getattr(self.globals, "maps", None)
        if ctx is not None and maps is not None and all(type(m) is dict for m in maps):
            if ctx.globals_keys.difference(*maps):
                return super()._get_default_module(ctx)
            return super()._get_default_module(None)
        return super()._get_default_module(ctx)


def init_app(app: Flask) -> None:
    app.jinja_env.template_class = PanelTemplate
    app.extensions[FRAGMENTS] = FragmentCache(max_entries=1024)
    app.jinja_env.globals["fragment"] = fragment
