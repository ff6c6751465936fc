"""MkDocs hooks (``hooks:`` in mkdocs.yml): the site's view of files outside docs/.

The pages link to sources, examples and the emulator's documents with ordinary relative links
(``../pipelines/train_register_deploy.py``), so the links work where the Markdown is read
(GitHub, an editor) and tests/test_docs_links.py can check that their targets exist. MkDocs only
knows docs/, so in the site:

- azml-local's README.md and CONTRACT.md are published as pages under ``azml-local/``, and links
  to them (from docs/ or from each other) point at those pages;
- a link to any other file outside docs/, which the site does not publish, is shown as that
  file's path in a code span instead of a broken link.

Fenced code blocks are left alone.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = "docs"
# Files outside docs/ the site publishes: path in the repository -> path in the site.
PUBLISHED = {
    "azml-local/README.md": "azml-local/README.md",
    "azml-local/CONTRACT.md": "azml-local/CONTRACT.md",
}
SOURCE = {site: repo for repo, site in PUBLISHED.items()}
LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repo_target(page_repo_path: str, target: str) -> str | None:
    """Return the repository path a relative link points at, or None for URLs and anchors."""
    if not target or SCHEME.match(target) or target.startswith(("#", "/")):
        return None
    path = target.split("#", 1)[0]
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), path))
    return resolved + "/" if path.endswith("/") else resolved


def _site_link(match: re.Match, page_repo_path: str, page_uri: str) -> str:
    text, target = match.groups()
    resolved = repo_target(page_repo_path, target)
    if resolved is None:
        return match.group(0)
    anchor = target[len(target.split("#", 1)[0]):]
    if resolved.startswith(DOCS + "/"):
        if page_repo_path.startswith(DOCS + "/"):
            return match.group(0)  # a page to a page: MkDocs resolves and checks it
        site = resolved[len(DOCS) + 1:]
    elif resolved in PUBLISHED:
        site = PUBLISHED[resolved]
    else:
        shown = f"`{resolved}`"
        return shown if text.strip("`") == resolved else f"{text} ({shown})"
    relative = posixpath.relpath(site, posixpath.dirname(page_uri) or ".")
    return f"[{text}]({relative}{anchor})"


def site_markdown(markdown: str, page_repo_path: str, page_uri: str) -> str:
    """Return ``markdown`` with its links outside docs/ made to work in the site."""
    lines, in_fence = [], False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            line = LINK.sub(lambda m: _site_link(m, page_repo_path, page_uri), line)
        lines.append(line)
    return "".join(lines)


def on_files(files, config):
    """Publish the files of PUBLISHED as pages of the site."""
    from mkdocs.structure.files import File  # only MkDocs needs it; the link test imports this

    for repo_path, site_path in PUBLISHED.items():
        files.append(File.generated(config, site_path, abs_src_path=str(ROOT / repo_path)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Rewrite the page's links to files outside docs/ (see the module docstring)."""
    uri = page.file.src_uri
    return site_markdown(markdown, SOURCE.get(uri, f"{DOCS}/{uri}"), uri)
