"""The Debian mirror and apt sources of the images, taken from this machine's apt setup.

The host reaches its mirror, so the images use the same one: the deb822 entry of
/etc/apt/sources.list.d/debian.sources whose Suites include the release, else the
one-line /etc/apt/sources.list, else deb.debian.org. Every entry of the host for the
release's suites (bookworm, bookworm-updates, bookworm-security) is written into the
image, so packages installed in a stand-in get the same updates as the host's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RELEASE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEB822_FILE = Path("/etc/apt/sources.list.d/debian.sources")
LIST_FILE = Path("/etc/apt/sources.list")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class Source:
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]


def parse_deb822(text: str) -> list[Source]:
    """The `Types: deb` entries of a deb822 sources file (comments and deb-src dropped)."""
    sources: list[Source] = []
    for stanza in _stanzas(text):
        if "deb" not in stanza.get("types", "").split():
            continue
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        sources.append(
            Source(
                uris=tuple(stanza.get("uris", "").split()),
                suites=tuple(stanza.get("suites", "").split()),
                components=tuple(stanza.get("components", "").split()),
            )
        )
    return sources


def _stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_one_line(text: str) -> list[Source]:
    """The `deb` lines of a sources.list (options in brackets skipped)."""
    sources: list[Source] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            sources.append(Source((words[0],), (words[1],), tuple(words[2:])))
    return sources


def release_sources(sources: list[Source], release: str = RELEASE) -> list[Source]:
    """The entries for the release's suites, each with only those suites."""
    kept: list[Source] = []
    for source in sources:
        suites = tuple(s for s in source.suites if s == release or s.startswith(f"{release}-"))
        if suites and source.uris:
            kept.append(Source(source.uris, suites, source.components or ("main",)))
    return kept


def mirror_of(sources: list[Source], release: str = RELEASE) -> str | None:
    """The first URI of the entry whose suites include the release itself."""
    for source in sources:
        if release in source.suites and source.uris:
            return source.uris[0]
    return None


def render(sources: list[Source]) -> str:
    """A deb822 sources file for the image."""
    stanzas = [
        "\n".join(
            (
                "Types: deb",
                f"URIs: {' '.join(source.uris)}",
                f"Suites: {' '.join(source.suites)}",
                f"Components: {' '.join(source.components)}",
                f"Signed-By: {KEYRING}",
            )
        )
        for source in sources
    ]
    return "\n\n".join(stanzas) + "\n"


@dataclass(frozen=True)
class AptSetup:
    mirror: str
    sources_text: str


def plan(deb822_text: str | None, list_text: str | None, release: str = RELEASE) -> AptSetup:
    """The mirror for debootstrap and the image's sources, from the host's files' text."""
    for parsed in (
        parse_deb822(deb822_text) if deb822_text is not None else [],
        parse_one_line(list_text) if list_text is not None else [],
    ):
        mirror = mirror_of(parsed, release)
        if mirror is not None:
            return AptSetup(mirror, render(release_sources(parsed, release)))
    fallback = Source((DEFAULT_MIRROR,), (release, f"{release}-updates"), ("main",))
    return AptSetup(DEFAULT_MIRROR, render([fallback]))


def host_apt_setup() -> AptSetup:
    def read(path: Path) -> str | None:
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return plan(read(DEB822_FILE), read(LIST_FILE))
