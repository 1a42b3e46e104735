"""A real OAuth 2 / OpenID Connect provider on 127.0.0.1, for tests.

It speaks the wire formats our code meets in production:

* OIDC (Google-like): `/.well-known/openid-configuration`, `/authorize`, `/token`, `/userinfo`.
* GitHub-like: `/login/oauth/authorize`, `/login/oauth/access_token`, `/api/user`, `/api/user/emails`.

The provider behaves as if the user had already signed in and consented: `/authorize` redirects straight back
to the client with a code. `/token` checks everything a strict provider checks (client credentials sent with
client_secret_basic or client_secret_post, the code is known, unused and unexpired, the redirect_uri matches
and the PKCE `code_verifier` hashes to the S256 `code_challenge`) and answers with a proper OAuth error
otherwise. The identity it hands out is configurable per test, and every request is recorded so tests can
assert what the client sent.

ID tokens are real RS256 JWTs signed with a key generated when the provider is created and published at
`/jwks` (the discovery document's `jwks_uri`). `id_token_mode` makes the next ID tokens wrong on purpose:
"wrong_nonce", "wrong_aud", "expired", "bad_signature" (signed with another key) or "missing".

Runs `http.server.ThreadingHTTPServer` in a daemon thread on an ephemeral port (`cryptography` signs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CODE_TTL_SECONDS = 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()

    def enc(n: int) -> str:
        return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": enc(numbers.n), "e": enc(numbers.e)}


def s256(verifier: str) -> str:
    """The PKCE S256 transform (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class OidcIdentity:
    sub: str = "google-subject-1"
    email: str = "person@example.com"
    email_verified: bool = True
    name: str = "Pat Example"


@dataclass
class GitHubIdentity:
    id: int = 1001
    login: str = "octo"
    name: str | None = "Octo Cat"
    email: str | None = None  # the public profile email; often null on GitHub
    emails: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"email": "octo@example.com", "primary": True, "verified": True, "visibility": "private"}
        ]
    )


