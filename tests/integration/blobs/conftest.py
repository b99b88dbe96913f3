"""Fixtures for the blob stores: both backends on real storage.

``blob_store`` runs a test once on the folder backend and once on the S3
backend against the session's real SeaweedFS (``seaweedfs`` in
tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.stores.blobs import BlobStore, open_blob_store


@pytest.fixture(params=["folder", "s3"])
def blob_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "folder":
        return f"file://{tmp_path / 'blobs'}"
    return str(request.getfixturevalue("seaweedfs").url)


@pytest.fixture
def blob_store(blob_url: str, tmp_path: Path) -> BlobStore:
    return open_blob_store(blob_url, tmp_path / "unused")
