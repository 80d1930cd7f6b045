"""The review flows of the simulated Ledger: pages of the SDK's use cases for the app's pairs.

Texts from ledger-secure-sdk lib_nbgl/src/nbgl_use_case_nanos.c (getLastPageInfo, the skip
page with its last words in bold, the blind-signing warning) and app-ethereum
src/nbgl/ui_sign_712.c (the title, "Sign message" / "Sign typed message?"). On a Nano every
page is laid out as the SDK does (`nano_text.py`): texts wrapped by pixel width, a long value
split over pages titled "name (1/2)", "name (2/2)".
"""

from __future__ import annotations

from emulator.ledger.nano_text import (
    EXTRABOLD_11PX,
    FONT_HEIGHT,
    NB_MAX_LINES,
    REGULAR_11PX,
    screen_lines,
    step_title,
    text_area,
    value_pages,
)
from emulator.ledger.screen import Page

SKIP_TEXT = "Press right button to continue message or \bpress both to skip\b"
REVIEW_TITLE = "Review typed message"
# A Stax/Flex page of pairs holds this many (the SDK fits as many as the screen allows).
PAIRS_PER_TOUCH_PAGE = 3


def info_lines(text1: str, text2: str | None = None, *, bold: bool = True) -> tuple[str, ...]:
    """A Nano centred-info page (nbgl_layoutAddCenteredInfo): a text, bold unless the page's
    style is REGULAR_INFO (the review's title, the skip page), and a regular one."""
    areas = [text_area(EXTRABOLD_11PX if bold else REGULAR_11PX, text1, NB_MAX_LINES, 0)]
    if text2 is not None:
        top = (len(areas[0]) + 1) * FONT_HEIGHT
        areas.append(text_area(REGULAR_11PX, text2, NB_MAX_LINES - 1, top))
    return screen_lines(areas)


def pair_pages(title: str, value: str) -> list[tuple[str, ...]]:
    """A Nano pair (nbgl_stepDrawText with a sub text): the value's pages, each under the
    title, "title (k/n)" when there are several."""
    parts = value_pages(value)
    pages = []
    for k, part in enumerate(parts):
        header = step_title(title, k + 1, len(parts))
        areas = [
            text_area(EXTRABOLD_11PX, header, 1, 0),
            text_area(REGULAR_11PX, part, NB_MAX_LINES - 1, FONT_HEIGHT + 2),
        ]
        pages.append(screen_lines(areas))
    return pages


# nbgl_useCaseReviewStatus's pages, (approved, rejected): every message the app signs
# (EIP-712 included) and an address verification.
MESSAGE_STATUS = (
    info_lines("Message signed", bold=False),
    info_lines("Message rejected", bold=False),
)
ADDRESS_STATUS = (
    info_lines("Address verified", bold=False),
    info_lines("Address verification cancelled", bold=False),
)
WARNING_LINES = info_lines("Blind signing ahead", "To accept risk, press both buttons")
SKIP_LINES = info_lines(SKIP_TEXT, bold=False)


def nano_review(pairs: list[tuple[str, str]], *, skippable: bool, operation: str) -> list[Page]:
    """The SDK's Nano advanced review behind the blind-signing warning.

    Warning (both: go on; right: "Reject transaction"), the title, each pair, then "Sign message"
    and "Reject <operation>". Skippable (verbose EIP-712): before every pair but the first a
    page "Press right button to continue message or press both to skip", where both buttons
    jump to "Sign message" (buttonSkipCallback: currentPage = nbPages - 2).
    """
    reject = Page(info_lines(f"Reject {operation}"), "reject", last=True)
    # The warning's own reject page comes from the warning flow (reviewWithWarnCtx), drawn
    # before the review's operation type is set: getLastPageInfo(false) then falls to
    # TYPE_TRANSACTION, which is what the real app shows for a typed message too.
    warning_reject = Page(info_lines("Reject transaction"), "reject", last=True)
    pages = [
        Page(WARNING_LINES, "accept", skip_to=2),
        warning_reject,
        Page(info_lines(REVIEW_TITLE, bold=False)),
    ]
    skip_pages: list[int] = []
    for i, pair in enumerate(pairs):
        if skippable and i > 0:
            skip_pages.append(len(pages))
            pages.append(Page(SKIP_LINES, "skip"))
        pages.extend(Page(lines) for lines in pair_pages(*pair))
    approve = len(pages)
    for index in skip_pages:
        pages[index] = Page(SKIP_LINES, "skip", skip_to=approve)
    return [*pages, Page(info_lines("Sign message"), "approve"), reject]


def touch_review(pairs: list[tuple[str, str]], finish: str) -> list[Page]:
    """Stax/Flex (nbgl_use_case.c): the title, pages of pairs each with "Skip" (both buttons
    here: straight to the final page), the final page, "Reject"."""
    pages = [Page((REVIEW_TITLE,))]
    groups = [
        pairs[i : i + PAIRS_PER_TOUCH_PAGE] for i in range(0, len(pairs), PAIRS_PER_TOUCH_PAGE)
    ]
    approve = len(pages) + len(groups)
    for group in groups:
        lines = ["Skip"] + [text for pair in group for text in pair]
        pages.append(Page(tuple(lines), "skip", skip_to=approve))
    return [*pages, Page((finish,), "approve"), Page(("Reject",), "reject", last=True)]
