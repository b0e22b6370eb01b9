"""An HTTP emulator of CircleCI's v1.1/v2 REST API for the demo, tests and benchmarks.

In process::

    from analytics_provider.testing.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(seed=7, days=3, now="2026-11-20T12:00:00Z")) as emu:
        requests.get(f"{emu.base_url}/v2/me", headers={"api_key": "demo-key"})
        emu.truth("pipelines"); emu.state.advance(30); emu.stats()

In a subprocess (no GIL shared with the client): :func:`spawn_emulator`. From a shell:
``python -m analytics_provider.testing.emulator --port 8089``.
"""

from .config import EmulatorConfig
from .faults import FaultConfig, FaultRule, parse_faults
from .process import EmulatorProcess, spawn_emulator
from .server import Emulator
from .state import EmulatorState
from .truth import RESOURCES

__all__ = [
    "RESOURCES",
    "Emulator",
    "EmulatorConfig",
    "EmulatorProcess",
    "EmulatorState",
    "FaultConfig",
    "FaultRule",
    "parse_faults",
    "spawn_emulator",
]
