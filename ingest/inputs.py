"""Resolve SOURCE arguments (files, folders, az:// locations) into input files to read."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest import azure_blob


class SourceError(RuntimeError):
    """A SOURCE argument that cannot be resolved (missing path, bad location, no credentials)."""


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is, its cheap identity, and how to open it."""

    uri: str
    size: int
    version: str  # mtime in ns for local files, etag for blobs
    opener: Callable[[], io.BufferedIOBase]
    local_path: Path | None = None  # set for local files: workers may read ranges themselves

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    def open(self) -> io.BufferedIOBase:
        return self.opener()


def _local(path: Path) -> InputFile:
    stat = path.stat()
    resolved = path.resolve()
    return InputFile(
        uri=str(resolved),
        size=stat.st_size,
        version=str(stat.st_mtime_ns),
        opener=lambda: open(resolved, "rb", buffering=4 << 20),
        local_path=resolved,
    )


def _files_under(folder: Path, accept: Callable[[str], bool]) -> list[Path]:
    """Accepted files anywhere under `folder`, following symbolic links to folders (a folder of
    logs is often a link to a mounted share) and visiting each real folder once, so that a link
    loop or a link back up the tree cannot repeat or hang the search. Sorted."""
    seen: set[tuple[int, int]] = set()
    files: dict[Path, Path] = {}  # real path -> the path it was found at (first found wins)
    for current, folders, names in os.walk(folder, followlinks=True):
        stat = os.stat(current)
        if (stat.st_dev, stat.st_ino) in seen:
            folders.clear()
            continue
        seen.add((stat.st_dev, stat.st_ino))
        folders.sort()
        for name in names:
            path = Path(current, name)
            if accept(name) and path.is_file():
                files.setdefault(path.resolve(), path)
    return sorted(files.values())


def resolve(
    sources: Iterable[str],
    accept: Callable[[str], bool],
    account_url: str | None = None,
) -> Iterator[InputFile]:
    """Input files under each source whose name `accept`s, in a stable (sorted) order."""
    client = None
    for source in sources:
        if source.startswith(azure_blob.AZ_SCHEME):
            location = azure_blob.BlobLocation.parse(source)
            if client is None:
                client = azure_blob.service_client(account_url)
            found = False
            for item in azure_blob.list_blobs(client, location):
                if accept(item.name):
                    found = True
                    yield InputFile(
                        uri=item.uri,
                        size=item.size,
                        version=item.etag,
                        opener=lambda item=item, client=client: azure_blob.open_blob(client, item),
                    )
            if not found:
                raise SourceError(f"{source}: no accepted files under this Blob prefix")
            continue
        path = Path(source)
        if path.is_file():
            yield _local(path)
        elif path.is_dir():
            files = _files_under(path, accept)
            if not files:
                raise SourceError(f"{source}: folder holds no accepted files")
            yield from (_local(p) for p in files)
        else:
            raise SourceError(f"{source}: no such file or folder")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, `--shard 2/4`): the inputs whose key hashes to it.
    N processes (or executors), each given one shard of the same sources, land one zone
    between them without coordinating: each input belongs to exactly one shard, and every
    piece of bookkeeping an ingest writes is a file of its own input or run."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"shard {text!r} is not i/N (for example 2/4)") from None
        if not 1 <= index <= count:
            raise ValueError(f"shard {text!r}: i must be between 1 and N")
        return cls(index, count)

    def holds(self, key: str) -> bool:
        import xxhash

        return xxhash.xxh3_64_intdigest(key.encode()) % self.count == self.index - 1
