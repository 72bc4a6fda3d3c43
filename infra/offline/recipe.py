"""An image's input hash: what its build reads, reduced to one sha256.

The parts of a recipe are named digests: the build context's files (path, content and
executable bit: an entrypoint that loses its x bit is a different image), the build
script's own source, the base's recipe (for the imported base) or the base image's id
(for the images built on it). The hash is stored in the image's label `LABEL`; a build
skips an image whose label equals the hash it would build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LABEL = "org.sidequest.offline.recipe"
_SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


@dataclass(frozen=True)
class FileEntry:
    content: bytes
    executable: bool


def read_tree(directory: Path) -> dict[str, FileEntry]:
    """Every file under `directory` by its relative path (with /), caches left out."""
    files: dict[str, FileEntry] = {}
    for root, subdirs, names in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS)
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            relative = path.relative_to(directory).as_posix()
            files[relative] = read_file(path)
    return files


def read_file(path: Path) -> FileEntry:
    return FileEntry(path.read_bytes(), os.access(path, os.X_OK))


def digest_files(files: Mapping[str, FileEntry]) -> str:
    """One digest of a set of files: paths, contents and executable bits, order-free."""
    digest = hashlib.sha256()
    for path in sorted(files):
        entry = files[path]
        encoded = path.encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(b"x" if entry.executable else b"-")
        digest.update(len(entry.content).to_bytes(8, "big") + entry.content)
    return digest.hexdigest()


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def recipe_hash(parts: Mapping[str, str]) -> str:
    """The hash of named parts; a renamed, added or removed part changes it too."""
    canonical = json.dumps(dict(sorted(parts.items())), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
