"""HTML to PDF with WeasyPrint, allowed to read nothing but the project's static files."""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import weasyprint
from weasyprint.urls import URLFetcher, URLFetcherResponse

PROJECT_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PROJECT_DIR / "static"


def static_file(url: str) -> Path | None:
    """The file a file: URL names, if it lies inside static/; None otherwise.

    The path is resolved first, so "static/../instance/app.db" and symlinks leading out
    of static/ are refused.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = Path(url2pathname(unquote(parts.path))).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return None
    return path


class StaticOnlyFetcher(URLFetcher):
    """Serves static/ and data: URLs; refuses every other file and all network URLs, so
    that text typed into a circular can never pull in a local file or a remote resource."""

    def fetch(self, url, headers=None):
        if urlsplit(url).scheme.lower() == "data":
            return super().fetch(url, headers)  # self-contained, reads nothing
        path = static_file(url)
        if path is None:
            raise ValueError(f"拒绝加载：{url}")
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime_type})


def create_pdf(html: str, base_url: str | None = None) -> bytes:
    """Render HTML to PDF bytes. Relative URLs resolve against `base_url`, by default the
    project directory, so that "static/circular.css" is found."""
    document = weasyprint.HTML(
        string=html,
        base_url=base_url or PROJECT_DIR.as_uri() + "/",
        url_fetcher=StaticOnlyFetcher(),
    )
    # Presentational hints make WeasyPrint read <col width>, which the annex tables use rather
    # than style attributes (the site's Content-Security-Policy allows no inline styles).
    return document.write_pdf(presentational_hints=True)
