"""tests/data holds copies of ../shared (corpus, seeds) so a clone tests on its own; when the
shared folder is beside the checkout, the copies must not have drifted from it."""

from pathlib import Path

import pytest

from tests.support import CORPUS, ROOT, SEEDS

SHARED = ROOT.parent / "shared"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared/ beside this checkout")
@pytest.mark.parametrize(("copy", "original"), [(CORPUS, "corpus"), (SEEDS, "providers/seeds")])
def test_copies_match_shared(copy: Path, original: str) -> None:
    source = SHARED / original
    names = sorted(p.name for p in source.iterdir())
    assert sorted(p.name for p in copy.iterdir()) == names
    for name in names:
        assert (copy / name).read_bytes() == (source / name).read_bytes(), name


def test_copies_are_present() -> None:
    assert len(list(CORPUS.glob("*.json"))) >= 9
    assert len(list(SEEDS.glob("*.txt"))) == 5
