"""HTML to PDF with WeasyPrint, allowed to read nothing but the project's static files."""
from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import cffi
import weasyprint
from weasyprint.text.ffi import ffi as weasy_ffi
from weasyprint.text.ffi import pangoft2
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .fonts import font_dirs

PROJECT_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PROJECT_DIR / "static"

_fc_ffi = cffi.FFI()
_fc_ffi.cdef("typedef struct _FcConfig FcConfig;"
             "int FcConfigAppFontAddDir (FcConfig *config, const unsigned char *dir);")
_fontconfig = _fc_ffi.dlopen("libfontconfig.so.1")


class ProjectFonts(FontConfiguration):
    """WeasyPrint's fontconfig set-up plus the font folders, as application fonts.

    fontconfig reads a folder from its cache (written on the first scan), so adding two CJK
    faces costs about a millisecond a render, where @font-face rules would copy megabytes."""

    def __init__(self):
        super().__init__()
        # The font map holds the configuration WeasyPrint just built (its `_config`).
        config = _fc_ffi.cast("FcConfig *", int(weasy_ffi.cast("uintptr_t", self._config)))
        for folder in font_dirs():
            _fontconfig.FcConfigAppFontAddDir(config, os.fsencode(folder))
        pangoft2.pango_fc_font_map_config_changed(weasy_ffi.cast("PangoFcFontMap *", self.font_map))


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


def _layout(html: str, base_url: str | None):
    document = weasyprint.HTML(
        string=html,
        base_url=base_url or PROJECT_DIR.as_uri() + "/",
        url_fetcher=StaticOnlyFetcher(),
    )
    # Presentational hints make WeasyPrint read <col width>, which the annex tables use rather
    # than style attributes (the site's Content-Security-Policy allows no inline styles).
    return document.render(presentational_hints=True, font_config=ProjectFonts())


def create_pdf(html: str, base_url: str | None = None,
               even: Callable[[str], str] | None = None) -> bytes:
    """Render HTML to PDF bytes. Relative URLs resolve against `base_url`, by default the
    project directory, so that "static/circular.css" is found. With `even`, a layout that ends
    on an odd page is done again from the HTML `even` makes of it (a 通报's 版记 turned onto
    an even page)."""
    document = _layout(html, base_url)
    if even is not None and len(document.pages) % 2:
        document = _layout(even(html), base_url)
    return document.write_pdf()
