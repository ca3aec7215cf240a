"""A small Admin API client for the Shopware sandbox tests: token once, JSON in and out."""

from __future__ import annotations

import requests


class AdminClient:
    """requests.Session with a bearer token from the sandbox's integration."""

    def __init__(self, url: str, client_id: str, client_secret: str) -> None:
        self.url, self.client_id, self.client_secret = url, client_id, client_secret
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"

    def token(self) -> requests.Response:
        return self.session.post(self.url + "/api/oauth/token", timeout=10, json={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})

    def login(self) -> AdminClient:
        self.session.headers["Authorization"] = "Bearer " + self.token().json()["access_token"]
        return self

    def post(self, path: str, body: dict | None = None, **kwargs) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, timeout=10)

    def patch(self, path: str, body: dict) -> requests.Response:
        return self.session.patch(self.url + path, json=body, timeout=10)

    def search(self, criteria: dict, entity: str = "order") -> requests.Response:
        return self.post(f"/api/search/{entity}", criteria)
