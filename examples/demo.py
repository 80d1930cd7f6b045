"""`make demo`: a simulated Trezor, the daemon and an example agent, start to finish.

Everything runs in a temporary directory and is stopped at the end: the simulated Trezor
approves automatically and prints what its screen shows; the daemon serves on a private
socket, configured for a local chain with MetaMask's Delegation Framework; the example agent
requests a grant and verifies it; then an agent pays for x402 calls within a held-key grant
whose float the daemon tops up by redeeming the grant's delegation: the on-chain ceiling
refuses a second top-up, the off-chain budget the fourth purchase (examples/pay_demo.py);
the audit log is checked.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from emulator.trezor.launch import TrezorSimulatorProcess
from examples.pay_demo import demo_chain, pay_story
from signerd.launch import DaemonProcess

HERE = Path(__file__).resolve().parent


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="signerd-demo-") as tmp:
        workdir = Path(tmp)
        print("== starting the simulated Trezor (auto-approve; its screen is printed below)")
        with (
            TrezorSimulatorProcess(auto="approve", inherit_output=True) as trezor,
            demo_chain(workdir) as chain,
        ):
            print(f"== starting signerd on {trezor.path}")
            with DaemonProcess(trezor.path, workdir, config=chain.config) as daemon:
                print(f"== signerd is listening on {daemon.socket_path}")
                agent = subprocess.run(
                    [sys.executable, str(HERE / "agent.py"), "--socket", str(daemon.socket_path)]
                )
                paid = pay_story(daemon.socket_path, chain)
            print("== signerd stopped; its audit log:")
            audit = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "signerd.cli",
                    "audit",
                    "--verify",
                    "--data-dir",
                    str(daemon.data_dir),
                ]
            )
        print("== simulated Trezor stopped")
    ok = agent.returncode == 0 and paid and audit.returncode == 0
    print("== demo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
