"""Connections from uids that are not served are logged once a minute per uid, with a count,
not once each: such a peer could otherwise flood the journal by connecting in a loop."""

from __future__ import annotations

import logging

import pytest

from signerd.rpc.peer import Peer, RefusedPeers

MALLORY = Peer(pid=66, uid=1002, gid=1002, exe="/usr/bin/python3")
EVE = Peer(pid=77, uid=1003, gid=1003, exe=None)


def test_refusals_are_logged_once_a_minute_per_uid(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    log = RefusedPeers(interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(10_000):
            log.refused(MALLORY)
        log.refused(EVE)
        now[0] += 61
        log.refused(MALLORY)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "refused peer uid 1002 (pid 66, /usr/bin/python3)",
        "refused peer uid 1003 (pid 77, None)",
        "refused peer uid 1002 (pid 66, /usr/bin/python3); 9999 more refused since the last line",
    ]
