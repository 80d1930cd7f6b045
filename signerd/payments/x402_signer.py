"""x402's ``ClientEvmSigner`` backed by signerd: an agent pays with x402's own client.

    from x402 import x402ClientSync
    from x402.mechanisms.evm.exact import ExactEvmClientScheme
    signer = SignerdEvmSigner(Client(), grant_id)
    client = x402ClientSync()
    client.register("eip155:8453", ExactEvmClientScheme(signer))

x402 hands the signer its own dataclasses (a ``TypedDataDomain`` with snake_case fields,
``TypedDataField`` lists, the nonce as bytes); they become the ``eth_signTypedData_v4`` JSON
that ``signerd_signPayment`` takes. The daemon checks and signs; a refusal raises the
daemon's error (``PaymentRefused``, ``BudgetExceeded``...) out of x402's client.

Needs the ``x402`` package (``pip install signerd[x402]``); the daemon never imports this.
"""

from __future__ import annotations

from typing import Any

from x402.mechanisms.evm import TypedDataDomain, TypedDataField

from signerd.rpc.client import Client


class SignerdEvmSigner:
    """A ClientEvmSigner whose key is a grant's session key, held by the daemon."""

    def __init__(self, client: Client, grant_id: str) -> None:
        self._client = client
        self.grant_id = grant_id
        self._address = str(client.get_grant(grant_id)["sessionKey"])
        self.spends: list[dict[str, Any]] = []  # the ledger records of this signer's payments

    @property
    def address(self) -> str:
        return self._address

    def sign_typed_data(
        self,
        domain: TypedDataDomain,
        types: dict[str, list[TypedDataField]],
        primary_type: str,
        message: dict[str, Any],
    ) -> bytes:
        reply = self._client.sign_payment(
            self.grant_id, typed_data_json(domain, types, primary_type, message)
        )
        self.spends.append(reply["spend"])
        return bytes.fromhex(str(reply["signature"])[2:])


def typed_data_json(
    domain: TypedDataDomain,
    types: dict[str, list[TypedDataField]],
    primary_type: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    """x402's typed-data parts as ``eth_signTypedData_v4`` JSON (bytes as 0x hex)."""
    return {
        "domain": {
            "name": domain.name,
            "version": domain.version,
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        "types": {
            name: [{"name": f.name, "type": f.type} for f in fields]
            for name, fields in types.items()
        },
        "primaryType": primary_type,
        "message": {
            key: "0x" + value.hex() if isinstance(value, bytes) else value
            for key, value in message.items()
        },
    }
