"""Isolation between allowed uids: a uid lists, reads and revokes only its own grants.

In process, with two Peer uids (no real users needed): the registry is called as the server
calls it. An admin uid (by default the daemon's own) sees every uid's grants.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from signerd.api import API, CallContext, Daemon
from signerd.config import Config
from signerd.daemon import assemble
from signerd.errors import GrantNotFound
from signerd.launch import DaemonProcess
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner
from tests.payments.factories import PAYEE, authorization, payment_grant_params
from tests.support import grant_params, make_grant, signerd_cli, start_simulator

ALICE = Peer(pid=101, uid=1000, gid=1000, exe="/usr/bin/agent")
BOB = Peer(pid=202, uid=1001, gid=1001, exe="/usr/bin/agent")
DAEMON_UID = Peer(pid=303, uid=os.getuid(), gid=os.getgid(), exe="/usr/bin/signerd")


async def call(daemon: Daemon, peer: Peer, method: str, params: dict[str, Any]) -> Any:
    ctx = CallContext(peer=peer, request_id=1, notify=lambda _m, _p: None, cancel=lambda _i: False)
    return await API.call(daemon, ctx, method, params)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    """A daemon whose store holds grant 1 of uid 1000 and grant 2 of uid 1001."""
    settings = Config(device="fake", data_dir=tmp_path, allowed_uids=frozenset({1000, 1001}))
    store = Store.open(tmp_path)
    now = time.time()
    store.add_grant(make_grant(1, created_at=now - 2, summary="one"))
    other = make_grant(2, created_at=now - 1, summary="two")
    store.add_grant(dataclasses.replace(other, peer_uid=1001))
    fake = FakeSigner(answer="approve")
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    yield dataclasses.replace(assemble(settings, worker, store), started_at=now)
    worker.close()
    store.close()


def ids(reply: dict[str, Any]) -> list[str]:
    return [g["id"] for g in reply["grants"]]


def test_a_uid_lists_only_its_own_grants(daemon: Daemon) -> None:
    alice, bob = make_grant(1).id, make_grant(2).id
    assert ids(run(call(daemon, ALICE, "signerd_listGrants", {}))) == [alice]
    assert ids(run(call(daemon, BOB, "signerd_listGrants", {}))) == [bob]


@pytest.mark.parametrize("method", ["signerd_getGrant", "signerd_revokeGrant"])
def test_another_uids_grant_is_not_found(daemon: Daemon, method: str) -> None:
    bob_grant = make_grant(2).id
    with pytest.raises(GrantNotFound) as refused:
        run(call(daemon, ALICE, method, {"id": bob_grant}))
    # The same answer as for an id that does not exist: nothing reveals the grant.
    with pytest.raises(GrantNotFound) as unknown:
        run(call(daemon, ALICE, method, {"id": "0x" + "77" * 32}))
    assert refused.value.code == unknown.value.code
    assert str(refused.value).replace(bob_grant, "X") == str(unknown.value).replace(
        "0x" + "77" * 32, "X"
    )
    stored = daemon.store.get_grant(bob_grant)
    assert stored is not None and stored.revoked_at is None
    # Its owner still reads and revokes it.
    assert run(call(daemon, BOB, "signerd_getGrant", {"id": bob_grant}))["id"] == bob_grant
    assert run(call(daemon, BOB, "signerd_revokeGrant", {"id": bob_grant}))["status"] == "revoked"


def test_a_page_cursor_of_another_uid_is_not_found(daemon: Daemon) -> None:
    with pytest.raises(GrantNotFound):
        run(call(daemon, ALICE, "signerd_listGrants", {"before": make_grant(2).id}))


def test_the_daemons_own_uid_sees_every_grant_by_default(daemon: Daemon) -> None:
    assert ids(run(call(daemon, DAEMON_UID, "signerd_listGrants", {}))) == [
        make_grant(2).id,
        make_grant(1).id,
    ]
    reply = run(call(daemon, DAEMON_UID, "signerd_revokeGrant", {"id": make_grant(1).id}))
    assert reply["status"] == "revoked"


def test_a_configured_admin_uid_sees_every_grant(daemon: Daemon) -> None:
    daemon.config = daemon.config.with_overrides(admin_uids=frozenset({1000}))
    assert len(ids(run(call(daemon, ALICE, "signerd_listGrants", {})))) == 2
    assert run(call(daemon, ALICE, "signerd_getGrant", {"id": make_grant(2).id}))
    assert len(ids(run(call(daemon, BOB, "signerd_listGrants", {})))) == 1


def test_the_cli_as_the_daemons_uid_lists_every_uids_grants(tmp_path: Path) -> None:
    """`signerd grants` runs as the daemon's own uid, the default admin: it sees the grants
    every uid requested (here one of uid 1000 and one of uid 1001, stored beforehand)."""
    device = start_simulator("trezor", tmp_path)
    try:
        daemon_data = tmp_path / "daemon" / "data"
        with Store.open(daemon_data) as store:
            store.add_grant(make_grant(1, created_at=time.time() - 2, summary="one"))
            other = make_grant(2, created_at=time.time() - 1, summary="two")
            store.add_grant(dataclasses.replace(other, peer_uid=1001))
        with DaemonProcess(device.path, tmp_path / "daemon") as daemon:
            listed = signerd_cli("grants", "--json", "--socket", str(daemon.socket_path))
        assert listed.returncode == 0, listed.stderr
        assert [g["id"] for g in json.loads(listed.stdout)["grants"]] == [
            make_grant(2).id,
            make_grant(1).id,
        ]
    finally:
        device.stop()


def test_a_uid_pays_from_and_reads_the_spends_of_only_its_own_grants(daemon: Daemon) -> None:
    """Held-key grants of two uids, one payment each: another uid's grant cannot be paid
    from, nor its budget or spends read (GRANT_NOT_FOUND, as for an unknown id)."""

    async def scenario() -> None:
        paid: dict[int, str] = {}
        for peer in (ALICE, BOB):
            params = {**payment_grant_params(PAYEE), "custody": "daemon"}  # no key of its own
            del params["sessionKey"]
            reply = await call(daemon, peer, "signerd_requestGrant", params)
            grant_id = reply["grant"]["id"]
            key = reply["grant"]["typedData"]["message"]["sessionKey"]
            payment = {"grantId": grant_id, "typedData": authorization(key, value=10)}
            await call(daemon, peer, "signerd_signPayment", payment)
            paid[peer.uid] = grant_id
        alice, bob = paid[ALICE.uid], paid[BOB.uid]
        alice_key = (await call(daemon, ALICE, "signerd_getGrant", {"id": alice}))["sessionKey"]

        refused = [
            ("signerd_signPayment", {"grantId": alice, "typedData": authorization(alice_key)}),
            ("signerd_getBudget", {"grantId": alice}),
            ("signerd_listSpends", {"grantId": alice}),
        ]
        for method, params in refused:
            with pytest.raises(GrantNotFound) as caught:
                await call(daemon, BOB, method, params)
            assert str(caught.value) == f"no grant {alice}", method

        def grants_of(reply: dict[str, Any]) -> list[str]:
            return [spend["grant_id"] for spend in reply["spends"]]

        assert grants_of(await call(daemon, BOB, "signerd_listSpends", {})) == [bob]
        assert grants_of(await call(daemon, ALICE, "signerd_listSpends", {})) == [alice]
        everyone = await call(daemon, DAEMON_UID, "signerd_listSpends", {})
        assert grants_of(everyone) == [bob, alice]
        budget = await call(daemon, ALICE, "signerd_getBudget", {"grantId": alice})
        assert budget["allowances"][0]["spent"] == "10"  # Bob's attempt spent nothing

    run(scenario())


def test_another_uid_learns_that_a_grant_is_revoked_but_not_why(daemon: Daemon) -> None:
    async def scenario() -> None:
        reply = await call(daemon, ALICE, "signerd_requestGrant", grant_params())
        grant = reply["grant"]
        revoke = {"id": grant["id"], "reason": "the agent leaked its logs"}
        await call(daemon, ALICE, "signerd_revokeGrant", revoke)
        for peer, detail in (
            (ALICE, "the agent leaked its logs"),
            (DAEMON_UID, "the agent leaked its logs"),
            (BOB, "by its person"),
        ):
            verdict = await call(daemon, peer, "signerd_verifyGrant", {"grant": grant})
            assert (verdict["valid"], verdict["reason"], verdict["detail"]) == (
                False,
                "revoked",
                detail,
            ), peer

    run(scenario())
