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

    def bolt_pages(self) -> list[bolt.Page]:
        """The screen's pages as the Model T lays them out (empty if not ported)."""
        if not self.paragraphs:
            return []
        if self.dialog_info is None:
            return bolt.button_page(list(self.paragraphs))
        return [bolt.dialog(list(self.paragraphs), self.dialog_info)]

    def bolt_layout(self, page: int, pages: list[bolt.Page]) -> dict[str, Any]:
        """The Model T's trace of page `page`: Frame, Label, ButtonPage or Dialog, Paragraphs."""
        paragraphs = {"component": "Paragraphs", "paragraphs": [list(p) for p in pages[page]]}
        content: dict[str, Any]
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
        return layout

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
