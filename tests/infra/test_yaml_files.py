"""Every YAML file of the stack parses, with no key written twice.

PyYAML, docker-compose and Prometheus keep the last of two equal keys without a
word, so a duplicated `environment:` or `healthcheck:` would silently drop settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.conftest import REPO

YAML_FILES = sorted(
    [
        REPO / "docker-compose.yml",
        *(REPO / "infra").rglob("*.yml"),
        *(REPO / "infra").rglob("*.yaml"),
    ]
)


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys."""


def construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: keys written next to it override it, by design
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_has_no_duplicate_keys(path: Path) -> None:
    # Kubernetes manifests hold several documents, separated by ---.
    with path.open(encoding="utf-8") as handle:
        documents = list(yaml.load_all(handle, Loader=StrictLoader))
    assert documents and all(document is not None for document in documents)


def test_strict_loader_catches_duplicates() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=StrictLoader)
    merged = yaml.load("x: &x {a: 1}\ny:\n  <<: *x\n  a: 2\n", Loader=StrictLoader)
    assert merged["y"] == {"a": 2}
