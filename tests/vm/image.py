"""A throw-away virtual machine booting Debian 12's stock kernel, for the IPVS tests.

The host kernel may lack IPVS; Debian's stock `linux-image-amd64` has it (`ip_vs.ko`). The
kernel package is fetched with `apt-get download` (no install), unpacked into a cache
directory with its modules (`depmod` run there, so the guest's `modprobe` autoloads ip_vs),
and a tiny busybox initramfs loads the virtio/9p modules, mounts the host's root read-only over
9p under a tmpfs overlay, runs one command there and powers off. QEMU's `microvm` machine boots
that in seconds; everything is built once and cached (KP_VM_CACHE, default
/var/cache/keepalived-py-vm). Host tools needed: qemu-system-x86_64, busybox (static),
apt-get, dpkg-deb, depmod, cpio.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("KP_VM_CACHE", "/var/cache/keepalived-py-vm"))
BUSYBOX = "/bin/busybox"
QEMU = "qemu-system-x86_64"
# loaded by the initramfs, each after what it needs (modules.dep)
BOOT_MODULES = ("kernel/drivers/virtio/virtio_mmio.ko", "kernel/net/9p/9pnet_virtio.ko",
                "kernel/fs/9p/9p.ko", "kernel/fs/overlayfs/overlay.ko")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /lower /upper /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod /m/$m || echo "kpvm: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /lower || echo "kpvm: no root"
mount -t tmpfs -o size=1g tmpfs /upper
mkdir -p /upper/up /upper/work
if mount -t overlay -o lowerdir=/lower,upperdir=/upper/up,workdir=/upper/work overlay /root; then
  R=/root
else
  echo "kpvm: overlay failed, read-only root"; R=/lower
fi
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mount -t tmpfs tmpfs $R/run
# /tmp stays the overlay's (host's /tmp below, writes in the tmpfs upper): a checkout under /tmp
# (a CI clone) and its .venv must be visible in the guest; only a read-only root gets a tmpfs
[ "$R" = /root ] || mount -t tmpfs tmpfs $R/tmp
mkdir -p $R/dev/pts $R/dev/shm $R/run/kpvm $R/lib/modules
mount -t devpts devpts $R/dev/pts; mount -t tmpfs tmpfs $R/dev/shm
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose mods $R/lib/modules || echo "kpvm: no modules"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $R/run/kpvm || echo "kpvm: no out"
# the kernel's module autoload (ip_vs, its schedulers) runs in this initramfs's root: send it
# to the host's modprobe inside the guest root
printf '#!/bin/busybox sh\nexec /bin/busybox chroot %s /sbin/modprobe "$@"\n' $R > /kpmodprobe
chmod 755 /kpmodprobe
echo /kpmodprobe > /proc/sys/kernel/modprobe
ip link set lo up 2>/dev/null
echo "kpvm: up $(cut -d' ' -f1 /proc/uptime)"
chroot $R /bin/sh /run/kpvm/cmd.sh </dev/console >/dev/console 2>&1
echo "kpvm: rc=$?"
sync
poweroff -f
"""


@dataclass(frozen=True)
class Image:
    kernel: Path
    initrd: Path
    modules: Path       # the directory to mount on the guest's /lib/modules
    release: str


def missing_tools() -> list[str]:
    # the guest runs the host's programs: ipvsadm, curl and keepalived too
    tools = [QEMU, "apt-get", "dpkg-deb", "depmod", "cpio", "ipvsadm", "curl", "keepalived"]
    out = [t for t in tools if shutil.which(t) is None]
    if not os.path.exists(BUSYBOX) or not _static(BUSYBOX):
        out.append("busybox-static")
    return out


def _static(path: str) -> bool:
    with open(path, "rb") as f:
        return b"ld-linux" not in f.read(8192)      # no program interpreter named


def kernel_package() -> str:
    """The versioned package linux-image-amd64 depends on (linux-image-6.1.0-NN-amd64)."""
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*)", out)
    if m is None:
        raise RuntimeError(f"linux-image-amd64 has no kernel dependency: {out!r}")
    return m.group(1)


