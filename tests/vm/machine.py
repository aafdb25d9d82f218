"""Run one shell script inside the stock-kernel VM (image.py) and collect what it wrote.

The script runs as root in the guest with the host's filesystem as its (overlaid) root, the
checkout as its working directory and a writable directory shared with the host at
/run/kpvm (results come back there; the console log comes back on the serial port). KVM is
tried first when /dev/kvm opens; a nested /dev/kvm often cannot run a stock kernel (QEMU
aborts on an MSR, or the guest never prints its first line) — then the VM runs under TCG, and
that verdict is cached beside the image so later sessions go straight to TCG.
"""
from __future__ import annotations

import os
import platform
import selectors
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.vm import image

UP_MARK = b"kpvm: up"
KVM_PROBE = 25.0            # seconds for a KVM guest to print its first line


@dataclass
class Run:
    console: str
    seconds: float
    accel: str
    returncode: int | None      # the guest script's exit status (None: the VM died or timed out)


def _kvm_verdict_path() -> Path:
    return image.CACHE / f"kvm-unusable-{platform.release()}"


def accel_choice() -> list[str]:
    forced = os.environ.get("KP_VM_ACCEL")
    if forced in ("kvm", "tcg"):
        return [forced]
    if image.kvm_usable() and not _kvm_verdict_path().exists():
        return ["kvm", "tcg"]
    return ["tcg"]


def run(script: str, outdir: Path, env: dict[str, str], timeout: float) -> Run:
    """Boot, run `script` (sh) in the guest, power off. Raises TimeoutError past `timeout`."""
    img = image.prepare()
    outdir.mkdir(parents=True, exist_ok=True)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    (outdir / "cmd.sh").write_text(exports + 'cd "${KP_VM_CWD:-/}"\n' + script)
    last: Run | None = None
    for accel in accel_choice():
        last = _boot(img, outdir, accel, timeout, probe=accel == "kvm")
        if last is not None:
            return last
        _kvm_verdict_path().write_text("the stock kernel did not boot under this KVM\n")
    raise RuntimeError("the VM did not boot")


def _boot(img: image.Image, outdir: Path, accel: str, timeout: float, probe: bool) -> Run | None:
    cmd = image.qemu_command(img, outdir, accel, cpus=2)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    up = False
    try:
        while True:
            elapsed = time.monotonic() - t0
            if probe and not up and elapsed > KVM_PROBE:
                return None
            if elapsed > timeout:
                raise TimeoutError(f"VM still running after {timeout:.0f} s:\n"
                                   + buf.decode(errors="replace")[-3000:])
            for _key, _ in sel.select(1.0):
                chunk = proc.stdout.read(65536) or b""
                buf += chunk
                if not chunk and proc.poll() is not None:
                    break
            up = up or UP_MARK in buf
            if proc.poll() is not None:
                rest = proc.stdout.read() or b""
                buf += rest
                break
        if probe and not up:
            return None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        sel.close()
    text = buf.decode(errors="replace")
    rc = None
    for line in text.splitlines():
        if line.startswith("kpvm: rc="):
            rc = int(line.split("=", 1)[1])
    return Run(text, time.monotonic() - t0, accel, rc)
