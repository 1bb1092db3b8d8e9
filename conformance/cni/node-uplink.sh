#!/bin/sh
# A --node-agent for certifying plugins that hang pods off a node's uplink
# (macvlan, ipvlan): gives each node namespace the suite makes an uplink
# named $KUBEPLUG_UPLINK (default kpuplink0), a veth pair with both ends up
# (some kernels lack the dummy driver), prints one ready line, and waits.
# On SIGTERM it removes the pair and ends; the namespace's removal would
# take it anyway.
# Use: kubeplug certify cni --node-agent "sh conformance/cni/node-uplink.sh" ...
set -eu
uplink="${KUBEPLUG_UPLINK:-kpuplink0}"
ip link add "$uplink" type veth peer name "${uplink}p"
ip link set "$uplink" up
ip link set "${uplink}p" up
echo "uplink $uplink ready"
sleeper=""
stop() {
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
  ip link del "$uplink" 2>/dev/null || true
  exit 0
}
trap stop TERM INT
while :; do
  sleep 3600 &
  sleeper=$!
  wait "$sleeper" || true
done