def prepare(cache: Path = CACHE) -> Image:
    """Download and unpack the kernel, build the initramfs; cached across runs."""
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / "root"
    boots = sorted(root.glob("boot/vmlinuz-*")) if root.exists() else []
    if not boots:
        pkg = kernel_package()
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run(["apt-get", "download", "-q", pkg], cwd=tmp, check=True,
                           capture_output=True)
            deb = next(Path(tmp).glob("*.deb"))
            part = cache / "root.part"
            shutil.rmtree(part, ignore_errors=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(part)], check=True)
            release = next(part.glob("boot/vmlinuz-*")).name.removeprefix("vmlinuz-")
            subprocess.run(["depmod", "-b", str(part), release], check=True)
            shutil.rmtree(root, ignore_errors=True)
            part.rename(root)
        boots = sorted(root.glob("boot/vmlinuz-*"))
    kernel = boots[-1]
    release = kernel.name.removeprefix("vmlinuz-")
    modules = root / "lib" / "modules"
    tag = hashlib.sha256((INIT + repr(BOOT_MODULES)).encode()).hexdigest()[:8]
    initrd = cache / f"initrd-{release}-{tag}.cpio.gz"
    if not initrd.exists():
        data = _initramfs(modules / release)
        tmp = initrd.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.rename(initrd)
    return Image(kernel, initrd, modules, release)


def _initramfs(moddir: Path) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        top = Path(d)
        (top / "bin").mkdir()
        shutil.copy(BUSYBOX, top / "bin" / "busybox")
        (top / "m").mkdir()
        names: list[str] = []
        for rel in _load_order(moddir, BOOT_MODULES):
            src = moddir / rel
            shutil.copy(src, top / "m" / src.name)
            names.append(src.name)
        (top / "modules.list").write_text("\n".join(names) + "\n")
        init = top / "init"
        init.write_text(INIT)
        init.chmod(init.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        files = subprocess.run(["find", "."], cwd=top, capture_output=True, check=True).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=top, input=files,
                              capture_output=True, check=True).stdout
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1) as z:
        z.write(cpio)
    return buf.getvalue()


def _load_order(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        name, _, rest = line.partition(":")
        deps[name] = rest.split()
    order: list[str] = []

    def visit(m: str) -> None:
        if m in order:
            return
        for d in reversed(deps.get(m, [])):
            visit(d)
        order.append(m)
    for m in wanted:
        visit(m)
    return order


def tsc_khz() -> int | None:
    """The host's TSC rate: a TCG guest's timer calibration can hang without it."""
    try:
        for line in open("/proc/cpuinfo", encoding="ascii", errors="replace"):
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    except OSError:
        pass
    return None


def kvm_usable() -> bool:
    """Can we open /dev/kvm? (KP_VM_ACCEL=tcg|kvm overrides the choice.)"""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def qemu_command(img: Image, outdir: Path, accel: str, memory_mb: int = 1024,
                 cpus: int = 1) -> list[str]:
    append = ["console=ttyS0", "quiet", "panic=-1", "rdinit=/init", "reboot=t",
              "8250.nr_uarts=1", "mitigations=off", "nokaslr"]
    if accel == "tcg":
        khz = tsc_khz()
        if khz:
            append += [f"tsc_early_khz={khz}", "tsc=reliable"]
    return [QEMU, "-M", "microvm,rtc=on", "-accel", accel if accel == "kvm" else "tcg,thread=multi",
            "-cpu", "host" if accel == "kvm" else "max",
            "-m", str(memory_mb), "-smp", str(cpus), "-nodefaults", "-no-user-config",
            "-nographic", "-serial", "stdio", "-no-reboot",
            "-kernel", str(img.kernel), "-initrd", str(img.initrd), "-append", " ".join(append),
            "-fsdev", "local,id=host,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-device,fsdev=host,mount_tag=host",
            "-fsdev", f"local,id=mods,path={img.modules},security_model=none,readonly=on",
            "-device", "virtio-9p-device,fsdev=mods,mount_tag=mods",
            "-fsdev", f"local,id=out,path={outdir},security_model=none",
            "-device", "virtio-9p-device,fsdev=out,mount_tag=out"]
