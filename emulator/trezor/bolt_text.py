"""How a Trezor Model T (the "bolt" layout) lays text out: lines, pages and ellipses.

A port of trezor-firmware core/v2.12.4 core/embed/rust/src/ui/component/text/layout.rs
(`Span::fit_horizontally`, `TextLayout::layout_text`) and paragraphs.rs (`PageOffset::advance`,
the page-break iterator), with the metrics they use from layout_bolt: the fonts' glyph
advances (fonts/font_tthoves_regular_21.rs, font_robotomono_medium_20.rs; no kerning), the
theme's text styles (theme/mod.rs) and the geometry of a Frame over a ButtonPage or a Dialog
(frame.rs, page.rs, dialog.rs on the 240x240 screen). The output is what the firmware's debug
trace says of a Paragraphs component: per visible paragraph, its text pieces with "\\n" at line
breaks and "..." where a page cuts it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

ELLIPSIS = "..."


@dataclass(frozen=True)
class Font:
    height: int
    max_height: int
    baseline: int
    advances: bytes  # advance of ASCII 32..126
    nonprintable: int  # advance of any other character

    def char_width(self, ch: str) -> int:
        code = ord(ch)
        return self.advances[code - 32] if 32 <= code < 127 else self.nonprintable

    def text_width(self, text: str) -> int:
        return sum(self.char_width(ch) for ch in text)

    @property
    def line_height(self) -> int:
        return 4 + self.height  # constant::LINE_SPACE + text height


FONT_NORMAL = Font(  # TT Hoves Regular 21
    21,
    21,
    4,
    b"\x05\x05\x07\x0e\r\x10\r\x04\x07\x07\n\x0b\x04\t\x04\x07\x0e\x07\x0b\x0c\x0b\x0c\x0c\n"
    b"\x0c\x0c\x04\x04\x0b\x0b\x0b\x0b\x13\x0e\r\x0f\x0f\x0c\x0c\x10\x0f\x05\x08\x0c\x0b\x13"
    b"\x0f\x10\r\x10\r\r\x0c\x0e\x0e\x15\r\x0c\x0c\x07\x07\x07\t\t\x05\x0b\x0c\x0b\x0c\x0c\x07"
    b"\x0c\x0c\x05\x06\n\x05\x12\x0c\x0c\x0c\x0c\x07\n\x07\x0c\x0b\x11\n\n\t\x07\x07\x07\x0c",
    11,
)
FONT_MONO = Font(20, 22, 5, bytes([12] * 95), 12)  # Roboto Mono Medium 20: every glyph 12

# Widths of the page icons (layout_bolt/res/page-next.toif, page-prev.toif).
ICON_PAGE_NEXT_WIDTH = 54
ICON_PAGE_PREV_WIDTH = 48


class LineBreaking(enum.Enum):
    BREAK_AT_WHITESPACE = "at_whitespace"
    BREAK_WORDS_AND_INSERT_HYPHEN = "hyphen"
    BREAK_WORDS_NO_HYPHEN = "no_hyphen"


class PageBreaking(enum.Enum):
    CUT = "cut"
    CUT_AND_INSERT_ELLIPSIS = "ellipsis"
    CUT_AND_INSERT_ELLIPSIS_BOTH = "ellipsis_both"


@dataclass(frozen=True)
class Chunks:
    size: int
    x_offset: int
    max_rows: int | None = None


@dataclass(frozen=True)
class TextStyle:
    font: Font
    line_breaking: LineBreaking = LineBreaking.BREAK_AT_WHITESPACE
    page_breaking: PageBreaking = PageBreaking.CUT_AND_INSERT_ELLIPSIS
    ellipsis_icon: int | None = None  # icon width + margin, or "..." in the font
    prev_page_icon: int | None = None
    chunks: Chunks | None = None
    line_spacing: int = 0

    @property
    def ellipsis_width(self) -> int:
        return self.font.text_width(ELLIPSIS) if self.ellipsis_icon is None else self.ellipsis_icon

    @property
    def prev_page_ellipsis_width(self) -> int:
        if self.prev_page_icon is None:
            return self.font.text_width(ELLIPSIS)
        return self.prev_page_icon


TEXT_NORMAL = TextStyle(FONT_NORMAL)
TEXT_MONO = TextStyle(
    FONT_MONO,
    page_breaking=PageBreaking.CUT_AND_INSERT_ELLIPSIS_BOTH,
    ellipsis_icon=ICON_PAGE_NEXT_WIDTH,
    prev_page_icon=ICON_PAGE_PREV_WIDTH,
)
TEXT_MONO_DATA = replace(TEXT_MONO, line_breaking=LineBreaking.BREAK_WORDS_NO_HYPHEN)
TEXT_MONO_WITH_CLASSIC_ELLIPSIS = TextStyle(
    FONT_MONO,
    line_breaking=LineBreaking.BREAK_WORDS_NO_HYPHEN,
    page_breaking=PageBreaking.CUT_AND_INSERT_ELLIPSIS_BOTH,
    prev_page_icon=ICON_PAGE_PREV_WIDTH,
)
TEXT_MONO_ADDRESS_CHUNKS = replace(TEXT_MONO_DATA, chunks=Chunks(4, 9), line_spacing=5)
TEXT_MONO_ADDRESS_CHUNKS_SMALLER_X_OFFSET = replace(
    TEXT_MONO_DATA, chunks=Chunks(4, 7, 4), line_spacing=5, ellipsis_icon=ICON_PAGE_NEXT_WIDTH - 12
)


def chunkified_text_style(length: int) -> TextStyle:
    """theme::get_chunkified_text_style."""
    return (
        TEXT_MONO_ADDRESS_CHUNKS if length <= 16 * 4 else TEXT_MONO_ADDRESS_CHUNKS_SMALLER_X_OFFSET
    )


# Geometry (y from the top of the 240x240 screen). Frame: borders 6, a one-line title of
# TT Hoves Bold 17 (height 17), then BUTTON_SPACING 6; ButtonPage and Dialog: a 50 px button
# bar and 6 px spacing at the bottom; a paged ButtonPage gives 13 px to its scrollbar.
SCREEN = 240
BORDER = 6
CONTENT_TOP = BORDER + 17 + 6
CONTENT_BOTTOM = SCREEN - BORDER - 50 - 6
CONTENT_WIDTH = SCREEN - 2 * BORDER
SCROLLBAR = 5 + 8
PARAGRAPH_TOP_SPACE = -1
PARAGRAPH_BOTTOM_SPACE = 5


@dataclass
class _Span:
    length: int
    skip: int
    advance_x: int
    advance_y: int
    hyphen: bool = False


def fit_horizontally(
    text: str,
    max_width: int,
    font: Font,
    breaking: LineBreaking,
    line_ending_space: int,
    chunks: Chunks | None,
) -> _Span:
    """Span::fit_horizontally: the longest start of `text` that fits on one line."""
    fits_completely = font.text_width(text.rstrip()) <= max_width
    use_hyphens = breaking is not LineBreaking.BREAK_WORDS_NO_HYPHEN
    if fits_completely:
        use_hyphens, incomplete_end = False, 0
    elif line_ending_space > 0:
        use_hyphens, incomplete_end = False, line_ending_space
    elif use_hyphens:
        incomplete_end = font.char_width("-")
    else:
        incomplete_end = 0
    complete_end = 0 if fits_completely else line_ending_space
    line = _Span(0, 0, 0, font.line_height)
    span_width = 0
    found_whitespace = False
    for i, ch in enumerate(text):
        char_width = font.char_width(ch)
        if chunks is not None:
            final = min(len(text), chunks.size)
            chunk_width = font.text_width(text[:final])
            if chunk_width <= max_width:
                return _Span(final, 0, chunk_width + chunks.x_offset, 0)
            return _Span(0, 0, 0, font.line_height)
        if ch in " \n\r" and span_width + complete_end <= max_width:
            line = _Span(i, 1, span_width, line.advance_y)
            if ch == "\r":
                line.advance_y = font.line_height // 2
            if ch in "\n\r":
                return line
            found_whitespace = True
        elif span_width + char_width > max_width:
            return line
        else:
            room = span_width + char_width + incomplete_end <= max_width
            can_break = breaking is not LineBreaking.BREAK_AT_WHITESPACE or not found_whitespace
            if room and can_break:
                line = _Span(i + 1, 0, span_width + char_width, line.advance_y, use_hyphens)
        span_width += char_width
    return _Span(len(text), 0, span_width, 0)


@dataclass(frozen=True)
class Fit:
    fitting: bool
    processed: int
    height: int
    tokens: tuple[str, ...]


def layout_text(
    text: str,
    style: TextStyle,
    top: int,
    bottom: int,
    width: int,
    padding: tuple[int, int] = (0, 0),
    continues: bool = False,
) -> Fit:
    """TextLayout::layout_text with the debug trace's sink: what fits in top..bottom."""
    font = style.font
    padding_top, padding_bottom = padding
    cursor_y = top + font.max_height - font.baseline + padding_top
    init_y = cursor_y
    bottom_y = max(bottom - padding_bottom, top)
    tokens: list[str] = []

    def height() -> int:
        return padding_top + font.height + (cursor_y - init_y) + padding_bottom

    if cursor_y > bottom_y:
        return Fit(False, 0, 0, ())
    cursor_x = 0
    remaining = text
    num_lines = 1
    if style.page_breaking is PageBreaking.CUT_AND_INSERT_ELLIPSIS_BOTH and continues:
        tokens.append(ELLIPSIS)
        if style.chunks is not None:
            # The icon sits at the end of the first chunk's slot; text starts after it.
            cursor_x += style.chunks.size * font.char_width("a") + style.chunks.x_offset
        else:
            cursor_x += style.prev_page_ellipsis_width
        remaining = remaining.removeprefix("\r")
    while remaining:
        chunks = style.chunks
        force_next_page = bool(chunks and chunks.max_rows and num_lines >= chunks.max_rows)
        is_last_line = cursor_y + font.line_height + style.line_spacing > bottom_y
        is_last_line = is_last_line or force_next_page
        remaining_width = width - cursor_x
        span = fit_horizontally(
            remaining,
            remaining_width,
            font,
            style.line_breaking,
            style.ellipsis_width if is_last_line else 0,
            chunks,
        )
        if chunks is not None:
            is_last_chunk = (
                2 * span.advance_x - chunks.x_offset > remaining_width or span.length < chunks.size
            )
            if is_last_line and is_last_chunk and len(remaining) > chunks.size:
                span = _Span(0, 0, 2, bottom)
        if span.length > 0:
            tokens.append(remaining[: span.length])
        remaining = remaining[span.length + span.skip :]
        cursor_x += span.advance_x
        if span.advance_y > 0:
            num_lines += 1
            advance_y = span.advance_y + style.line_spacing
            if span.hyphen:
                tokens.append("-")
            if force_next_page or cursor_y + advance_y > bottom_y:
                if remaining and style.page_breaking is not PageBreaking.CUT and not span.hyphen:
                    tokens.append(ELLIPSIS)
                return Fit(False, len(text) - len(remaining), height(), tuple(tokens))
            cursor_x = 0
            cursor_y += advance_y
            tokens.append("\n")
    return Fit(True, len(text), height(), tuple(tokens))


