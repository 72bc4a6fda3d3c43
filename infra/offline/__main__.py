"""`python -m infra.offline build [--force]`: build the stand-in images (see __init__)."""

from __future__ import annotations

import argparse
import sys

from infra.offline.builder import LOG_DIR, Builder
from infra.offline.docker import DockerError
from infra.offline.rootfs import RootfsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.offline",
        description="Stand-in images for docker-compose.yml, built from Debian packages.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the images whose inputs changed")
    build.add_argument(
        "--force", action="store_true", help="rebuild every image, without docker's cache"
    )
    arguments = parser.parse_args(argv)
    try:
        Builder(force=arguments.force, report=lambda line: print(line, flush=True)).build_all()
    except (DockerError, RootfsError, OSError) as error:
        print(f"error: {error}\n(build logs: {LOG_DIR})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
