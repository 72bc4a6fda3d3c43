"""infra/offline without Docker: the recipe hash, the cache decision (with a fake docker),
the apt sources and CA certificates taken from the host, and the files the images are
built from. The images themselves are built and run in tests/compose/test_offline_images.py.
"""

from __future__ import annotations

import os
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from infra.offline import apt_sources, builder, docker, rootfs
from infra.offline.apt_sources import AptSetup, Source
from infra.offline.certificates import extra_certificates, pem_blocks, to_pem
from infra.offline.images import ENV_FILE, IMAGES, REPO, by_name, render_env_file
from infra.offline.recipe import (
    LABEL,
    FileEntry,
    digest_files,
    read_tree,
    recipe_hash,
)

# ------------------------------------------------------------------------------ recipe

FILES = {
    "Dockerfile": FileEntry(b"FROM base\n", False),
    "docker-entrypoint.sh": FileEntry(b'#!/bin/sh\nexec "$@"\n', True),
}


def test_a_files_digest_ignores_order_but_sees_content_paths_and_the_x_bit() -> None:
    reference = digest_files(FILES)
    assert digest_files(dict(reversed(FILES.items()))) == reference
    changed = [
        {**FILES, "Dockerfile": FileEntry(b"FROM base \n", False)},
        {**FILES, "Dockerfile": FileEntry(b"FROM base\n", True)},
        {"Dockerfile2": FILES["Dockerfile"], "docker-entrypoint.sh": FILES["docker-entrypoint.sh"]},
        {**FILES, "extra": FileEntry(b"", False)},
        {"Dockerfile": FILES["Dockerfile"]},
    ]
    digests = {digest_files(files) for files in changed}
    assert reference not in digests and len(digests) == len(changed)


def test_paths_and_contents_cannot_be_shifted_into_each_other() -> None:
    assert digest_files({"ab": FileEntry(b"c", False)}) != digest_files(
        {"a": FileEntry(b"bc", False)}
    )


def test_a_recipe_hash_depends_on_every_part_and_its_name() -> None:
    parts = {"context": "c1", "script": "s1", "base_image": "sha256:aa"}
    reference = recipe_hash(parts)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", reference)
    assert recipe_hash(dict(reversed(parts.items()))) == reference
    for key, value in parts.items():
        assert recipe_hash({**parts, key: value + "x"}) != reference, key
    renamed = {"context": "c1", "script": "s1", "base_recipe": "sha256:aa"}
    assert recipe_hash(renamed) != reference


def test_read_tree_keeps_relative_paths_and_x_bits_and_skips_caches(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    script = tmp_path / "sub" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "stale.pyc").write_bytes(b"\0")
    tree = read_tree(tmp_path)
    assert tree == {
        "Dockerfile": FileEntry(b"FROM x\n", False),
        "sub/run.sh": FileEntry(b"#!/bin/sh\n", True),
    }


def test_the_base_is_keyed_by_its_recipe_and_the_others_by_their_base_image() -> None:
    python, redis = by_name("python"), by_name("redis")
    assert set(builder.recipe_parts(python, FILES, "s", "r")) == {
        "context",
        "script",
        "base_recipe",
    }
    assert builder.recipe_parts(redis, FILES, "s", "sha256:id")["base_image"] == "sha256:id"


def test_the_base_recipe_changes_with_the_mirror_the_sources_and_the_host_bundle() -> None:
    apt = AptSetup("http://deb.debian.org/debian", "Types: deb\n")
    reference = rootfs.BaseRecipe(apt, "BUNDLE").describe()
    assert (
        rootfs.BaseRecipe(AptSetup("http://mirror/debian", apt.sources_text), "BUNDLE").describe()
        != reference
    )
    assert (
        rootfs.BaseRecipe(AptSetup(apt.mirror, "Types: deb-src\n"), "BUNDLE").describe()
        != reference
    )
    assert rootfs.BaseRecipe(apt, "OTHER").describe() != reference


# ------------------------------------------------------------------ the cache decision


