"""Where the 通报's fonts come from: the bureau's own folder (FONTS_DIR), then the free fallbacks."""
from __future__ import annotations

import os
from pathlib import Path

#: The free faces `make fonts` fetches (FandolFang, FandolKai); the system's Noto CJK do the rest.
FALLBACK_FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"

_bureau_fonts_dir: Path | None = Path(os.environ["FONTS_DIR"]) if os.environ.get("FONTS_DIR") else None


def use_fonts_dir(path: str | os.PathLike | None) -> None:
    """The FONTS_DIR setting: a folder of the bureau's licensed fonts (方正小标宋简体, 仿宋_GB2312,
    楷体_GB2312, 黑体). The stylesheet names those faces before the fallbacks, so they win."""
    global _bureau_fonts_dir
    _bureau_fonts_dir = Path(path) if path else None


def font_dirs() -> list[Path]:
    """The folders a render adds to the system's fonts, the bureau's first."""
    return [folder for folder in (_bureau_fonts_dir, FALLBACK_FONTS_DIR) if folder and folder.is_dir()]
