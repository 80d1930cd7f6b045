"""How a Nano S Plus lays text out: pixel-width wrapping, "name (k/n)" pages, Speculos' lines.

A port of ledger-secure-sdk v25.12.3's NBGL text layout for Nano (lib_nbgl/src/nbgl_fonts.c:
nbgl_getTextNbPagesInWidth, nbgl_getTextMaxLenInNbLines, nbgl_getTextNbLinesInWidth,
nbgl_getTextMaxLenAndWidth; nbgl_step.c displayTextPage; nbgl_obj.c draw_textArea;
nbgl_draw.c nbgl_drawText) and of the way Speculos' OCR (speculos/mcu/ocr.py add_character)
groups the drawn characters into text events. Lines are kept as the SDK draws them: a line
broken at a space or dash keeps it ("10 USDC/day on Base; "), one cut inside a word (an
address) does not.

The font metrics are the SDK's (lib_nbgl/include/fonts/nbgl_font_open_sans_regular_11.json and
..._extrabold_11.json, the Nano fonts): per character from " " to "~", its advance width and
its x_min, y_min, x_max, y_max offsets, each entry six characters "WWabcd" (decimal width,
hex offsets). Only ASCII is drawn; other characters are skipped, as a Nano without unicode
support does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Glyph:
    width: int
    x_min: int
    y_min: int
    x_max: int
    y_max: int


def _font(table: str) -> dict[str, Glyph]:
    entries = [table[i : i + 6] for i in range(0, len(table), 6)]
    return {
        chr(0x20 + i): Glyph(int(e[:2]), *(int(d, 16) for d in e[2:]))
        for i, e in enumerate(entries)
    }


REGULAR_11PX = _font(
    "040000042113052119081103072213102113102123032109041111042101071106071405041811052615042813"
    "051103072113072123072113072113092113072113072113072113072113072113042313041311072214072415"
    "072214062103112112081103082113082113092113072113072103092113092113042113040111082103072103"
    "112113092113102113082113102111082113072113082113092113081103111103081113071103072113052101"
    "051103051111071106060a1107302a072313082113062303082113072313061113071300082113042113040110"
    "072113042113112313082313082313082310082310052303062303051203082313071303101303072313071300"
    "061303052101074120051111072416"
)
EXTRABOLD_11PX = _font(
    "040000042103072108081103071002121113101103042118051111052101071106071205041702051505042703"
    "061103092113072113082113082113092113072113092113082113092113092113042303041302061203071405"
    "061203071113111102091103082113082113092113072113072103092113092113052113050110092103072103"
    "122113102113102113082113102111092113072103071103092113071103121103091103081103081103062101"
    "061103061111070116070a1108302a081313082103071303081113081303071113081300082113052113050110"
    "082103052113112313082313081303082300081310062303072303061203082313081303111303081303081300"
    "071303061101073120061101071406"
)
Font = dict[str, Glyph]

# nbgl_font_t of both fonts: kerning 1, height and line height 14, top row 2.
KERNING = 1
FONT_HEIGHT = 14
FONT_Y_MIN = 2
# nbgl_layout.h for Nano: 7 pixels each side of the 128-pixel screen, 4 lines a screen.
SCREEN_WIDTH = 128
BORDER = 7
AVAILABLE_WIDTH = SCREEN_WIDTH - 2 * BORDER
NB_MAX_LINES = 4
# speculos/mcu/ocr.py OCR.MAX_BLANK_SPACE_NANO: a wider gap starts a new text event.
OCR_MAX_BLANK = 12
DELIMITERS = " \n\b\f-_"
# "\b" switches between the two fonts (the SDK's texts set a few words in bold this way).
BOLD_SWITCH = "\b"


def other_font(font: Font) -> Font:
    return REGULAR_11PX if font is EXTRABOLD_11PX else EXTRABOLD_11PX


def char_width(font: Font, char: str) -> int:
    glyph = font.get(char)
    return 0 if glyph is None else glyph.width - KERNING


def nb_pages_in_width(font: Font, text: str, lines_per_page: int, max_width: int) -> int:
    """nbgl_getTextNbPagesInWidth."""
    width, nb_lines, nb_pages, i = 0, 0, 1, 0
    last_delim: int | None = None
    while i < len(text):
        prev, char = i, text[i]
        i += 1
        if char in DELIMITERS:
            last_delim = prev
        if char == "\f":
            nb_pages, nb_lines, width = nb_pages + 1, 0, 0
            continue
        if char == "\n":
            nb_lines += 1
            if nb_lines == lines_per_page and i < len(text):
                nb_pages, nb_lines = nb_pages + 1, 0
            width, last_delim = 0, None
            continue
        if char == BOLD_SWITCH:
            font = other_font(font)
            continue
        cw = char_width(font, char)
        if cw == 0:
            continue
        if width + cw > max_width:
            if last_delim is not None:
                i, last_delim, width = last_delim + 1, None, 0
            else:
                width = cw
            nb_lines += 1
            if nb_lines == lines_per_page:
                nb_pages, nb_lines = nb_pages + 1, 0
        else:
            width += cw
    return nb_pages


def max_len_in_nb_lines(font: Font, text: str, max_width: int, max_lines: int) -> int:
    """nbgl_getTextMaxLenInNbLines (wrapping): how much of `text` fills `max_lines` lines."""
    width, i = 0, 0
    last_delim: int | None = None
    while i < len(text) and max_lines > 0:
        prev, char = i, text[i]
        i += 1
        if char in DELIMITERS:
            last_delim = i
        if char == "\n":
            max_lines -= 1
            if max_lines == 0:
                i -= 1
            last_delim, width = None, 0
            continue
        if char == "\f":
            break
        if char == BOLD_SWITCH:
            font = other_font(font)
            continue
        cw = char_width(font, char)
        if cw == 0:
            continue
        if width + cw > max_width:
            if last_delim is not None:
                i, last_delim = last_delim, None
            else:
                i = prev
            width, max_lines = 0, max_lines - 1
            continue
        width += cw
    return i


def nb_lines_in_width(font: Font, text: str, max_width: int, wrapping: bool = True) -> int:
    """nbgl_getTextNbLinesInWidth (Nano: an empty last line does not count)."""
    width, nb_lines, i = 0, 0, 0
    last_delim: int | None = None
    while i < len(text):
        prev, char = i, text[i]
        i += 1
        if wrapping and char in DELIMITERS:
            last_delim = prev
        if char == "\f":
            break
        if char == "\n":
            nb_lines, width, last_delim = nb_lines + 1, 0, None
            continue
        if char == BOLD_SWITCH:
            font = other_font(font)
            continue
        cw = char_width(font, char)
        if cw == 0:
            continue
        if width + cw > max_width:
            if last_delim is not None:
                i, last_delim, width = last_delim + 1, None, 0
            else:
                width = cw
            nb_lines += 1
        else:
            width += cw
    return nb_lines + (width != 0)


def max_len_and_width(font: Font, text: str, max_width: int) -> tuple[int, int]:
    """nbgl_getTextMaxLenAndWidth (wrapping): the first line's length and pixel width."""
    length, width, len_at_delim, width_at_delim = 0, 0, 0, 0
    for char in text:
        if char in "\f\n":
            return length + 1, width
        if char == BOLD_SWITCH:
            font = other_font(font)
            length += 1
            continue
        cw = char_width(font, char)
        if cw == 0:
            length += 1
            continue
        if char in DELIMITERS:
            len_at_delim, width_at_delim = length, width
        if width + cw > max_width:
            if width_at_delim > 0:
                return len_at_delim + 1, width_at_delim
            return length, width
        length, width = length + 1, width + cw
    return length, width


