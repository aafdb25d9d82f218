"""An instance a reload removes, as keepalived 2.2.7's clear_diff_vrrp announces it: with
`notify_deleted`, state DELETED (its notify_deleted script, the generic notify script with
DELETED, a DELETED line on the notify FIFOs); without it, FAULT as before notify_deleted existed
- and nothing at all when the instance already was in FAULT. No e-mail (keepalived's SMTP
notifier has no DELETED message)."""
from __future__ import annotations

from typing import Any

from keepalived_py.config.model import VrrpInstance
from keepalived_py.notify.fifo import vrrp_fifo_line
from keepalived_py.notify.scripts import vrrp_notify_args
from keepalived_py.vrrp import machine as m

DELETED = "DELETED"


def removed_as(inst: VrrpInstance, old: m.State) -> str | None:
    """The state announced for a removed instance that was in `old`; None: no announcement."""
    if inst.notify_deleted:
        return DELETED
    return None if old is m.State.FAULT else m.State.FAULT.value


def announce_deleted(notifier: Any, fifos: list[Any], inst: VrrpInstance, priority: int) -> None:
    """send_instance_notifies for VRRP_STATE_DELETED."""
    n = inst.notify
    if n.notify_deleted is not None:
        notifier.launch(n.notify_deleted)
    if n.notify is not None:
        notifier.launch(n.notify, vrrp_notify_args("INSTANCE", inst.name, DELETED, priority))
    line = vrrp_fifo_line("INSTANCE", inst.name, DELETED, priority)
    for f in fifos:
        f.write(line)