@dataclass
class _Grant:
    kind: str  # "oidc" | "github"
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    scope: str
    identity: OidcIdentity | GitHubIdentity
    issued_at: float
    used: bool = False


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class FakeOAuthProvider:
    """Start with `start()` (or use as a context manager); `url` is the base URL."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        github_client_id: str = "fake-github-client-id",
        github_client_secret: str = "fake-github-client-secret",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.github_client_id = github_client_id
        self.github_client_secret = github_client_secret
        self.identity = OidcIdentity()
        self.github = GitHubIdentity()
        # What the provider saw, for assertions. Each entry is a plain dict.
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.userinfo_requests: list[dict[str, str]] = []
        # Force the next token request to fail with this (status, error, description).
        self.token_failure: tuple[int, str, str] | None = None
        # "" (correct ID tokens) or one of: wrong_nonce, wrong_aud, expired, bad_signature, missing.
        self.id_token_mode = ""
        self.signing_key = _new_key()
        self.kid = secrets.token_hex(8)
        self.id_tokens: list[str] = []  # every ID token issued, for assertions
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle ------------------------------------------------------------------------------------------

    def start(self) -> FakeOAuthProvider:
        provider = self

        class Handler(_Handler):
            fake = provider

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-oauth", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOAuthProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake OAuth provider is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # Configuration helpers for tests ----------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    @property
    def last_authorize(self) -> dict[str, str]:
        if not self.authorize_requests:
            raise AssertionError("the provider saw no authorization request")
        return self.authorize_requests[-1]

    @property
    def last_token_request(self) -> dict[str, Any]:
        if not self.token_requests:
            raise AssertionError("the provider saw no token request")
        return self.token_requests[-1]

    def metadata(self) -> dict[str, Any]:
        base = self.url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    # Protocol logic (called from the handler threads) ----------------------------------------------------

    def _authorize(self, kind: str, query: dict[str, str]) -> str:
        """Record the request, issue a code, return the Location to redirect to."""
        with self._lock:
            self.authorize_requests.append({"endpoint": kind, **query})
        expected_client = self.client_id if kind == "oidc" else self.github_client_id
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            raise OAuthError(400, "invalid_request", "redirect_uri is missing or not absolute.")
        if query.get("client_id") != expected_client:
            raise OAuthError(400, "unauthorized_client", "Unknown client_id.")
        if kind == "oidc" and query.get("response_type") != "code":
            raise OAuthError(400, "unsupported_response_type", "Only response_type=code is supported.")
        if kind == "oidc" and "openid" not in query.get("scope", "").split():
            raise OAuthError(400, "invalid_scope", "The openid scope is required.")
        method = query.get("code_challenge_method")
        if query.get("code_challenge") and method not in (None, "plain", "S256"):
            raise OAuthError(400, "invalid_request", "Unsupported code_challenge_method.")
        code = secrets.token_urlsafe(24)
        identity: OidcIdentity | GitHubIdentity
        if kind == "oidc":
            identity = OidcIdentity(**vars(self.identity))
        else:
            identity = GitHubIdentity(
                **{**vars(self.github), "emails": [dict(e) for e in self.github.emails]}
            )
        with self._lock:
            self._grants[code] = _Grant(
                kind=kind,
                client_id=query["client_id"],
                redirect_uri=redirect_uri,
                code_challenge=query.get("code_challenge"),
                code_challenge_method=method or ("plain" if query.get("code_challenge") else None),
                nonce=query.get("nonce"),
                scope=query.get("scope", ""),
                identity=identity,
                issued_at=time.time(),
            )
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        parts = urlsplit(redirect_uri)
        joined = "&".join(p for p in (parts.query, urlencode(params)) if p)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))

    def _token(self, kind: str, headers: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "endpoint": kind,
            "form": dict(form),
            "auth_method": None,
            "pkce_verified": False,
        }
        with self._lock:
            self.token_requests.append(record)
        client_id, client_secret, method = self._client_credentials(headers, form)
        record["auth_method"] = method
        if self.token_failure is not None:
            status, error, description = self.token_failure
            self.token_failure = None
            raise OAuthError(status, error, description)
        expected = (
            (self.client_id, self.client_secret)
            if kind == "oidc"
            else (self.github_client_id, self.github_client_secret)
        )
        if method is None:
            raise OAuthError(401, "invalid_client", "Client authentication is required.")
        if (client_id, client_secret) != expected:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        if form.get("grant_type", "authorization_code") != "authorization_code":
            raise OAuthError(400, "unsupported_grant_type", "Only authorization_code is supported.")
        code = form.get("code", "")
        with self._lock:
            grant = self._grants.get(code)
            replayed = grant is not None and grant.used
            if grant is not None and replayed:
                # A replayed code: a strict provider refuses it and revokes what it issued for it.
                for token, issued in list(self._tokens.items()):
                    if issued is grant:
                        del self._tokens[token]
            elif grant is not None:
                grant.used = True
        if grant is None or grant.kind != kind:
            raise OAuthError(400, "invalid_grant", "The authorization code is unknown.")
        if replayed:
            raise OAuthError(400, "invalid_grant", "The authorization code was already used.")
        if time.time() - grant.issued_at > CODE_TTL_SECONDS:
            raise OAuthError(400, "invalid_grant", "The authorization code has expired.")
        if grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The code was issued to another client.")
        if form.get("redirect_uri", "") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request.")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError(400, "invalid_grant", "code_verifier is required (PKCE).")
            computed = s256(verifier) if grant.code_challenge_method == "S256" else verifier
            if not hmac.compare_digest(computed, grant.code_challenge):
                raise OAuthError(
                    400, "invalid_grant", "PKCE verification failed: code_verifier does not match."
                )
            record["pkce_verified"] = True
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[access_token] = grant
        body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", "scope": grant.scope}
        if kind == "oidc":
            body["expires_in"] = 3600
            if self.id_token_mode != "missing":
                body["id_token"] = self._id_token(grant)
        return body

    def _client_credentials(
        self, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[str | None, str | None, str | None]:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
            except ValueError as exc:
                raise OAuthError(401, "invalid_client", "Malformed Basic credentials.") from exc
            user, _, password = decoded.partition(":")
            return unquote(user), unquote(password), "client_secret_basic"
        if "client_secret" in form:
            return form.get("client_id"), form["client_secret"], "client_secret_post"
        return form.get("client_id"), None, None

    def _id_token(self, grant: _Grant) -> str:
        """An RS256 ID token (OIDC Core 2 and 3.1.3.6), wrong on purpose when `id_token_mode` says so."""
        assert isinstance(grant.identity, OidcIdentity)
        mode = self.id_token_mode
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": "someone-else" if mode == "wrong_aud" else grant.client_id,
            "sub": grant.identity.sub,
            "email": grant.identity.email,
            "email_verified": grant.identity.email_verified,
            "name": grant.identity.name,
            "iat": now - 7200 if mode == "expired" else now,
            "exp": now - 3600 if mode == "expired" else now + 3600,
        }
        if grant.nonce:
            claims["nonce"] = "not-the-nonce-you-sent" if mode == "wrong_nonce" else grant.nonce
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64url(json.dumps(claims).encode())
        key = _new_key() if mode == "bad_signature" else self.signing_key
        signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{header}.{payload}.{_b64url(signature)}"
        with self._lock:
            self.id_tokens.append(token)
        return token

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_jwk(self.signing_key, self.kid)]}

    def _bearer(self, headers: dict[str, str], kind: str) -> _Grant:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            raise OAuthError(401, "invalid_token", "A Bearer token is required.")
        with self._lock:
            grant = self._tokens.get(token.strip())
        if grant is None or grant.kind != kind:
            raise OAuthError(401, "invalid_token", "The access token is invalid.")
        return grant

    def _userinfo(self, headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.userinfo_requests.append(
                {"path": "/userinfo", "authorization": headers.get("authorization", "")}
            )
        identity = self._bearer(headers, "oidc").identity
        assert isinstance(identity, OidcIdentity)
        return {
            "sub": identity.sub,
            "email": identity.email,
            "email_verified": identity.email_verified,
            "name": identity.name,
        }

    def _github_user(self, headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.userinfo_requests.append(
                {"path": "/api/user", "authorization": headers.get("authorization", "")}
            )
        identity = self._bearer(headers, "github").identity
        assert isinstance(identity, GitHubIdentity)
        return {"id": identity.id, "login": identity.login, "name": identity.name, "email": identity.email}

    def _github_emails(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.userinfo_requests.append(
                {"path": "/api/user/emails", "authorization": headers.get("authorization", "")}
            )
        identity = self._bearer(headers, "github").identity
        assert isinstance(identity, GitHubIdentity)
        return [dict(e) for e in identity.emails]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOAuthProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # Plumbing --------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw and ctype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "The token request must be form-encoded.")
        return dict(parse_qsl(raw, keep_blank_values=True))

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _error(self, err: OAuthError) -> None:
        extra = {}
        if err.status == 401 and err.error == "invalid_client":
            extra["WWW-Authenticate"] = 'Basic realm="fake-oauth"'
        elif err.status == 401:
            extra["WWW-Authenticate"] = f'Bearer error="{err.error}", error_description="{err.description}"'
        self._json(err.status, {"error": err.error, "error_description": err.description}, extra)

    # Routes ----------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path == "/.well-known/openid-configuration":
                self._json(200, self.fake.metadata())
            elif path in ("/authorize", "/login/oauth/authorize"):
                kind = "oidc" if path == "/authorize" else "github"
                location = self.fake._authorize(kind, self._query())
                self._send(302, b"", "text/plain", {"Location": location})
            elif path == "/userinfo":
                self._json(200, self.fake._userinfo(self._headers()))
            elif path == "/api/user":
                self._json(200, self.fake._github_user(self._headers()))
            elif path == "/api/user/emails":
                self._json(200, self.fake._github_emails(self._headers()))
            elif path == "/jwks":
                self._json(200, self.fake.jwks())
            else:
                self._json(404, {"error": "not_found", "error_description": f"No route for {path}."})
        except OAuthError as err:
            self._error(err)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path not in ("/token", "/login/oauth/access_token"):
                self._json(404, {"error": "not_found", "error_description": f"No route for {path}."})
                return
            kind = "oidc" if path == "/token" else "github"
            body = self.fake._token(kind, self._headers(), self._form())
        except OAuthError as err:
            if path == "/login/oauth/access_token" and err.status == 400:
                # GitHub answers token errors with 200 and the error in the body.
                if "json" in (self.headers.get("Accept") or ""):
                    self._json(200, {"error": err.error, "error_description": err.description})
                else:
                    data = urlencode({"error": err.error, "error_description": err.description}).encode()
                    self._send(200, data, "application/x-www-form-urlencoded")
                return
            self._error(err)
            return
        if kind == "github" and "json" not in (self.headers.get("Accept") or ""):
            self._send(200, urlencode(body).encode(), "application/x-www-form-urlencoded")
        else:
            self._json(200, body)
