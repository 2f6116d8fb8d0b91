"""Every image and every relative link in the README and docs/ points at a file of the repository.

Run on a clean clone (CI), a missing file here is one that was never committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _targets(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks are not links
    out = []
    for target in LINK.findall(text):
        path = target.split("#", 1)[0]
        if path and "://" not in path and not path.startswith("mailto:"):
            out.append(path)
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_exists(page: Path) -> None:
    missing = [t for t in _targets(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_results_pages_show_their_charts() -> None:
    for page in ("results.md", "claims.zh.md"):
        images = [t for t in _targets(ROOT / "docs" / page) if t.endswith(".png")]
        assert images, f"docs/{page} shows no chart"
