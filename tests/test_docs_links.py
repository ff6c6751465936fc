"""Every relative link in the README and the docs points at a file that exists.

`nox -s docs` (mkdocs --strict) checks links between pages and their anchors; links to files
outside docs/ (sources, examples, azml-local's documents) are this test's to check, as GitHub
shows them. The parsing is the docs hook's (tools/docs_hooks.py), so both read links alike.
"""

import re
from pathlib import Path

import pytest

from tools.docs_hooks import FENCE, LINK, repo_target

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    ["README.md", "azml-local/README.md", "azml-local/CONTRACT.md"]
    + [str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")]
)


def _links(text: str) -> list[str]:
    links, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            links += [target for _, target in LINK.findall(line)]
    return links


def test_the_docs_pages_are_found():
    assert {"docs/index.md", "docs/components.md", "docs/cluster.md", "docs/guarantees.md",
            "docs/local-mode.md", "docs/architecture.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_at_existing_files(page):
    broken = []
    for target in _links((ROOT / page).read_text()):
        resolved = repo_target(page, target)
        if resolved is not None and not (ROOT / resolved).exists():
            broken.append(target)
    assert broken == [], f"{page} links to missing files: {broken}"


def test_the_link_parser_skips_code_and_urls():
    text = ("[a](docs/x.md) [b](https://example.com/y) [c](#here)\n"
            "```python\nf = outputs['m'](arg)\n```\n")
    assert _links(text) == ["docs/x.md", "https://example.com/y", "#here"]
    assert [repo_target("docs/p.md", t) for t in _links(text)] == ["docs/docs/x.md", None, None]
    assert repo_target("docs/p.md", "../pipelines/x.py#L3") == "pipelines/x.py"
    assert repo_target("README.md", "compiled/") == "compiled/"


def test_the_snippet_the_local_mode_page_includes_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    page = (ROOT / "docs" / "local-mode.md").read_text()
    for name in re.findall(r'^--8<-- "README\.md:([\w-]+)"$', page, flags=re.MULTILINE):
        assert readme.count(f"--8<-- [start:{name}]") == 1, name
        assert readme.count(f"--8<-- [end:{name}]") == 1, name
