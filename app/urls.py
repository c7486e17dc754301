"""Absolute URLs from BASE_URL only, and the Host check that keeps requests honest.

Links in mail, feeds and ChatonsInfos files are absolute. Built from the request, they
would carry whatever Host header a client sent (`Host: evil.example` → a staff mail
linking to evil.example). Here every absolute URL, inside a request or not, is built on
the configured public address instead; relative links keep the request's prefix as usual.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, Request, has_request_context, request
from flask.globals import request_ctx
from werkzeug.datastructures import ImmutableDict
from werkzeug.routing import BuildError, IntegerConverter, Map, MapAdapter

from app.db import DB_INTEGER_MAX, OneTransactionPerRequest


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` bounded to what an id column can hold; out of range → 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INTEGER_MAX)
        kwargs.setdefault("fixed_digits", 0)
        super().__init__(map, *args, **kwargs)


ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


class PanelMap(Map):
    default_converters = ImmutableDict({**Map.default_converters, "int": DatabaseIdConverter})


class PanelFlask(OneTransactionPerRequest):
    url_map_class = PanelMap

    # A page builds some thirty links to the same places (stylesheets, menu, footer), each
    # through the URL map. The relative ones without arguments (and static files) depend
    # only on the mount prefix: built once per prefix, remembered here.
    _SIMPLE_URLS_MAX = 512
    _simple_urls: dict[tuple[str, str, str | None], str]

    def _simple_url(self, endpoint: str, values: dict[str, Any]) -> str | None:
        """A remembered relative URL for `endpoint` without arguments, or a static file."""
        if values and (endpoint != "static" or len(values) != 1 or "filename" not in values):
            return None
        adapter = request_ctx.url_adapter
        filename = values.get("filename")
        if adapter is None or (filename is not None and not isinstance(filename, str)):
            return None
        key = (adapter.script_name, endpoint, filename)
        cache = self.__dict__.setdefault("_simple_urls", {})
        found = cache.get(key)
        if found is None:
            found = super().url_for(endpoint, **values)
            if len(cache) >= self._SIMPLE_URLS_MAX:
                cache.clear()
            cache[key] = found
        return found

    def base_url_adapter(self) -> MapAdapter:
        base = urlsplit(str(self.config["BASE_URL"]))
        return self.url_map.bind(
            base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme
        )

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is None:
            # CLI, workers, tests: build on the public address, no SERVER_NAME needed.
            return self.base_url_adapter()
        return super().create_url_adapter(request)

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        absolute = _external if _external is not None else _scheme is not None
        # A request for an untrusted Host has no URL adapter; its 400 page still needs links.
        refused_host = has_request_context() and request_ctx.url_adapter is None
        if not (absolute and has_request_context()) and not refused_host:
            if (
                not absolute
                and _scheme is None
                and _anchor is None
                and _method is None
                and endpoint[:1] != "."
                and has_request_context()
            ):
                found = self._simple_url(endpoint, values)
                if found is not None:
                    return found
            return super().url_for(
                endpoint,
                _anchor=_anchor,
                _method=_method,
                _scheme=_scheme,
                _external=_external,
                **values,
            )
        if endpoint[:1] == ".":
            blueprint = request.blueprint
            endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
        self.inject_url_defaults(endpoint, values)
        try:
            built = self.base_url_adapter().build(
                endpoint, values, method=_method, url_scheme=_scheme, force_external=absolute
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=True)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            built = built + "#" + quote(_anchor, safe=ANCHOR_SAFE)
        return built


def base_origin(app: Flask) -> str:
    """scheme://host[:port] of BASE_URL (the prefix is part of every path already)."""
    base = urlsplit(str(app.config["BASE_URL"]))
    return f"{base.scheme}://{base.netloc}"


def trusted_hosts(config: dict[str, Any]) -> list[str] | None:
    """TRUSTED_HOSTS as a list; in production it defaults to BASE_URL's host name."""
    hosts = config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):
        hosts = [h for h in hosts.replace(",", " ").split() if h]
    if hosts:
        return list(hosts)
    if config.get("ENV") == "production":
        return [urlsplit(str(config["BASE_URL"])).hostname or ""]
    return None