def reduce_to_line(font: Font, text: str, max_width: int) -> str:
    """nbgl_textReduceOnNbLines on one line: the middle of `text` replaced by "..."."""
    half = (max_width - sum(char_width(font, c) for c in " ... ")) // 2
    width = 0
    for j, char in enumerate(text):
        cw = char_width(font, char)
        if cw == 0:
            continue
        if width + cw > half:
            count_down, tail = len(text), 0
            while tail < half:
                count_down -= 1
                tail += char_width(font, text[count_down])
            return text[: max(j - 1, 0)] + "..." + text[count_down + 1 :]
        width += cw
    return text


# nbgl_step.c: a step's title goes through a 36-byte sprintf buffer ("name (k/n)"), then a
# 24-byte one.
STEP_SPRINTF_LEN = 36
STEP_TITLE_LEN = 24


def step_title(title: str, page: int, pages: int) -> str:
    """displayTextPage's title: "title (k/n)" when paged, reduced to one line if too wide."""
    text = title if pages == 1 else f"{title} ({page}/{pages})"[: STEP_SPRINTF_LEN - 1]
    if nb_lines_in_width(EXTRABOLD_11PX, text, AVAILABLE_WIDTH, wrapping=False) > 1:
        return reduce_to_line(EXTRABOLD_11PX, text, AVAILABLE_WIDTH)
    return text[: STEP_TITLE_LEN - 1]


