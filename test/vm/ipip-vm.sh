#!/bin/bash
# Opt-in end-to-end test of tabby's IPIP programming on a real ipip device.
#
# This machine's kernel has no ipip module (docs: /work/shared/platform.md §1),
# so the test boots Debian's cloud kernel, which has it, in a throwaway QEMU VM
# under TCG (software emulation; KVM here is PVM and cannot run a stock guest).
# The VM's init script carries the tunl0 programmes and block routes that
# tabby's own builders generate on the host (test/vm/ipip-vm-programme.ts):
#   node A: tunl0 absent  -> create, address, up      (netns made without the fallback tunl0)
#   node B: fallback tunl0 -> address, up in place     (what `modprobe ipip` leaves)
# and pings between the two namespaces across tunl0. Back on the host, tabby's
# read-back parser and planner check that both tunl0s converged.
#
# Usage: bash test/vm/ipip-vm.sh        (after `npx tsc -p tsconfig.json`)
# Needs: root when packages are missing (apt-get install), network for the
#        kernel .deb (about 26 MB). Takes about 10 s once everything is there.
# Env:   TABBY_VM_KERNEL_PKG  exact package (default: what linux-image-cloud-amd64 depends on)
#        TABBY_VM_KERNEL_DEB  use this .deb instead of downloading
#        TABBY_VM_CACHE       directory to keep the downloaded .deb between runs
#        TABBY_VM_TIMEOUT     seconds QEMU may run (default 240)
#        TABBY_VM_KEEP=1      keep the work directory (it is printed)
# Exit:  0 when every check passed, non-zero otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EMITTER=$ROOT/dist/test/vm/ipip-vm-programme.js
QEMU_TIMEOUT=${TABBY_VM_TIMEOUT:-240}
T_START=$(date +%s%N)

log() { echo "[ipip-vm] $*" >&2; }
die() { echo "[ipip-vm] FAIL: $*" >&2; exit 1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

[ -f "$EMITTER" ] || die "$EMITTER is missing: build first (npx tsc -p tsconfig.json)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tabby-ipip-vm.XXXXXX")
QEMU_PID=
cleanup() {
  local rc=$?
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then kill -KILL "$QEMU_PID" 2>/dev/null || true; fi
  if [ "${TABBY_VM_KEEP:-}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- packages
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null || true)" = "install ok installed" ] || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${need[*]}: run as root, or apt-get install --no-install-recommends ${need[*]}"
  log "installing ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$WORK/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 \
      || { tail -20 "$WORK/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
  fi
fi
BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -1)
[ -x "$BUSYBOX" ] || die "busybox-static installed but no busybox binary found"

# ---------------------------------------------------------------- kernel
resolve_kernel_pkg() {
  # The exact image the cloud meta-package points at; else the newest exact one.
  local p
  p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -1)
  [ -n "$p" ] || p=$(apt-cache search --names-only '^linux-image-[0-9].*-cloud-amd64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
  echo "$p"
}
if [ -n "${TABBY_VM_KERNEL_DEB:-}" ]; then
  DEB=$TABBY_VM_KERNEL_DEB
  [ -f "$DEB" ] || die "TABBY_VM_KERNEL_DEB=$DEB does not exist"
else
  PKG=${TABBY_VM_KERNEL_PKG:-$(resolve_kernel_pkg)}
  if [ -z "$PKG" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >>"$WORK/apt.log" 2>&1 || true
    PKG=$(resolve_kernel_pkg)
  fi
  [[ "$PKG" =~ ^linux-image-[0-9][0-9a-z.+~-]*-cloud-amd64$ ]] || die "no exact linux-image-*-cloud-amd64 package found (got '$PKG'); set TABBY_VM_KERNEL_PKG"
  DLDIR=${TABBY_VM_CACHE:-$WORK}
  mkdir -p "$DLDIR"
  DEB=$(ls "$DLDIR"/"${PKG}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$DEB" ]; then
    log "downloading $PKG"
    t=$(date +%s%N)
    (cd "$DLDIR" && apt-get download "$PKG" >"$WORK/download.log" 2>&1) || { tail -5 "$WORK/download.log" >&2; die "apt-get download $PKG failed"; }
    DEB=$(ls "$DLDIR"/"${PKG}"_*.deb | head -1)
    log "downloaded $(basename "$DEB") in $(ms_since "$t") ms"
  fi
fi
log "kernel package: $(basename "$DEB")"
dpkg-deb -x "$DEB" "$WORK/k"
KVER=$(ls "$WORK/k/lib/modules" | head -1)
VMLINUZ=$WORK/k/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no vmlinuz in $DEB"
MODDIR=$WORK/k/lib/modules/$KVER

# ---------------------------------------------------------------- initramfs
R=$WORK/root
mkdir -p "$R"/{bin,sbin,proc,sys,dev,run,lib64,mods,tabby,lib/x86_64-linux-gnu}
cp "$BUSYBOX" "$R/bin/busybox"
for a in sh mount insmod ping sleep cat echo mkdir poweroff; do ln -s busybox "$R/bin/$a"; done
cp "$(command -v ip)" "$R/sbin/ip"   # iproute2 (busybox ip has no netns, -batch, -j)
for l in $(ldd "$(command -v ip)" | awk '$3 ~ /^\// {print $3}'); do cp -L "$l" "$R/lib/x86_64-linux-gnu/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"

# Modules and their dependencies, in load order. No kmod on the host: the
# `depends=` field is read straight from each module's .modinfo strings.
declare -A SEEN=()
ORDER=()
module_file() { find "$MODDIR" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -1; }
add_module() {
  local name=$1 f plain deps d
  [ -n "${SEEN[$name]:-}" ] && return 0
  SEEN[$name]=1
  f=$(module_file "$name")
  [ -n "$f" ] || die "module $name not found in $KVER"
  plain=$WORK/$name.ko
  case "$f" in
    *.xz) xz -dc "$f" >"$plain" ;;
    *.zst) zstd -qdc "$f" >"$plain" ;;
    *) cp "$f" "$plain" ;;
  esac
  deps=$(tr '\0' '\n' <"$plain" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
  for d in $deps; do add_module "$d"; done
  cp "$plain" "$R/mods/$name.ko"
  ORDER+=("$name")
}
add_module veth
add_module ipip
printf '%s\n' "${ORDER[@]}" >"$R/mods/order"
log "modules: ${ORDER[*]}"

