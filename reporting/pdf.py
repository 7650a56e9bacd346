"""HTML to PDF with WeasyPrint: the project's fonts, justified Chinese lines, and no file read
but the project's static files."""
from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import cffi
import weasyprint
from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline as weasy_inline
from weasyprint.text import line_break as weasy_line_break
from weasyprint.text.ffi import TO_UNITS, pango, pangoft2
from weasyprint.text.ffi import ffi as weasy_ffi
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reporting.fonts import font_dirs

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


# --- justified Chinese lines --------------------------------------------------------------
# WeasyPrint (70) justifies a line by widening its spaces only. A line of Chinese has none, so a
# line holding half-width digits stops short of the right edge by up to a character. Such a line
# is justified here the way CSS's `text-justify: inter-character` would for Chinese: the room left
# is shared out as extra letter-spacing after each ideograph and full-width mark (digits and
# Latin letters keep theirs, so that 78.10% is not spaced out), applied when the text is drawn.
# The two hooks below replace functions of WeasyPrint 70.0's layout (requirements.txt pins it).

#: a wider gap (a date or number pushed to the next line) is left ragged, not stretched: beyond about
#: 0.15 em a character the letters read as spaced out (6.96 mm a character where 5.57 mm is normal)
MAX_INTER_CHARACTER_EM = 0.15
_WIDE_RUN = re.compile("[\u2e80-\U0002ffff]+")  # CJK radicals to ideographs, full-width forms
_weasy_justify_line = weasy_inline.justify_line
_weasy_set_text = weasy_line_break.Layout.set_text


def _set_text(self, text, justify=False):
    _weasy_set_text(self, text, justify)
    extra = getattr(self, "inter_character", 0)
    if not extra or not self.text:
        return
    letter_spacing = self.style["letter_spacing"]
    spacing = (0 if letter_spacing == "normal" else letter_spacing) + extra
    attributes = pango.pango_layout_get_attributes(self.layout)
    if attributes == weasy_ffi.NULL:
        attributes = weasy_ffi.gc(pango.pango_attr_list_new(), pango.pango_attr_list_unref)
    for run in _WIDE_RUN.finditer(self.text):
        attribute = pango.pango_attr_letter_spacing_new(int(spacing * TO_UNITS))
        attribute.start_index = len(self.text[:run.start()].encode())
        attribute.end_index = len(self.text[:run.end()].encode())
        pango.pango_attr_list_change(attributes, attribute)
    pango.pango_layout_set_attributes(self.layout, attributes)


def _wide(text: str) -> int:
    return sum(len(run.group()) for run in _WIDE_RUN.finditer(text))


def _text_boxes(box):
    if isinstance(box, boxes.TextBox):
        yield box
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            yield from _text_boxes(child)


def _spread(box, spacing: float, x_advance: float) -> float:
    """Move `box` right by `x_advance` and widen its text by `spacing` a character."""
    if isinstance(box, boxes.TextBox):
        box.position_x += x_advance
        layout = weasy_line_break.Layout(box.style)
        layout.inter_character = spacing
        layout.set_text(box.text)
        layout.deactivate()
        box.pango_layout = layout
        extra = spacing * _wide(box.text)
        box.width += extra
        return x_advance + extra
    if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += x_advance
        before = x_advance
        for child in box.children:
            if child.is_in_normal_flow():
                x_advance = _spread(child, spacing, x_advance)
        box.width += x_advance - before
        return x_advance
    box.translate(x_advance, 0)  # an atomic inline
    return x_advance


def _justify_line(context, line, extra_width):
    if weasy_inline.count_expandable_spaces(line):
        return _weasy_justify_line(context, line, extra_width)
    characters = sum(_wide(box.text) for box in _text_boxes(line))
    if characters < 2 or extra_width <= 0:
        return None
    spacing = extra_width / characters
    if spacing <= MAX_INTER_CHARACTER_EM * line.style["font_size"]:
        _spread(line, spacing, 0)
    return None


weasy_inline.justify_line = _justify_line
weasy_line_break.Layout.set_text = _set_text


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


def layout(html: str, base_url: str | None = None) -> weasyprint.Document:
    """HTML laid out in pages (not yet written). Relative URLs resolve against `base_url`, by
    default the project directory, so that "static/circular.css" is found."""
    document = weasyprint.HTML(
        string=html,
        base_url=base_url or PROJECT_DIR.as_uri() + "/",
        url_fetcher=StaticOnlyFetcher(),
    )
    # Presentational hints make WeasyPrint read <col width>, which the annex tables use rather
    # than style attributes (the site's Content-Security-Policy allows no inline styles).
    return document.render(presentational_hints=True, font_config=ProjectFonts())


def _closing(pages: list) -> tuple[list, bool, bool] | None:
    """How a 通报 laid out in `pages` is closed (GB/T 9704: the 版记 ends it on an even page):
    None when it already does; else (the pages kept, whether the last page held the 版记 alone and
    was dropped, whether a blank page comes before the 版记's own page)."""
    alone = not _holds_content(pages[-1])
    if not alone and len(pages) % 2 == 0:
        return None
    body = pages[:-1] if alone else pages
    return body, alone, len(body) % 2 == 0


def closed_page_count(document: weasyprint.Document) -> int:
    """The pages a laid-out 通报 will have once create_pdf has closed it with its 版记, counted
    from the layout without laying out anything more."""
    closing = _closing(document.pages)
    if closing is None:
        return len(document.pages)
    body, _, blank = closing
    return len(body) + blank + 1


def create_pdf(html: str | weasyprint.Document, base_url: str | None = None, closing: str | None = None) -> bytes:
    """Render HTML, or a document `layout` has laid out already, to PDF bytes. Relative URLs
    resolve against `base_url`, by default the project directory.

    `closing` is for a 通报: the HTML of two pages, a blank one and the 版记 alone (neither
    numbered). The 版记, a footnote on the last page, must close the document on an even page:
    when it lands on an odd page, or stands alone on its page, the layout's last pages are
    replaced from `closing` (GB/T 9704: a blank page before the 版记 page if need be). This costs
    a layout of two small pages, not a second layout of the whole document; closed_page_count
    tells the count beforehand."""
    document = layout(html, base_url) if isinstance(html, str) else html
    if closing is None:
        return document.write_pdf()
    plan = _closing(document.pages)
    if plan is not None:
        body, alone, blank = plan
        blank_page, imprint = layout(closing, base_url).pages
        if not alone:  # the 版记 leaves the odd last page for the next, even one
            page_box = body[-1]._page_box
            page_box.children = [c for c in page_box.children if not isinstance(c, boxes.FootnoteAreaBox)]
        document = document.copy([*body, *([blank_page] if blank else []), imprint])
    return document.write_pdf()


def _holds_content(page) -> bool:
    """Whether a laid-out page shows anything of the document's flow (text, a chart) besides
    its footnotes and margin boxes."""
    stack = list(page._page_box.children[:1])  # the root box; footnotes and margins come after
    while stack:
        box = stack.pop()
        if isinstance(box, boxes.TextBox) and box.text.strip() or isinstance(box, boxes.ReplacedBox):
            return True
        stack.extend(getattr(box, "children", ()))
    return False
