"""One screen of the simulated Trezor, rendered for the debug link, for tests and for a person.

Each screen renders three ways: the debug-link layout JSON trezorlib's `LayoutContent` parses
(on a Model T, the firmware's own trace of its Frame, ButtonPage or Dialog and Paragraphs,
page by page, laid out by `bolt_text`), a one-string text for tests, and a boxed block for a
person at the terminal.
"""

from __future__ import annotations

import enum
import textwrap
from dataclasses import dataclass
from typing import Any

from trezorlib import messages

from emulator.trezor import bolt_text as bolt
from emulator.trezor.bolt_text import Paragraph

BR = messages.ButtonRequestType

# Box width for the terminal rendering; wide enough for a checksummed address.
BOX_WIDTH = 46


class ScreenKind(enum.Enum):
    CONFIRM = "confirm"
    # "Show full …" prompts: YES goes on without opening, INFO opens the details.
    SHOW_MORE = "show_more"
    HOLD = "hold"
    # AddressDetails in a horizontal SimplePage: swipes turn its pages, its corner button
    # (or NO) closes it.
    DETAILS = "details"
    # show_mismatch: NO goes back, YES ("Quit") aborts; so an auto-reject presses YES.
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class DetailsPage:
    """One page of bolt's AddressDetails: a Frame (title, corner cancel button) over a QR
    code or over paragraphs."""

    title: str
    qr: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()


# AddressDetails pages: a Frame with a 44 px corner button (theme::CORNER_BUTTON_SIDE) above
# the content, no bottom border (borders_horizontal_scroll), over SimplePage's 18 + 4 px
# horizontal scrollbar.
DETAILS_TOP = bolt.BORDER + 44 + 6
DETAILS_BOTTOM = bolt.SCREEN - 18 - 4
# Where a touch hits a Frame's corner button (top right, inside the 6 px border).
CORNER_LEFT = bolt.SCREEN - bolt.BORDER - 44
CORNER_BOTTOM = bolt.BORDER + 44


