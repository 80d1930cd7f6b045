"""`signerd revoke --on-chain`: revoke a grant and disable its delegation on chain, through
the daemon (signerd_disableDelegation); the device asks the person to sign the user
operation."""

from __future__ import annotations

from typing import Any

from signerd.cli.common import Spinner
from signerd.rpc.client import Client


def revoke_on_chain(client: Client, grant_id: str, reason: str | None) -> Any:
    params = {"grantId": grant_id} | ({"reason": reason} if reason else {})
    with Spinner("Confirm on your device", lazy=True) as spinner:
        return client.call("signerd_disableDelegation", params, on_progress=spinner.say)
