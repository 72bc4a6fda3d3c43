"""Atomic file replacement: readers see the old or the new content, never a mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop.files import atomic_write_text


def test_writes_a_new_file_and_creates_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.csv"
    atomic_write_text(target, "day,orders\r\n2024-01-01,3\r\n")
    assert target.read_bytes() == b"day,orders\r\n2024-01-01,3\r\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]


def test_a_write_that_fails_half_way_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old content\n")

    # The first 10,000 characters encode fine; the last one cannot be written as ASCII,
    # so the write fails after part of the new content reached the temporary file.
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "x" * 10_000 + "é", encoding="ascii")

    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_replacing_keeps_one_file_with_the_new_content(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert target.stat().st_mode & 0o777 == 0o644
