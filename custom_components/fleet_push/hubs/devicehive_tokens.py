"""DeviceHive's JWTs, read but never verified (the server does that), and sign-in refusals."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any, Final

from .frames import decode
from .values import is_int, is_number

JWT_PARTS: Final = 3


MILLISECONDS_FROM: Final = 1e11
"""Expiry numbers above this are milliseconds (1e11 s is the year 5138)."""


class TokenType(Enum):
    """What a DeviceHive JWT is for (its payload's ``t``: 0 refresh, 1 access)."""

    REFRESH = 0
    ACCESS = 1


def refuses_credentials(action: str, code: Any) -> bool:
    """Whether an error answer to a sign-in request means the credentials are no good.

    Any 4xx does; so does 500 to token/refresh: the server's auth service answers a refresh
    token it cannot verify (another secret, a deleted or disabled user) with an empty 401,
    which the WebSocket front end turns into a 500 (HttpRestHelper reads the empty body).
    """
    if not is_int(code):
        return False
    return HTTPStatus.BAD_REQUEST <= code < HTTPStatus.INTERNAL_SERVER_ERROR or (
        action == "token/refresh" and code == HTTPStatus.INTERNAL_SERVER_ERROR
    )


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != JWT_PARTS:
        return {}
    try:
        claims = decode(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _claim(claims: Mapping[str, Any], top: tuple[str, ...], nested: tuple[str, ...]) -> Any:
    """A standard claim, or the same thing inside DeviceHive's ``payload`` claim."""
    for key in top:
        if claims.get(key) is not None:
            return claims[key]
    payload = claims.get("payload")
    if isinstance(payload, dict):
        for key in nested:
            if payload.get(key) is not None:
                return payload[key]
    return None


def token_type(token: str) -> TokenType | None:
    """What the token is for, as its payload says (None: it does not say)."""
    kind = _claim(
        _jwt_claims(token), ("tpc", "token_type", "tokenType", "type"), ("t", "tokenType", "tpc")
    )
    names = {"0": TokenType.REFRESH, "refresh": TokenType.REFRESH}
    names |= {"1": TokenType.ACCESS, "access": TokenType.ACCESS}
    return names.get(str(kind).casefold()) if not isinstance(kind, bool) else None


def token_expiry(token: str) -> float | None:
    """Seconds since the epoch: ``exp``, or DeviceHive's ``payload.e`` in milliseconds."""
    claims = _jwt_claims(token)
    exp = claims.get("exp")
    if is_number(exp):
        return float(exp)
    expiration = _claim(claims, (), ("e", "expiration"))
    if is_number(expiration):
        return expiration / 1000 if expiration > MILLISECONDS_FROM else float(expiration)
    return None


def token_subject(token: str) -> str | None:
    """The user the token was issued to (``sub``, or DeviceHive's ``payload.u``)."""
    subject = _claim(_jwt_claims(token), ("sub",), ("u", "userId"))
    return str(subject) if isinstance(subject, int | str) and str(subject) else None
