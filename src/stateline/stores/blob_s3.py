"""The S3 backend of the blob store: SeaweedFS (embedded), MinIO or AWS, through obstore.

``s3://BUCKET?endpoint=http://HOST:PORT&region=REGION`` names the bucket.
Credentials come from the standard AWS variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``,
``AWS_ENDPOINT_URL``...) or from the URL (``access_key_id=``,
``secret_access_key=``, ``session_token=``), the URL winning. Without
``endpoint`` the store talks to AWS itself. The key is the object key as is,
so ``GET /BUCKET/<image id>`` through any S3 tool shows an uploaded image.

obstore was chosen by measurement (``bench/blob_clients.py``; the figures are
in docs/operations.md): against SeaweedFS on loopback it had the lowest
latency and the lowest client CPU per 64 KiB put and get of obstore,
aiobotocore and minio, it is natively async (no thread per call competing
with the image CPU pool), and it is the smallest install.

An S3 PUT is atomic: a reader sees the old object, the new one or none, never
a part. Failures other than "no such key" -- connection refused while the blob
server restarts, a full disk, a 5xx, bad credentials -- raise
:class:`BlobStoreUnavailable` after at most a few quick retries, so a request
gets 503 in well under a second instead of hanging through the client's
default three minutes of retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from stateline.stores.blobs import (
    DEFAULT_MAX_BYTES,
    BlobStoreUnavailable,
    BlobTooLarge,
    check_key,
    is_key,
)

#: URL query parameters → obstore's S3 config keys (the short AWS-CLI-like names too).
_PARAMS = {
    "endpoint": "endpoint", "region": "region",
    "access_key_id": "access_key_id", "access_key": "access_key_id",
    "secret_access_key": "secret_access_key", "secret_key": "secret_access_key",
    "session_token": "session_token",
}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://`` URL: the bucket, the store config, and whether to use vhost style."""

    bucket: str
    config: dict[str, str]
    virtual_hosted: bool = False

    @property
    def endpoint(self) -> str:
        return self.config.get("endpoint", "AWS")


def parse_s3_url(url: str) -> S3Location:
    """Read ``s3://BUCKET?endpoint=...&region=...``; ``ValueError`` says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"blob URL {url!r}: use s3://BUCKET?endpoint=http://HOST:PORT")
    if parts.path not in ("", "/"):
        raise ValueError(f"blob URL {url!r}: a bucket name only, no path after it")
    config: dict[str, str] = {}
    virtual_hosted = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "virtual_hosted":
            virtual_hosted = value.lower() in _TRUE
        elif name in _PARAMS:
            config[_PARAMS[name]] = value
        else:
            raise ValueError(f"blob URL: unknown parameter {name!r}; known: "
                             + ", ".join([*_PARAMS, "virtual_hosted"]))
    return S3Location(parts.netloc, config, virtual_hosted)


class S3BlobStore:
    """Blobs as objects in one bucket; see the module docstring for errors and guarantees."""

    def __init__(self, location: S3Location, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.location = location
        self.max_bytes = max_bytes
        endpoint = location.config.get("endpoint", "")
        self._store = S3Store(
            location.bucket,
            config={**location.config,  # type: ignore[typeddict-item]
                    "virtual_hosted_style_request": location.virtual_hosted},
            client_options={"allow_http": endpoint.startswith("http://"),
                            "connect_timeout": timedelta(seconds=2),
                            "timeout": timedelta(seconds=30)},
            retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=5),
                          "backoff": {"init_backoff": timedelta(milliseconds=50),
                                      "max_backoff": timedelta(milliseconds=500),
                                      "base": 2}},
        )

    @classmethod
    def from_url(cls, url: str, max_bytes: int = DEFAULT_MAX_BYTES) -> S3BlobStore:
        return cls(parse_s3_url(url), max_bytes)

    def describe(self) -> str:
        return f"s3://{self.location.bucket} at {self.location.endpoint}"

    def _unavailable(self, what: str, key: str, exc: Exception) -> BlobStoreUnavailable:
        text = " ".join(str(exc).split())[:300]
        return BlobStoreUnavailable(f"{self.describe()}: cannot {what} {key}: "
                                    f"{type(exc).__name__}: {text}")

    async def put(self, key: str, data: bytes) -> None:
        check_key(key)
        if len(data) > self.max_bytes:
            raise BlobTooLarge(f"blob of {len(data)} bytes is over the {self.max_bytes} limit")
        try:
            await obstore.put_async(self._store, key, data)
        except Exception as exc:  # any failure of the remote store is "unavailable"
            raise self._unavailable("write", key, exc) from exc

    async def get(self, key: str) -> bytes | None:
        if not is_key(key):
            return None
        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None
        except Exception as exc:
            raise self._unavailable("read", key, exc) from exc

    async def exists(self, key: str) -> bool:
        if not is_key(key):
            return False
        try:
            await obstore.head_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return False
        except Exception as exc:
            raise self._unavailable("look up", key, exc) from exc
        return True

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await obstore.delete_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return
        except Exception as exc:
            raise self._unavailable("delete", key, exc) from exc

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"S3BlobStore({self.describe()!r})"