@dataclass(frozen=True)
class Paragraph:
    text: str
    style: TextStyle
    padding_top: int = PARAGRAPH_TOP_SPACE
    padding_bottom: int = PARAGRAPH_BOTTOM_SPACE
    no_break: bool = False

    def fit(self, offset: int, top: int, bottom: int, width: int) -> Fit:
        return layout_text(
            self.text[offset:],
            self.style,
            top,
            bottom,
            width,
            (self.padding_top, self.padding_bottom),
            offset > 0,
        )


Page = list[tuple[str, ...]]


def _pair_to_next_page(
    key: Paragraph, value: Paragraph, remaining: int, full: int, width: int
) -> bool:
    """PageOffset::should_place_pair_on_next_page: keep a key with its value."""
    if remaining >= full:
        return False
    key_height = key.fit(0, 0, full, width).height
    value_height = value.fit(0, 0, full, width).height
    threshold = key.style.font.line_height + value.style.font.line_height
    if key_height + value_height > remaining:
        return (
            remaining <= threshold
            or (value_height > 0 and key_height > remaining)
            or key_height + value_height <= full
        )
    return False


def paginate(paragraphs: list[Paragraph], top: int, bottom: int, width: int) -> list[Page]:
    """Paragraphs broken into pages (dyn_change_offset over each page-break offset)."""
    pages: list[Page] = []
    par, chr_ = 0, 0
    full = bottom - top
    while par < len(paragraphs):
        page: Page = []
        area_top = top
        while par < len(paragraphs):
            paragraph = paragraphs[par]
            if not paragraph.text[chr_:]:
                par, chr_ = par + 1, 0
                continue
            if (
                paragraph.no_break
                and chr_ == 0
                and par + 1 < len(paragraphs)
                and _pair_to_next_page(
                    paragraph, paragraphs[par + 1], bottom - area_top, full, width
                )
            ):
                break
            fit = paragraph.fit(chr_, area_top, bottom, width)
            used_bottom = min(area_top + fit.height, bottom)
            if fit.height > 0:
                # The trace lays the text out again in the area it was given.
                page.append(paragraph.fit(chr_, area_top, used_bottom, width).tokens)
            if not fit.fitting:
                chr_ += fit.processed
                break
            par, chr_ = par + 1, 0
            area_top = used_bottom
        pages.append(page)
        if not page and par < len(paragraphs):
            raise ValueError("a paragraph that fits on no page")
    return pages or [[]]


def button_page(paragraphs: list[Paragraph], top: int = CONTENT_TOP) -> list[Page]:
    """ButtonPage::place: on one page at full width if it fits, else paged beside a scrollbar."""
    pages = paginate(paragraphs, top, CONTENT_BOTTOM, CONTENT_WIDTH)
    if len(pages) > 1:
        pages = paginate(paragraphs, top, CONTENT_BOTTOM, CONTENT_WIDTH - SCROLLBAR)
    return pages


# Button::cancel_info_confirm: an info button (44 px) and 6 px above the 50 px button row.
INFO_CONTROLS = 44 + 6


def dialog(paragraphs: list[Paragraph], info: bool) -> Page:
    """A Dialog shows the first page of its paragraphs only, above its buttons."""
    bottom = CONTENT_BOTTOM - (INFO_CONTROLS if info else 0)
    return paginate(paragraphs, CONTENT_TOP, bottom, CONTENT_WIDTH)[0]
