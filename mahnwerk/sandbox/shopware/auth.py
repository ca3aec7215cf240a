"""OAuth2 client credentials as Shopware's AuthController and SymfonyBearerTokenValidator answer them: JWT-shaped
tokens that expire on the sandbox clock, league/oauth2 error bodies, and the token endpoint's time-backoff limiter."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass, field

from mahnwerk.sandbox.shopware.wire import ShopwareError, access_denied, http_error, oauth_error

# shopware.api.rate_limiter.oauth: time_backoff; (failed attempts, seconds to wait) after each step.
BACKOFF = ((10, 10), (15, 30), (20, 60))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


@dataclass
class TokenBook:
    """Issued tokens (jti -> expiry, unix seconds of the sandbox clock) and the limiter's failed attempts."""

    ttl: int = 600
    expiry: dict[str, float] = field(default_factory=dict)
    failures: list[float] = field(default_factory=list)
    issued: int = 0

    def issue(self, client_id: str, now: float) -> dict:
        """The token response of a successful client_credentials grant (no refresh token)."""
        jti = secrets.token_hex(40)
        self.expiry[jti] = now + self.ttl
        self.issued += 1
        self.failures.clear()           # a successful request resets the limiter
        claims = {"aud": client_id, "jti": jti, "iat": now, "nbf": now, "exp": now + self.ttl, "sub": "",
                  "scopes": ["write"]}
        token = f"{_b64({'typ': 'JWT', 'alg': 'RS256'})}.{_b64(claims)}.{secrets.token_urlsafe(64)}"
        return {"token_type": "Bearer", "expires_in": self.ttl, "access_token": token}

    def throttle(self, now: float) -> None:
        """429 FRAMEWORK__AUTH_THROTTLED while the backoff after the last failed attempt lasts."""
        wait = 0
        for attempts, seconds in BACKOFF:
            if len(self.failures) >= attempts:
                wait = seconds
        remaining = int(self.failures[-1] + wait - now) if wait and self.failures else 0
        if remaining > 0:
            raise ShopwareError(429, http_error(429, "FRAMEWORK__AUTH_THROTTLED",
                                                f"Auth throttled for {remaining} seconds.",
                                                {"seconds": remaining}).errors,
                                headers=[("Retry-After", str(remaining))])

    def grant(self, body: dict, client_id: str, client_secret: str, now: float) -> dict:
        """Check a token request (AbstractGrant order: grant type, client id, client secret)."""
        self.throttle(now)
        try:
            if body.get("grant_type") != "client_credentials":
                raise oauth_error(400, 2, "The authorization grant type is not supported by the authorization "
                                          "server.", "Check that all required parameters have been provided")
            if not isinstance(body.get("client_id"), str) or not body["client_id"]:
                raise oauth_error(400, 3, "The request is missing a required parameter, includes an invalid "
                                          "parameter value, includes a parameter more than once, or is otherwise "
                                          "malformed.", "Check the `client_id` parameter")
            secret = body.get("client_secret")
            if not (hmac.compare_digest(str(body["client_id"]).encode(), client_id.encode())
                    and isinstance(secret, str) and hmac.compare_digest(secret.encode(), client_secret.encode())):
                raise oauth_error(401, 4, "Client authentication failed", None)
        except ShopwareError:
            self.failures.append(now)
            raise
        return self.issue(client_id, now)

    def check(self, authorization: str | None, now: float) -> None:
        """SymfonyBearerTokenValidator: a missing header, an unparsable, unknown or expired token is 401."""
        if authorization is None:
            raise access_denied('Missing "Authorization" header')
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise access_denied('Missing token in "Authorization" header')
        parts = token.split(".")
        if len(parts) != 3:
            raise access_denied("The JWT string must have two dots")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            raise access_denied("Error while decoding from JSON") from None
        expiry = self.expiry.get(str(claims.get("jti"))) if isinstance(claims, dict) else None
        if expiry is None or now >= expiry:
            raise access_denied("Access token could not be verified")

    def expire_all(self) -> None:
        """Every issued token is expired from now on (a test expiring a token mid-sync)."""
        for jti in self.expiry:
            self.expiry[jti] = 0
