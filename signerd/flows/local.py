"""Grants signed by a device attached to this process, without a daemon (`signerd sign-grant`).

The request is checked as the daemon checks it (``parse_grant_request``), and the signature
is checked to recover to the device's account before the grant is returned. Nothing is
stored: the caller keeps the signed grant.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from signerd.devices import DEFAULT_DERIVATION_PATH, Notify, open_signer
from signerd.devices.discovery import resolve_device
from signerd.grants import (
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
)


def _ignore(_line: str) -> None:
    """The default ``notify``: nobody to tell."""


def sign_grant_locally(
    device_path: str,
    request: Mapping[str, Any],
    derivation_path: str = DEFAULT_DERIVATION_PATH,
    allow_blind_signing: bool = False,
    notify: Notify = _ignore,
) -> dict[str, Any]:
    """Have the device at ``device_path`` (or ``auto``) sign ``request``; the signed grant.

    ``notify`` gets the lines for the person: what the device will show, then the device's own
    prompts. Raises ValidationError for a bad request and the device errors of
    ``signerd.errors`` (UserRejected, DeviceUnavailable, ...).
    """
    checked = parse_grant_request(request, now=int(time.time()))
    agent = agent_description(checked.label, os.getuid(), os.getpid(), "signerd")
    signer_path = resolve_device(device_path)
    with open_signer(signer_path, allow_blind_signing=allow_blind_signing) as signer:
        account = signer.get_address(derivation_path)
        nonce = checked.nonce if checked.nonce is not None else int.from_bytes(os.urandom(8))
        typed_data = build_grant_typed_data(checked, account=account, agent=agent, nonce=nonce)
        notify(f"The device will show: {typed_data['message']['summary']}")
        signature = signer.sign_typed_data(typed_data, derivation_path, notify=notify)
    return signed_grant(typed_data, signature, account)
