"""The review flows of the simulated Ledger: pages of the SDK's use cases for the app's pairs.

Texts from ledger-secure-sdk lib_nbgl/src/nbgl_use_case_nanos.c (getLastPageInfo lines
1151-1220, the skip page lines 1283-1300, the blind-signing warning lines 2274-2283) and
app-ethereum src/nbgl/ui_sign_712.c (the title, "Sign message" / "Sign typed message?").
"""

from __future__ import annotations

from emulator.ledger.screen import Page

WARNING_LINES = ("Blind signing ahead", "To accept risk, press both buttons")
SKIP_TEXT = "Press right button to continue message or press both to skip"
REVIEW_TITLE = "Review typed message"
# A Stax/Flex page of pairs holds this many (the SDK fits as many as the screen allows).
PAIRS_PER_TOUCH_PAGE = 3


def nano_review(pairs: list[tuple[str, str]], *, skippable: bool, operation: str) -> list[Page]:
    """The SDK's Nano advanced review behind the blind-signing warning.

    Warning (both: go on; right: "Reject transaction"), the title, each pair, then "Sign message"
    and "Reject <operation>". Skippable (verbose EIP-712): before every pair but the first a
    page "Press right button to continue message or press both to skip", where both buttons
    jump to "Sign message" (buttonSkipCallback: currentPage = nbPages - 2).
    """
    reject = Page((f"Reject {operation}",), "reject", last=True)
    # The warning's own reject page comes from the warning flow (reviewWithWarnCtx), drawn
    # before the review's operation type is set: getLastPageInfo(false) then falls to
    # TYPE_TRANSACTION, which is what the real app shows for a typed message too.
    warning_reject = Page(("Reject transaction",), "reject", last=True)
    pages = [Page(WARNING_LINES, "accept", skip_to=2), warning_reject, Page((REVIEW_TITLE,))]
    skip_pages: list[int] = []
    for i, pair in enumerate(pairs):
        if skippable and i > 0:
            skip_pages.append(len(pages))
            pages.append(Page((SKIP_TEXT,), "skip"))
        pages.append(Page(pair))
    approve = len(pages)
    for index in skip_pages:
        pages[index] = Page((SKIP_TEXT,), "skip", skip_to=approve)
    return [*pages, Page(("Sign message",), "approve"), reject]


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
