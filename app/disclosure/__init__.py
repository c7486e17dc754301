"""Public disclosures rendered from hoster.toml: hosting, services, charter, ChatonsInfos, JSON;
the federation's files, their checker, and the closing plan."""

from flask import Blueprint

bp = Blueprint("hosting", __name__)

SETTINGS = {
    # The CHATONS federation file (chatons.properties): http(s) address or a local path.
    "FEDERATION_URL": None,
    # Where the CLI keeps what it read of the federation (default: instance/federation.json).
    "FEDERATION_CACHE_FILE": None,
}