# The programmes, generated by tabby's builders.
node "$EMITTER" emit "$WORK/prog" >&2
# shellcheck disable=SC1091
. "$WORK/prog/vm.env"

{
  cat <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /run
mount -t devtmpfs dev /dev && exec </dev/console >/dev/console 2>&1
mkdir -p /run/netns
# Absolute /sbin/ip everywhere: busybox's shell prefers its own (much smaller) ip applet.
EOF
  echo "# --- generated on the host by tabby's IPIP programme builder (test/vm/ipip-vm-programme.ts)"
  for f in a.ipip.batch b.ipip.batch a.routes.batch b.routes.batch; do
    echo "cat > /tabby/$f <<'TABBY_EOF'"
    cat "$WORK/prog/$f"
    echo "TABBY_EOF"
  done
  cat "$WORK/prog/vm.env"
  cat <<'EOF'
# --- the test
st=loaded
for m in $(cat /mods/order); do insmod /mods/$m.ko || st=failed; done
echo "TABBY_MODULES all $st"
# A: a namespace without the fallback tunl0, so the programme's create path runs.
echo 1 > /proc/sys/net/core/fb_tunnels_only_for_init_net; /sbin/ip netns add a
echo 0 > /proc/sys/net/core/fb_tunnels_only_for_init_net; /sbin/ip netns add b
for n in a b; do
  if /sbin/ip -n $n link show tunl0 >/dev/null 2>&1; then echo "TABBY_PRE $n tunl0=present"; else echo "TABBY_PRE $n tunl0=absent"; fi
done
echo "TABBY_PREREAD b $(/sbin/ip -n b -d -j addr show dev tunl0)"
# The underlay: one veth between the two nodes.
/sbin/ip link add eth0 netns a type veth peer name eth0 netns b
/sbin/ip -n a addr add $A_ADDR dev eth0; /sbin/ip -n a link set eth0 up; /sbin/ip -n a link set lo up
/sbin/ip -n b addr add $B_ADDR dev eth0; /sbin/ip -n b link set eth0 up; /sbin/ip -n b link set lo up
for n in a b; do /sbin/ip -n $n -batch /tabby/$n.ipip.batch; echo "TABBY_APPLY $n ipip rc=$?"; done
# Stand-ins for workloads: an address of each node's block.
/sbin/ip -n a addr add $A_WORKLOAD/32 dev lo; /sbin/ip -n b addr add $B_WORKLOAD/32 dev lo
for n in a b; do /sbin/ip -n $n -batch /tabby/$n.routes.batch; echo "TABBY_ROUTES $n rc=$?"; done
for n in a b; do
  echo "TABBY_READBACK $n $(/sbin/ip -n $n -d -j addr show dev tunl0)"
  echo "TABBY_RTSHOW $n $(/sbin/ip -n $n route show proto 80)"
done
pingmark() {
  if /sbin/ip netns exec $1 ping -c 3 -W 2 $3 >/run/ping.out 2>&1; then echo "TABBY_PING $2 ok"; else echo "TABBY_PING $2 fail"; cat /run/ping.out; fi
}
pingmark a 'a->b-tunnel' $B_TUNNEL
pingmark a 'a->b-workload' $B_WORKLOAD
pingmark b 'b->a-tunnel' $A_TUNNEL
pingmark b 'b->a-workload' $A_WORKLOAD
for n in a b; do echo "TABBY_STATS $n $(/sbin/ip -n $n -s -j link show dev tunl0)"; done
echo "TABBY_DONE all"
poweroff -f
EOF
} >"$R/init"
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initrd.gz"

# ---------------------------------------------------------------- boot
log "booting $KVER under TCG (limit ${QEMU_TIMEOUT}s)"
T_BOOT=$(date +%s%N)
set +e
timeout --kill-after=5 "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
  -nographic -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1" </dev/null >"$WORK/console.log" 2>&1 &
QEMU_PID=$!
wait "$QEMU_PID"
QRC=$?
set -e
QEMU_PID=
BOOT_MS=$(ms_since "$T_BOOT")
log "qemu exit $QRC after $BOOT_MS ms"

show_log() { echo "----- console (TABBY lines and errors) -----" >&2; grep -aE 'TABBY_|rror|panic|Kernel|ping:' "$WORK/console.log" | tr -d '\r' | cut -c1-400 >&2 || true; }
if [ "$QRC" -ne 0 ]; then
  show_log
  [ "$QRC" -eq 124 ] && die "QEMU did not power off within ${QEMU_TIMEOUT}s"
  die "QEMU exited with $QRC"
fi

set +e
node "$EMITTER" check "$WORK/console.log"
CRC=$?
set -e
[ "$CRC" -eq 0 ] || { show_log; die "checks failed"; }
log "PASS: vm boot+test ${BOOT_MS} ms, total $(ms_since "$T_START") ms"
