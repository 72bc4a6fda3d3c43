"""The stand-in images: their tags, their directories and what they are built on.

Order matters: an image comes after its base. `python` is the debootstrap base itself
(imported, not built from a Dockerfile); every other image is built from the
Dockerfile in its directory with the build argument BASE_IMAGE set to its base's tag.
`extra_files` are repository files copied into the build context at the same relative
paths (the mail catcher runs the dev stack's mail sink).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OFFLINE_DIR = Path(__file__).resolve().parent
ENV_FILE = OFFLINE_DIR / "images.env"


@dataclass(frozen=True)
class ImageSpec:
    name: str  # the directory under infra/offline/
    tag: str
    stands_in_for: str
    env_variable: str  # the variable of images.env (and of the Compose file)
    base: str | None = None  # name of the image it is built on; None: the imported base
    extra_files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def directory(self) -> Path:
        return OFFLINE_DIR / self.name


PYTHON = ImageSpec(
    name="python",
    tag="sidequest-offline/python:3.11-bookworm",
    stands_in_for="python:3.11.11-slim-bookworm",
    env_variable="PYTHON_IMAGE",
)
IMAGES: tuple[ImageSpec, ...] = (
    PYTHON,
    ImageSpec(
        name="redis",
        tag="sidequest-offline/redis:7-bookworm",
        stands_in_for="redis:7.2.5-alpine",
        env_variable="REDIS_IMAGE",
        base="python",
    ),
    ImageSpec(
        name="postgres",
        tag="sidequest-offline/postgres:15-bookworm",
        stands_in_for="postgres:16.4-alpine",
        env_variable="POSTGRES_IMAGE",
        base="python",
    ),
    ImageSpec(
        name="prometheus",
        tag="sidequest-offline/prometheus:2-bookworm",
        stands_in_for="prom/prometheus:v2.53.2",
        env_variable="PROMETHEUS_IMAGE",
        base="python",
    ),
    ImageSpec(
        name="mailcatcher",
        tag="sidequest-offline/mailcatcher:bookworm",
        stands_in_for="axllent/mailpit:v1.20.4",
        env_variable="MAILPIT_IMAGE",
        base="python",
        extra_files=(
            "infra/dev/__init__.py",
            "infra/dev/mailbox.py",
            "infra/dev/mailsink.py",
        ),
    ),
)


def by_name(name: str) -> ImageSpec:
    for spec in IMAGES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def render_env_file(images: tuple[ImageSpec, ...] = IMAGES) -> str:
    """images.env's text: one VARIABLE=tag line per image."""
    lines = [
        "# The Compose file's image variables for the offline run (no registry): the",
        "# stand-ins `python -m infra.offline build` makes from Debian packages.",
        "# Written by infra/offline/images.py (render_env_file); a test keeps them equal.",
    ]
    lines += [f"{spec.env_variable}={spec.tag}" for spec in images]
    return "\n".join(lines) + "\n"
