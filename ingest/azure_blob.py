"""Thin client over azure-storage-blob: list and stream blobs under `az://<container>/<prefix>`.

Credentials: `AZURE_STORAGE_CONNECTION_STRING` when set (Azurite, SAS or account-key strings), else
an account URL (`--account-url` / `AZURE_STORAGE_ACCOUNT_URL`) with `DefaultAzureCredential`.
Downloads are streamed chunk by chunk; nothing is held whole in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

AZ_SCHEME = "az://"


class BlobConfigError(RuntimeError):
    """The Blob location or its credentials are unusable."""


@dataclass(frozen=True)
class BlobLocation:
    container: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> BlobLocation:
        if not uri.startswith(AZ_SCHEME):
            raise BlobConfigError(f"{uri}: not an az://<container>/<prefix> location")
        rest = uri[len(AZ_SCHEME) :]
        container, _, prefix = rest.partition("/")
        if not container:
            raise BlobConfigError(f"{uri}: no container named (expected az://<container>/<prefix>)")
        return cls(container, prefix)


def service_client(account_url: str | None = None):
    """A BlobServiceClient from the connection string, else the account URL + Azure identity."""
    from azure.storage.blob import BlobServiceClient

    connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string)
    account_url = account_url or os.environ.get("AZURE_STORAGE_ACCOUNT_URL")
    if not account_url:
        raise BlobConfigError(
            "az:// source needs AZURE_STORAGE_CONNECTION_STRING, or --account-url / "
            "AZURE_STORAGE_ACCOUNT_URL with an Azure identity (DefaultAzureCredential)"
        )
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(account_url, credential=DefaultAzureCredential())


@dataclass(frozen=True)
class BlobItem:
    container: str
    name: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"{AZ_SCHEME}{self.container}/{self.name}"


def list_blobs(client, location: BlobLocation) -> Iterator[BlobItem]:
    """Blobs under the prefix, lazily (the SDK pages the listing)."""
    container = client.get_container_client(location.container)
    for props in container.list_blobs(name_starts_with=location.prefix or None):
        yield BlobItem(location.container, props.name, props.size, props.etag.strip('"'))


class _DownloadReader(io.RawIOBase):
    """A raw, read-only stream over a StorageStreamDownloader's chunks."""

    def __init__(self, downloader) -> None:
        self._chunks = downloader.chunks()
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def open_blob(client, item: BlobItem) -> io.BufferedReader:
    """Stream a blob, pinned to the etag it was listed with (a blob rewritten meanwhile fails)."""
    from azure.core import MatchConditions

    blob = client.get_blob_client(item.container, item.name)
    downloader = blob.download_blob(
        etag=f'"{item.etag}"', match_condition=MatchConditions.IfNotModified, max_concurrency=1
    )
    return io.BufferedReader(_DownloadReader(downloader), buffer_size=4 << 20)


def upload_folder(client, location: BlobLocation, folder) -> int:
    """Upload every file under a local folder to `<container>/<prefix>/<relative path>`, creating
    the container if needed, manifests last (Cost Management writes them last: a reader that
    sees a manifest finds its data). Returns the number of files uploaded."""
    from azure.core.exceptions import ResourceExistsError

    container = client.get_container_client(location.container)
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file()),
        key=lambda p: (p.name == "manifest.json", str(p)),
    )
    prefix = location.prefix.strip("/")
    for path in files:
        name = "/".join(filter(None, [prefix, path.relative_to(folder).as_posix()]))
        with path.open("rb") as data:
            container.upload_blob(name, data, overwrite=True)
    return len(files)
