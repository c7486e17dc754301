"""A real OpenID provider for the tests: node's certified `oidc-provider` (tests/oidc_provider/).

Two set-ups, as hosters' providers differ:
- "rs256": RS256 signatures, the person's claims in the ID token, issuer at the host's root;
- "es256": ES256 signatures (as Kanidm), claims only from userinfo, an issuer with a path
  (as Keycloak's /realms/<name>), PKCE required.
Each start makes a new signing key: `restart()` is a key rotation at the provider.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ldap_server

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "chatons-panel"
CLIENT_SECRET = "panel-client-secret-for-the-tests-only"


def node_available() -> bool:
    return shutil.which("node") is not None and (PROVIDER_DIR / "node_modules").is_dir()


@dataclass
class SetUp:
    name: str
    alg: str
    claims_in_id_token: bool
    issuer_path: str
    pkce_required: bool


SET_UPS = {
    "rs256": SetUp("rs256", "RS256", True, "", False),
    "es256": SetUp("es256", "ES256", False, "/realms/chatons", True),
}


@dataclass
class Provider:
    setup: SetUp
    workdir: Path
    port: int = field(default_factory=ldap_server.free_port)
    panel_url: str = ""
    process: subprocess.Popen[bytes] | None = None
    # People the provider knows: the test directory's (same password) and one stranger.
    users: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.origin + self.setup.issuer_path

    def panel_settings(self) -> dict[str, Any]:
        secret = self.workdir / "client.secret"
        secret.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET_FILE": str(secret),
            "OIDC_PROVIDER_NAME": "Test SSO",
            "OIDC_TIMEOUT": 3,
        }

    def start(self, panel_url: str) -> None:
        self.panel_url = panel_url
        if not self.users:
            for login in ("alice", "staffnames", "bob", "stranger"):
                self.users[login] = {
                    "password": ldap_server.PASSWORD,
                    "sub": f"opaque-{login}-4f1c",
                    "name": login.title(),
                    "email": f"{login}@example.org",
                }
        settings = {
            "port": self.port,
            "issuer": self.issuer,
            "alg": self.setup.alg,
            "claimsInIdToken": self.setup.claims_in_id_token,
            "pkceRequired": self.setup.pkce_required,
            "users": self.users,
            "client": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{panel_url}/login/oidc/callback"],
                "post_logout_redirect_uris": [f"{panel_url}/"],
                "backchannel_logout_uri": f"{panel_url}/login/oidc/backchannel-logout",
                "backchannel_logout_session_required": True,
                "id_token_signed_response_alg": self.setup.alg,
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        }
        path = self.workdir / "provider.json"
        path.write_text(json.dumps(settings), encoding="utf-8")
        log = (self.workdir / "provider.log").open("ab")
        self.process = subprocess.Popen(
            ["node", str(PROVIDER_DIR / "provider.js"), str(path)],
            cwd=PROVIDER_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        while True:
            try:
                with urllib.request.urlopen(discovery, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "oidc-provider did not start:\n"
                    + (self.workdir / "provider.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """A new process with a new signing key: a key rotation, same issuer and client."""
        self.stop()
        self.start(self.panel_url)

    def mischief(self, mode: str) -> None:
        """Make the token endpoint hand out a bad ID token ('' = behave again)."""
        url = f"{self.origin}/_test/mischief?mode={mode}"
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
