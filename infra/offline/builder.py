"""Building the images in order, each either taken from the cache or built.

An image is cached when its tag exists with the recipe label the build would give
it; otherwise (or with `force`) it is built and one line says how long that took.
The images a build replaced are removed at the end; those a container still uses are
noted in LOG_DIR/replaced-images and tried again by the next build.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.offline import docker, rootfs
from infra.offline.apt_sources import host_apt_setup
from infra.offline.images import IMAGES, OFFLINE_DIR, REPO, ImageSpec, by_name
from infra.offline.recipe import (
    LABEL,
    FileEntry,
    digest_files,
    digest_text,
    read_file,
    read_tree,
    recipe_hash,
)

LOG_DIR = Path(tempfile.gettempdir()) / "sidequest-offline"
PENDING_FILE = "replaced-images"


@dataclass(frozen=True)
class Outcome:
    spec: ImageSpec
    built: bool
    seconds: float
    image_id: str

    def line(self) -> str:
        if self.built:
            return f"{self.spec.tag:<42} built in {self.seconds:.0f} s"
        return f"{self.spec.tag:<42} cached"


def script_digest() -> str:
    """The build script's own source: the package's modules."""
    modules = {path.name: read_file(path) for path in sorted(OFFLINE_DIR.glob("*.py"))}
    return digest_files(modules)


def context_files(spec: ImageSpec) -> dict[str, FileEntry]:
    """The build context: the image's directory, plus its extra repository files."""
    files = read_tree(spec.directory)
    for relative in spec.extra_files:
        files[relative] = read_file(REPO / relative)
    return files


def recipe_parts(
    spec: ImageSpec, files: dict[str, FileEntry], script: str, base: str
) -> dict[str, str]:
    """The named inputs of an image: for the imported base `base` is its recipe's
    digest, for the others the id of the image they are built on."""
    parts = {"context": digest_files(files), "script": script}
    parts["base_recipe" if spec.base is None else "base_image"] = base
    return parts


class Builder:
    def __init__(self, *, force: bool = False, report: Callable[[str], None] = print) -> None:
        self.force = force
        self.report = report
        self.log_dir = LOG_DIR
        self.ids: dict[str, str] = {}
        self.replaced: list[str] = []

    def build_all(self, images: tuple[ImageSpec, ...] = IMAGES) -> list[Outcome]:
        docker.require_daemon()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = script_digest()
        base_recipe = rootfs.BaseRecipe(host_apt_setup(), rootfs.host_bundle())
        outcomes: list[Outcome] = []
        for spec in images:
            files = context_files(spec)
            base = self._base_digest(spec, base_recipe)
            wanted = recipe_hash(recipe_parts(spec, files, script, base))
            outcome = self._one(spec, files, wanted, base_recipe)
            self.ids[spec.name] = outcome.image_id
            self.report(outcome.line())
            outcomes.append(outcome)
        self._remove_replaced()
        return outcomes

    def _remove_replaced(self) -> None:
        pending = self.log_dir / PENDING_FILE
        earlier = pending.read_text().split() if pending.is_file() else []
        left = docker.remove_untagged([*earlier, *self.replaced])
        pending.write_text("".join(f"{image_id}\n" for image_id in left))

    def _base_digest(self, spec: ImageSpec, base_recipe: rootfs.BaseRecipe) -> str:
        if spec.base is None:
            return digest_text(base_recipe.describe())
        return self.ids[spec.base]

    def _one(
        self,
        spec: ImageSpec,
        files: dict[str, FileEntry],
        wanted: str,
        base_recipe: rootfs.BaseRecipe,
    ) -> Outcome:
        existing = docker.image_details(spec.tag)
        if existing is not None and not self.force and existing[1].get(LABEL) == wanted:
            return Outcome(spec, built=False, seconds=0.0, image_id=existing[0])
        started = time.monotonic()
        log = self.log_dir / f"{spec.name}.log"
        if spec.base is None:
            rootfs.build_base(base_recipe, spec.directory, spec.tag, (LABEL, wanted), log)
        else:
            self._docker_build(spec, files, wanted, log)
        seconds = time.monotonic() - started
        built = docker.image_details(spec.tag)
        if built is None:
            raise docker.DockerError(f"{spec.tag} is missing right after its build")
        if existing is not None and existing[0] != built[0]:
            self.replaced.append(existing[0])
        return Outcome(spec, built=True, seconds=seconds, image_id=built[0])

    def _docker_build(
        self, spec: ImageSpec, files: dict[str, FileEntry], wanted: str, log: Path
    ) -> None:
        assert spec.base is not None
        with tempfile.TemporaryDirectory(prefix=f"sidequest-offline-{spec.name}-") as context:
            write_context(Path(context), files)
            docker.build(
                Path(context),
                spec.tag,
                labels={LABEL: wanted},
                build_args={"BASE_IMAGE": by_name(spec.base).tag},
                no_cache=self.force,
                log=log,
            )


def write_context(directory: Path, files: dict[str, FileEntry]) -> None:
    for relative, entry in files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry.content)
        os.chmod(target, 0o755 if entry.executable else 0o644)
    if not (directory / "Dockerfile").is_file():
        raise docker.DockerError(f"no Dockerfile in the build context {directory}")