class FakeDocker:
    """The docker calls of the builder, on a dictionary of tag -> (id, labels)."""

    def __init__(self) -> None:
        self.images: dict[str, tuple[str, dict[str, str]]] = {}
        self.built: list[str] = []
        self.removed: list[str] = []
        self.in_use: set[str] = set()
        self.no_cache: list[bool] = []
        self._counter = 0

    def store(self, tag: str, labels: dict[str, str]) -> None:
        self._counter += 1
        self.images[tag] = (f"sha256:{self._counter:064x}", labels)
        self.built.append(tag)

    def build(
        self,
        context: Path,
        tag: str,
        *,
        labels: dict[str, str],
        build_args: dict[str, str],
        no_cache: bool,
        log: Path,
    ) -> None:
        assert (context / "Dockerfile").is_file()
        assert build_args["BASE_IMAGE"] in self.images, "built before its base"
        self.no_cache.append(no_cache)
        self.store(tag, labels)

    def remove_untagged(self, image_ids: list[str]) -> list[str]:
        tagged = {image_id for image_id, _ in self.images.values()}
        assert not tagged & set(image_ids), "asked to remove a tagged image"
        left = [image_id for image_id in image_ids if image_id in self.in_use]
        self.removed += [image_id for image_id in image_ids if image_id not in self.in_use]
        return left

    def build_base(
        self,
        recipe: rootfs.BaseRecipe,
        script_dir: Path,
        tag: str,
        label: tuple[str, str],
        log: Path,
    ) -> None:
        self.store(tag, {label[0]: label[1]})


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeDocker:
    fake = FakeDocker()
    monkeypatch.setattr(docker, "require_daemon", lambda: None)
    monkeypatch.setattr(docker, "image_details", fake.images.get)
    monkeypatch.setattr(docker, "build", fake.build)
    monkeypatch.setattr(docker, "remove_untagged", fake.remove_untagged)
    monkeypatch.setattr(rootfs, "build_base", fake.build_base)
    monkeypatch.setattr(builder, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(
        builder, "host_apt_setup", lambda: AptSetup("http://deb.debian.org/debian", "Types: deb\n")
    )
    monkeypatch.setattr(rootfs, "host_bundle", lambda: "BUNDLE")
    return fake


def build(force: bool = False) -> list[str]:
    lines: list[str] = []
    builder.Builder(force=force, report=lines.append).build_all()
    return lines


def test_a_second_build_takes_every_image_from_the_cache(fake_docker: FakeDocker) -> None:
    first = build()
    assert [line.split()[0] for line in first] == [spec.tag for spec in IMAGES]
    assert all(" built in " in line for line in first)
    assert fake_docker.built == [spec.tag for spec in IMAGES]
    assert all(LABEL in fake_docker.images[spec.tag][1] for spec in IMAGES)
    fake_docker.built.clear()
    assert build() == [f"{spec.tag:<42} cached" for spec in IMAGES]
    assert fake_docker.built == [] and fake_docker.removed == []


def test_a_changed_label_rebuilds_that_image_only_and_removes_the_old_one(
    fake_docker: FakeDocker,
) -> None:
    build()
    old_id, labels = fake_docker.images[by_name("redis").tag]
    fake_docker.images[by_name("redis").tag] = (old_id, {**labels, LABEL: "sha256:stale"})
    fake_docker.built.clear()
    lines = build()
    assert fake_docker.built == [by_name("redis").tag]
    assert [line.endswith("cached") for line in lines] == [s.name != "redis" for s in IMAGES]
    assert fake_docker.removed == [old_id]


def test_a_replaced_image_still_in_use_is_removed_by_a_later_build(
    fake_docker: FakeDocker,
) -> None:
    build()
    tag = by_name("mailcatcher").tag
    old_id, labels = fake_docker.images[tag]
    fake_docker.images[tag] = (old_id, {**labels, LABEL: "sha256:stale"})
    fake_docker.in_use.add(old_id)
    build()
    assert old_id not in fake_docker.removed
    fake_docker.in_use.clear()
    build()
    assert fake_docker.removed == [old_id]
    build()
    assert fake_docker.removed == [old_id], "tried once more only while it was in use"


def test_a_new_base_rebuilds_every_image_built_on_it(fake_docker: FakeDocker) -> None:
    build()
    tag = by_name("python").tag
    fake_docker.images[tag] = (fake_docker.images[tag][0], {LABEL: "sha256:other"})
    fake_docker.built.clear()
    build()
    assert fake_docker.built == [spec.tag for spec in IMAGES]


def test_force_rebuilds_everything_without_dockers_layer_cache(fake_docker: FakeDocker) -> None:
    build()
    fake_docker.built.clear()
    fake_docker.no_cache.clear()
    build(force=True)
    assert fake_docker.built == [spec.tag for spec in IMAGES]
    assert fake_docker.no_cache and all(fake_docker.no_cache)


# -------------------------------------------------------------------------- apt sources

HOST_DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
  trixie-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
"""


def test_the_mirror_and_sources_come_from_the_hosts_deb822_entries() -> None:
    setup = apt_sources.plan(HOST_DEB822, None)
    assert setup.mirror == "http://mirror.example/debian"
    assert apt_sources.parse_deb822(setup.sources_text) == [
        Source(("http://mirror.example/debian",), ("bookworm", "bookworm-updates"), ("main",)),
        Source(
            ("http://mirror.example/debian-security",), ("bookworm-security",), ("main", "contrib")
        ),
    ]


def test_the_one_line_sources_list_is_the_fallback_then_deb_debian_org() -> None:
    listing = "deb [arch=amd64 signed-by=/k.gpg] http://old.example/debian bookworm main\n"
    assert apt_sources.plan(None, listing).mirror == "http://old.example/debian"
    only_trixie = HOST_DEB822.replace("bookworm", "trixie")
    assert apt_sources.plan(only_trixie, listing).mirror == "http://old.example/debian"
    fallback = apt_sources.plan(None, None)
    assert fallback.mirror == "http://deb.debian.org/debian"
    assert "Suites: bookworm bookworm-updates" in fallback.sources_text


# ---------------------------------------------------------------------- CA certificates


def test_the_hosts_extra_certificates_are_found_whatever_the_line_breaks() -> None:
    shared, extra = "QUJD" * 30, "WFla" * 30
    image_bundle = to_pem(shared)
    host_bundle = (
        "# a comment\n" + to_pem(shared).replace("\n", "\r\n") + to_pem(extra) + to_pem(extra)
    )
    assert extra_certificates(host_bundle, image_bundle) == [to_pem(extra)]
    assert pem_blocks(to_pem(extra)) == [extra]
    assert extra_certificates(image_bundle, image_bundle) == []


# ------------------------------------------------------------------- the images' files


def test_images_env_names_every_image_for_the_compose_file() -> None:
    assert ENV_FILE.read_text() == render_env_file()
    variables = dict(
        line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line
    )
    assert variables == {
        "PYTHON_IMAGE": "sidequest-offline/python:3.11-bookworm",
        "REDIS_IMAGE": "sidequest-offline/redis:7-bookworm",
        "POSTGRES_IMAGE": "sidequest-offline/postgres:15-bookworm",
        "PROMETHEUS_IMAGE": "sidequest-offline/prometheus:2-bookworm",
        "MAILPIT_IMAGE": "sidequest-offline/mailcatcher:bookworm",
    }
    compose = (REPO / "docker-compose.yml").read_text()
    for variable in variables:
        assert f"${{{variable}:-" in compose, f"docker-compose.yml does not read {variable}"


def test_every_image_has_its_build_files() -> None:
    for spec in IMAGES:
        if spec.base is None:
            assert (spec.directory / rootfs.CUSTOMIZE_SCRIPT).is_file()
            continue
        dockerfile = (spec.directory / "Dockerfile").read_text()
        assert "ARG BASE_IMAGE=" in dockerfile and "FROM ${BASE_IMAGE}" in dockerfile
        for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
            for source in copied.split():
                assert source in builder.context_files(spec), f"{spec.name}: COPY {source}"
        for entrypoint in spec.directory.glob("*.sh"):
            assert os.access(entrypoint, os.X_OK), entrypoint


def test_the_mail_catcher_pins_the_aiosmtpd_of_the_projects_venv() -> None:
    dockerfile = (by_name("mailcatcher").directory / "Dockerfile").read_text()
    pinned = re.search(r"aiosmtpd==([\w.]+)", dockerfile)
    assert pinned is not None
    assert pinned.group(1) == version("aiosmtpd")
