"""The Latin-font twin of a circular: the same HTML, boxes and layout rules, set in DejaVu only.

The twin answers one question: how much of a circular's rendering time is owed to Chinese text
(CJK fonts, their fallback and subsetting, line breaking between ideographs) rather than to
WeasyPrint's layout of the same document. So it keeps every element, class, table cell, chart
and page rule, and changes only two things:

- every font stack (the stylesheet, the page-number margin boxes, the charts' SVG attributes)
  becomes DejaVu Serif or DejaVu Sans, which hold no CJK glyph;
- every rendered character outside Latin is replaced: an ideograph by two lowercase letters,
  with a space after every third ideograph so that lines can break as they do between
  ideographs, and full-width punctuation by its ASCII counterpart. Two DejaVu letters are about
  as wide as one ideograph, so the twin runs to about as many lines and pages; the bench
  prints both page counts.
"""
from __future__ import annotations

import re
from pathlib import Path

LATIN_SERIF, LATIN_SANS = "DejaVu Serif", "DejaVu Sans"
PUNCTUATION = {"，": ", ", "。": ". ", "、": ", ", "：": ": ", "；": "; ", "！": "! ", "？": "? ",
               "（": " (", "）": ") ", "〔": "[", "〕": "]", "【": "[", "】": "]", "《": "<", "》": ">",
               "“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "…": "...", "％": "%", "·": "-",
               "\u3000": "  "}
_TEXT = re.compile(r">([^<]+)<")
_SVG_FONT = re.compile(r'font-family="[^"]*"')
_DECLARED_FAMILY = re.compile(r"font-family:[^;}]+")
_FONT_SHORTHAND = re.compile(r"(font:\s*[\d.]+pt(?:/[\d.]+)?)\s[^;}]+")
_SANS_HINTS = ("黑体", "SimHei", "Sans")


def latin_text(text: str) -> str:
    out, run = [], 0
    for ch in text:
        if ch in PUNCTUATION:
            out.append(PUNCTUATION[ch])
            run = 0
        elif ord(ch) >= 0x2E80:  # CJK radicals, ideographs, symbols and full-width forms
            out.append(chr(ord("a") + ord(ch) % 26) + chr(ord("a") + ord(ch) // 26 % 26))
            run += 1
            if run % 3 == 0:
                out.append(" ")
        else:
            out.append(ch)
            run = 0
    return "".join(out)


def latin_stylesheet(css: str) -> str:
    def family(match: re.Match) -> str:
        sans = any(hint in match.group(0) for hint in _SANS_HINTS)
        return f'font-family: "{LATIN_SANS if sans else LATIN_SERIF}"'
    css = _DECLARED_FAMILY.sub(family, css)
    return _FONT_SHORTHAND.sub(lambda m: f'{m.group(1)} "{LATIN_SERIF}"', css)


def latin_twin(html: str, stylesheet: Path) -> str:
    """`html` as render_circular_html() writes it, with its stylesheet inlined and made Latin."""
    link = re.search(r'<link rel="stylesheet" href="[^"]*">', html)
    if link is None:
        raise ValueError("the circular's stylesheet link was not found")
    style = "<style>" + latin_stylesheet(stylesheet.read_text(encoding="utf-8")) + "</style>"
    head, body = html[:link.start()], html[link.end():]
    body = _SVG_FONT.sub(f'font-family="{LATIN_SANS}"', body)
    body = _TEXT.sub(lambda m: ">" + latin_text(m.group(1)) + "<", body)
    return head + style + body