@dataclass(frozen=True)
class Screen:
    title: str
    lines: tuple[str, ...]
    br_name: str
    br_code: messages.ButtonRequestType = BR.Other
    kind: ScreenKind = ScreenKind.CONFIRM
    more_label: str | None = None
    confirm_label: str = "Confirm"
    pages: int = 1  # what ButtonRequest.pages says on models without a text layout
    # Model T (bolt): the paragraphs the firmware lays out, and where: a ButtonPage (None) or
    # a Dialog with (True) or without (False) an info button; an empty tuple: not ported.
    paragraphs: tuple[Paragraph, ...] = ()
    dialog_info: bool | None = None
    bolt_title: str | None = None  # the Model T's title where it differs from the others'
    # Model T: a corner info button on the Frame.
    info_button: bool = False
    details: tuple[DetailsPage, ...] = ()  # ScreenKind.DETAILS: its pages

    def press_for_touch(self, x: int, y: int) -> messages.DebugButton | None:
        """The press a touch at (x, y) stands for on a Model T, if it hits a button the
        simulator knows: a "Show full ..." prompt's button (anywhere), a corner button."""
        if self.kind is ScreenKind.SHOW_MORE:
            return messages.DebugButton.INFO
        if x < CORNER_LEFT or y >= CORNER_BOTTOM:
            return None
        if self.kind is ScreenKind.DETAILS:
            return messages.DebugButton.NO
        return messages.DebugButton.INFO if self.info_button else None

    def bolt_pages(self) -> list[bolt.Page]:
        """The screen's pages as the Model T lays them out (empty if not ported)."""
        if self.details:
            width = bolt.CONTENT_WIDTH
            return [
                bolt.paginate(list(p.paragraphs), DETAILS_TOP, DETAILS_BOTTOM, width)[0]
                for p in self.details
            ]
        if not self.paragraphs:
            return []
        if self.kind is ScreenKind.MISMATCH:
            return [bolt.dialog(list(self.paragraphs), False)]
        if self.dialog_info is None:
            # With a corner button the header is at least that button's 44 px high.
            top = DETAILS_TOP if self.info_button else bolt.CONTENT_TOP
            return bolt.button_page(list(self.paragraphs), top)
        return [bolt.dialog(list(self.paragraphs), self.dialog_info)]

    def bolt_layout(self, page: int, pages: list[bolt.Page]) -> dict[str, Any]:
        """The Model T's trace of page `page`: Frame, Label, ButtonPage or Dialog, Paragraphs;
        SimplePage and AddressDetails; IconDialog."""
        paragraphs = {"component": "Paragraphs", "paragraphs": [list(p) for p in pages[page]]}
        if self.details:
            return self._details_layout(page, pages, paragraphs)
        content: dict[str, Any]
        if self.kind is ScreenKind.MISMATCH:
            # show_mismatch: no Frame; a back icon and "Quit" under the warning image.
            buttons = [{"component": "Button", "icon": True}, self.layout()["buttons"]["right_btn"]]
            return {
                "component": "IconDialog",
                "image": {"component": "BlendedImage"},
                "content": paragraphs,
                "controls": {
                    "component": "FixedHeightBar",
                    "inner": {"component": "Split", "first": buttons[0], "second": buttons[1]},
                },
            }
        if self.dialog_info is None:
            content = {
                "component": "ButtonPage",
                "active_page": page,
                "page_count": len(pages),
                "hold": self.kind is ScreenKind.HOLD,
                "content": paragraphs,
            }
        else:
            content = {"component": "Dialog", "content": paragraphs}
        layout = self.layout()
        layout.pop("page_count")
        layout["title"] = {"component": "Label", "text": self.bolt_title or self.title}
        layout["content"] = content
        if self.info_button:
            layout["button"] = {"component": "Button", "icon": True}
        return layout

    def _details_layout(
        self, page: int, pages: list[bolt.Page], paragraphs: dict[str, Any]
    ) -> dict[str, Any]:
        """SimplePage over AddressDetails, which traces only its current page's Frame."""
        shown = self.details[page]
        content: dict[str, Any] = paragraphs
        if shown.qr is not None:
            content = {"component": "Qr", "text": shown.qr}
        frame = {
            "component": "Frame",
            "title": {"component": "Label", "text": shown.title},
            "content": content,
            "button": {"component": "Button", "icon": True},
        }
        child = ("qr_code", "details", "xpub_view")[min(page, 2)]
        return {
            "component": "SimplePage",
            "active_page": page,
            "page_count": len(pages),
            "content": {"component": "AddressDetails", child: frame},
        }

    def text(self) -> str:
        """Title and body on one line each: what a test searches."""
        return "\n".join([self.title, *self.lines])

    def layout(self) -> dict[str, Any]:
        """Layout JSON as trezorlib's LayoutContent reads it (title, FormattedText, buttons)."""
        body: list[str] = []
        for i, line in enumerate(self.lines):
            if i:
                body.append("\n")
            body.append(line)
        right: dict[str, Any]
        if self.kind is ScreenKind.HOLD:
            right = {"component": "HoldToConfirm", "loader": {"text": self.confirm_label}}
        else:
            right = {"component": "Button", "text": self.confirm_label}
        buttons: dict[str, Any] = {
            "left_btn": {"component": "Button", "text": "Cancel"},
            "right_btn": right,
        }
        if self.more_label is not None:
            buttons["middle_btn"] = {"component": "Button", "text": self.more_label}
        return {
            "component": "Frame",
            "page_count": self.pages,
            "title": self.title,
            "content": {"component": "FormattedText", "text": body},
            "buttons": buttons,
        }

    def boxed(self) -> str:
        """The screen drawn as a box for the terminal."""
        inner = BOX_WIDTH - 4
        rows = [f"┌─ {self.title} ".ljust(BOX_WIDTH - 1, "─") + "┐"]
        for line in self.lines or ("",):
            for part in textwrap.wrap(line, inner, break_long_words=True) or [""]:
                rows.append(f"│ {part.ljust(inner)} │")
        keys = ["[n] Cancel"]
        if self.more_label is not None:
            keys.append(f"[i] {self.more_label}")
        keys.append(f"[y] {self.confirm_label}")
        rows.append("├" + "─" * (BOX_WIDTH - 2) + "┤")
        for part in textwrap.wrap("  ".join(keys), inner):
            rows.append(f"│ {part.ljust(inner)} │")
        rows.append("└" + "─" * (BOX_WIDTH - 2) + "┘")
        return "\n".join(rows)