@dataclass(frozen=True)
class DrawnLine:
    """One line drawn by a text area: its characters and where it starts."""

    text: str
    x: int
    y: int
    font: Font


def text_area(font: Font, text: str, max_lines: int, top: int) -> list[DrawnLine]:
    """draw_textArea, centred, wrapping: the lines drawn of `text`, at most `max_lines`."""
    nb_lines = min(nb_lines_in_width(font, text, AVAILABLE_WIDTH), max_lines)
    lines: list[DrawnLine] = []
    for line in range(nb_lines):
        length, width = max_len_and_width(font, text, AVAILABLE_WIDTH)
        x = BORDER + (AVAILABLE_WIDTH - width) // 2
        lines.append(DrawnLine(text[:length], x, top + line * FONT_HEIGHT, font))
        font = font if text[:length].count(BOLD_SWITCH) % 2 == 0 else other_font(font)
        text = text[length:]
        if text.startswith("\n"):
            text = text[1:]
    return lines


def value_pages(value: str) -> list[str]:
    """The parts of a pair's value shown on each page (nbgl_step.c, sub text: 3 lines)."""
    lines = NB_MAX_LINES - 1
    count = nb_pages_in_width(REGULAR_11PX, value, lines, AVAILABLE_WIDTH)
    parts: list[str] = []
    rest = value
    for page in range(count):
        if page == count - 1:
            parts.append(rest)
            break
        length = max_len_in_nb_lines(REGULAR_11PX, rest, AVAILABLE_WIDTH, lines)
        parts.append(rest)
        rest = rest[length:]
        if rest.startswith("\n"):
            rest = rest[1:]
    return parts


@dataclass
class TextEvent:
    text: str
    x: int
    y: int
    w: int
    h: int


def ocr_events(lines: list[DrawnLine]) -> list[TextEvent]:
    """Speculos' text events for the characters drawn (OCR.add_character's grouping)."""
    events: list[TextEvent] = []
    for line in lines:
        x, font = line.x, line.font
        for char in line.text:
            if char == BOLD_SWITCH:
                font = other_font(font)
                continue
            glyph = font.get(char)
            if glyph is None:
                continue
            cx, cy = x + glyph.x_min, line.y + FONT_Y_MIN + glyph.y_min
            cw = glyph.width - glyph.x_min - glyph.x_max
            ch = FONT_HEIGHT - glyph.y_max - FONT_Y_MIN - glyph.y_min
            x += glyph.width - KERNING
            last = events[-1] if events else None
            if last and cy < last.y + last.h and abs(cx - (last.x + last.w)) < OCR_MAX_BLANK:
                top, bottom = min(cy, last.y), max(cy + ch, last.y + last.h)
                last.text += char
                last.w = cx + cw - last.x
                last.y, last.h = top, bottom - top
            else:
                events.append(TextEvent(char, cx, cy, cw, ch))
    return events


def screen_lines(areas: list[list[DrawnLine]]) -> tuple[str, ...]:
    """The texts Speculos reports for a screen made of these text areas, in drawing order."""
    return tuple(event.text for event in ocr_events([line for area in areas for line in area]))
