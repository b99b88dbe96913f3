"""The app serves its OpenAPI document and the docs page, without a store and without a CDN."""

from __future__ import annotations

from typing import Any

from stateline.app.openapi import DOCS_PATH, OPENAPI_PATH


def test_the_document_is_served_as_json(app_client: Any) -> None:
    response = app_client.get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    assert OPENAPI_PATH in doc["paths"] and "/api/images/resize" in doc["paths"]


def test_the_docs_page_is_html_with_a_strict_policy(app_client: Any) -> None:
    response = app_client.get(DOCS_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "<code>/api/carts/{user_id}/items</code>" in response.text
    assert "<script" not in response.text
