"""Check an OpenID Connect ID token: signature against the provider's JWKS (from discovery `jwks_uri`), then
`iss`, `aud` (our client id), `exp`, `iat` and the `nonce` we sent, with Authlib's OIDC claim rules.

Authlib itself decodes with joserfc (its JOSE library) and validates with `authlib.oidc.core.CodeIDToken`;
we do the same, restricted to asymmetric algorithms so a key set can never be used as an HMAC secret.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import httpx
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

HTTP_TIMEOUT = 10.0
JWKS_TTL = 3600.0
LEEWAY = 60  # seconds of clock skew tolerated on exp / iat
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class IdTokenError(Exception):
    """The ID token is missing, badly signed, or its claims do not match this sign-in attempt."""


_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def _jwks(uri: str, *, force: bool = False) -> dict[str, Any]:
    cached = _jwks_cache.get(uri)
    if cached and not force and time.monotonic() - cached[0] < JWKS_TTL:
        return cached[1]
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(uri)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
    _jwks_cache[uri] = (time.monotonic(), keys)
    return keys


def _algorithms(meta: dict[str, Any]) -> list[str]:
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [alg for alg in offered if alg in ASYMMETRIC] or ["RS256"]


def _decode(id_token: str, keys: dict[str, Any], algorithms: list[str]) -> jwt.Token:
    return jwt.decode(
        id_token,
        key=KeySet.import_key_set(keys),  # type: ignore[arg-type]
        registry=JWSRegistry(algorithms=algorithms, strict_check_header=False),
    )


async def validate_id_token(
    meta: dict[str, Any], *, id_token: str, client_id: str, nonce: str, access_token: str
) -> dict[str, Any]:
    """The verified claims of `id_token`, or IdTokenError. httpx errors (JWKS unreachable) propagate."""
    if not id_token:
        raise IdTokenError("the token response has no id_token")
    if not nonce:
        raise IdTokenError("no nonce was stored for this sign-in attempt")
    issuer, jwks_uri = meta.get("issuer"), meta.get("jwks_uri")
    if not issuer or not jwks_uri:
        raise IdTokenError("the discovery document lacks issuer or jwks_uri")
    algorithms = _algorithms(meta)
    try:
        try:
            token = _decode(id_token, await _jwks(jwks_uri), algorithms)
        except InvalidKeyIdError:  # the provider rotated its keys since we cached them
            token = _decode(id_token, await _jwks(jwks_uri, force=True), algorithms)
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
                "exp": {"essential": True},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(leeway=LEEWAY)
    except (JoseError, ValueError, TypeError) as exc:
        raise IdTokenError(f"{type(exc).__name__}: {exc}") from exc
    # Authlib checks the nonce too; compare again in constant time so this never rests on one library.
    if not hmac.compare_digest(str(token.claims.get("nonce", "")), nonce):
        raise IdTokenError("nonce mismatch")
    return dict(token.claims)
