#!/usr/bin/env bash
# Capture real BGP traffic between real daemons (BIRD 2, FRR bgpd, GoBGP, ExaBGP)
# running in two private network namespaces joined by a veth pair.
#
#   gv-a (gv-veth-a, 10.99.0.1/24 [+10.99.0.3/24], fd00:99::1/64)
#   gv-b (gv-veth-b, 10.99.0.2/24 [+10.99.0.4/24], fd00:99::2/64)
#
# Usage:  sudo tools/capture-vectors/capture.sh [SESSION...]
#   SESSION is one of: bird-frr gobgp-bird-rr exabgp-frr bird-frr-as2 (default: all)
# Output: tools/capture-vectors/pcaps/<SESSION>.pcapng and pcaps/versions.txt
# Then run tools/capture-vectors/extract.py to (re)generate bgp-proto/tests/vectors.
#
# Needs root, iproute2 and: apt-get install -y bird2 frr gobgpd exabgp tshark
# All traffic stays on the veth pair inside the two namespaces created here.
# Everything started is killed by PID and the namespaces are deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CONF=$HERE/configs
OUT=${OUT:-$HERE/pcaps}
RUN=${RUN:-/tmp/gv-run}
NS_A=gv-a
NS_B=gv-b
ALL_SESSIONS=(bird-frr gobgp-bird-rr exabgp-frr bird-frr-as2)

log() { printf '[capture %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
for b in ip tshark bird birdc vtysh /usr/lib/frr/bgpd /usr/lib/frr/zebra gobgpd gobgp exabgp; do
  command -v "$b" >/dev/null || die "missing $b (apt-get install -y bird2 frr gobgpd exabgp tshark)"
done

# ---------------------------------------------------------------- process bookkeeping
declare -a PIDS=()          # every background process we started, in start order
declare -A PIDNAME=()

bg_start() {                # bg_start NAME CMD... ; stdout+stderr -> $RUN/NAME.log
  local name=$1; shift
  "$@" >"$RUN/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid"); PIDNAME[$pid]=$name
  log "started $name (pid $pid)"
}

stop_pid() {                # stop_pid PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {                # stop everything we started, newest first
  local i pid
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    pid=${PIDS[$i]}
    if kill -0 "$pid" 2>/dev/null; then log "stopping ${PIDNAME[$pid]:-?} (pid $pid)"; stop_pid "$pid"; fi
  done
  PIDS=()
}

# No daemon is allowed to fork (bird -f, FRR without -d, gobgpd/exabgp in the foreground),
# so the PID recorded by bg_start is the daemon itself (ip netns exec execs the command).
netns_down() {
  local ns
  for ns in $NS_A $NS_B; do
    if ip netns list | grep -qw "$ns"; then ip netns del "$ns"; fi
  done
}

cleanup() {
  local rc=$?
  stop_all
  netns_down
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- namespaces
netns_up() {
  netns_down
  ip netns add $NS_A
  ip netns add $NS_B
  ip link add gv-veth-a type veth peer name gv-veth-b
  ip link set gv-veth-a netns $NS_A
  ip link set gv-veth-b netns $NS_B
  local s ns i
  for s in a b; do
    ns=gv-$s; [ $s = a ] && i=1 || i=2
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      "net.ipv6.conf.gv-veth-$s.accept_dad=0"
    # fixed MACs => fixed link-local addresses fe80::ff:fe99:1 / fe80::ff:fe99:2
    ip -n "$ns" link set "gv-veth-$s" address "02:00:00:99:00:0$i"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.99.0.$i/24" dev "gv-veth-$s"
    ip -n "$ns" addr add "fd00:99::$i/64" dev "gv-veth-$s" nodad
    ip -n "$ns" link set "gv-veth-$s" up
  done
  ip -n $NS_A addr add 10.99.0.3/24 dev gv-veth-a       # second source address for multi-session tests
  ip -n $NS_A addr add fd00:99::3/64 dev gv-veth-a nodad
  ip -n $NS_B addr add 10.99.0.4/24 dev gv-veth-b       # second listen address (BIRD allows one session per neighbor IP)
  # wait for the link-local addresses to be usable
  for i in $(seq 50); do
    if ! ip -n $NS_A -6 addr show dev gv-veth-a | grep -q tentative &&
       ! ip -n $NS_B -6 addr show dev gv-veth-b | grep -q tentative; then break; fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------- capture
TSHARK_PID=
capture_start() {           # capture_start SESSION
  mkdir -p "$OUT"
  local f=$OUT/$1.pcapng
  rm -f "$f"
  # capture into $RUN (scratch) and copy into $OUT only once the capture is complete
  bg_start "tshark-$1" ip netns exec $NS_A tshark -n -i gv-veth-a -f 'tcp port 179' -w "$RUN/$1.pcapng"
  TSHARK_PID=${PIDS[-1]}
  local i
  for i in $(seq 100); do
    grep -q 'Capturing on' "$RUN/tshark-$1.log" 2>/dev/null && { sleep 0.5; return 0; }
    sleep 0.1
  done
  die "tshark did not start: $(cat "$RUN/tshark-$1.log")"
}
capture_stop() {            # capture_stop SESSION
  sleep 1
  stop_pid "$TSHARK_PID" INT
  cp "$RUN/$1.pcapng" "$OUT/$1.pcapng"
  log "capture written: $OUT/$1.pcapng ($(stat -c %s "$OUT/$1.pcapng") bytes)"
}

# ---------------------------------------------------------------- daemon helpers
# BIRD: foreground (-f) so that $! is bird itself; control socket in $RUN.
bird_start() {              # bird_start NS NAME CONFIG
  bg_start "$2" ip netns exec "$1" bird -f -c "$3" -s "$RUN/$2.ctl" -P "$RUN/$2.pid"
  local i; for i in $(seq 50); do [ -S "$RUN/$2.ctl" ] && return 0; sleep 0.1; done
  die "bird $2 did not create its control socket"
}
birdc_() { local n=$1; shift; birdc -s "$RUN/$n.ctl" "$@"; }

# FRR: zebra + bgpd, run as user frr (root is not in group frrvty, so -u root fails),
# sockets and pid files in a private directory, TCP vty disabled (-P 0).
frr_start() {               # frr_start NS NAME BGPD_CONFIG
  local ns=$1 name=$2 conf=$3 d=$RUN/$2
  mkdir -p "$d"; chown frr:frr "$d"; chmod 755 "$d"
  : >"$d/zebra.conf"; chown frr:frr "$d/zebra.conf"
  cp "$conf" "$d/bgpd.conf"; chown frr:frr "$d/bgpd.conf"
  bg_start "$name-zebra" ip netns exec "$ns" /usr/lib/frr/zebra -u frr -g frr \
    -z "$d/zserv.api" -i "$d/zebra.pid" --vty_socket "$d" -f "$d/zebra.conf" -P 0
  local i; for i in $(seq 50); do [ -S "$d/zserv.api" ] && break; sleep 0.1; done
  bg_start "$name-bgpd" ip netns exec "$ns" /usr/lib/frr/bgpd -u frr -g frr -n \
    -z "$d/zserv.api" -i "$d/bgpd.pid" --vty_socket "$d" -f "$d/bgpd.conf" -P 0
  for i in $(seq 50); do [ -S "$d/bgpd.vty" ] && return 0; sleep 0.1; done
  die "bgpd $name did not create its vty socket"
}
vtysh_() { local n=$1; shift; local a=(); local c; for c in "$@"; do a+=(-c "$c"); done; vtysh --vty_socket "$RUN/$n" "${a[@]}"; }

# GoBGP: gRPC API on the namespace's loopback.
gobgp_start() {             # gobgp_start NS NAME CONFIG
  bg_start "$2" ip netns exec "$1" gobgpd -f "$3" -t toml -p --api-hosts 127.0.0.1:50051 --pprof-disable
  local i; for i in $(seq 100); do ip netns exec "$1" gobgp -u 127.0.0.1 -p 50051 global >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "gobgpd $2 API did not come up"
}
gobgp_() { local ns=$1; shift; ip netns exec "$ns" gobgp -u 127.0.0.1 -p 50051 "$@"; }

# ExaBGP: configured only through environment variables (no /etc/exabgp needed).
exabgp_start() {            # exabgp_start NS NAME CONFIG
  bg_start "$2" ip netns exec "$1" env \
    exabgp.daemon.user=root exabgp.daemon.daemonize=false exabgp.daemon.drop=false \
    exabgp.log.destination=stdout exabgp.log.level=INFO exabgp.log.packets=false \
    exabgp.api.cli=false exabgp.tcp.bind= exabgp.tcp.port=179 \
    exabgp "$3"
}

wait_until() {              # wait_until TIMEOUT_S DESCRIPTION CMD...
  local t=$1 what=$2 i; shift 2
  for i in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && { log "ok: $what"; return 0; }; sleep 0.2; done
  die "timeout waiting for: $what"
}
bird_established() { birdc_ "$1" show protocols "$2" | grep -q Established; }
frr_established() { vtysh_ "$1" "show bgp neighbor $2 json" | grep -q '"bgpState":"Established"'; }
gobgp_established() { gobgp_ "$1" neighbor "$2" | grep -qi 'BGP state = established'; }

versions() {
  {
    echo "# generated by capture.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "bird: $(bird --version 2>&1 | head -1)"
    echo "frr: $(/usr/lib/frr/bgpd --version 2>&1 | head -1) ($(dpkg-query -W -f '${Version}' frr))"
    echo "gobgpd: $(gobgpd --version 2>&1 | head -1) ($(dpkg-query -W -f '${Version}' gobgpd))"
    echo "exabgp: $(exabgp --version 2>&1 | grep -m1 ExaBGP) ($(dpkg-query -W -f '${Version}' exabgp))"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "kernel: $(uname -r)"
  } >"$OUT/versions.txt"
}

# ---------------------------------------------------------------- sessions
# Each session: fresh namespaces, capture, daemons, scripted events, teardown.

session_bird_frr() {
  local s=bird-frr c=$CONF/bird-frr
  capture_start $s
  frr_start $NS_B frr "$c/frr.conf"
  bird_start $NS_A bird "$c/bird.conf"
  wait_until 60 "bird frr4 established" bird_established bird frr4
  wait_until 60 "bird frr6 established" bird_established bird frr6
  sleep 4                                   # initial UPDATEs + End-of-RIB
  log "withdrawals"
  birdc_ bird disable s4w; birdc_ bird disable s6w
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' 'address-family ipv4 unicast' \
    'no network 10.21.0.0/16' 'no network 10.22.128.0/17' 'exit-address-family' \
    'address-family ipv6 unicast' 'no network 2001:db8:b1::/48'
  sleep 3
  log "route refresh"
  vtysh_ frr 'clear bgp * soft in'          # FRR -> BIRD ROUTE-REFRESH (BIRD answers with BoRR/EoRR)
  sleep 2
  birdc_ bird reload in frr4                # BIRD -> FRR (enhanced) ROUTE-REFRESH
  birdc_ bird reload in frr6
  sleep 3
  log "re-announce"
  birdc_ bird enable s4w
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' 'address-family ipv6 unicast' \
    'network 2001:db8:b1::/48'
  sleep 3
  log "shutdown with shutdown communication"
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' \
    'neighbor 10.99.0.1 shutdown message gv capture: FRR closes the IPv4 session'
  birdc_ bird disable frr4                  # no reconnect attempts afterwards
  sleep 1
  birdc_ bird 'disable frr6 "gv capture: BIRD closes the IPv6 session"'
  sleep 2
  capture_stop $s
  stop_all
}

session_gobgp_bird_rr() {
  local s=gobgp-bird-rr c=$CONF/gobgp-bird-rr
  capture_start $s
  gobgp_start $NS_B gobgp "$c/gobgpd.toml"
  bird_start $NS_A bird "$c/bird.conf"
  wait_until 60 "rr1 established" gobgp_established $NS_B 10.99.0.1
  wait_until 60 "rr2 established" gobgp_established $NS_B 10.99.0.3
  sleep 3
  log "GoBGP originates routes"
  gobgp_ $NS_B global rib add -a ipv4 10.33.0.0/24 origin igp nexthop 10.99.0.2 med 33 local-pref 333 \
    community 65010:33,65010:34 large-community 65010:3:3
  gobgp_ $NS_B global rib add -a ipv4 10.33.1.0/24 origin egp nexthop 10.99.0.2 med 33 local-pref 333 \
    community 65010:33,65010:34 large-community 65010:3:3
  gobgp_ $NS_B global rib add -a ipv4 10.34.0.0/16 aspath 64700,64701 nexthop 10.99.0.2 aigp metric 200 \
    community no-export
  gobgp_ $NS_B global rib add -a ipv4 10.35.0.0/24 origin incomplete nexthop 10.99.0.2 \
    aggregator 4200000010:10.99.0.2
  gobgp_ $NS_B global rib add -a ipv6 2001:db8:33::/48 nexthop fd00:99::2 local-pref 90 \
    large-community 65010:6:6
  sleep 3
  log "withdrawals"
  gobgp_ $NS_B global rib del -a ipv4 10.33.1.0/24
  birdc_ bird disable srr2w                 # withdrawn by BIRD rr2, reflected as withdrawal to rr1
  sleep 3
  log "route refresh"
  gobgp_ $NS_B neighbor 10.99.0.1 softresetin   # NB: GoBGP re-applies its Adj-RIB-In, sends no ROUTE-REFRESH
  sleep 2
  birdc_ bird reload in rr1                 # BIRD -> GoBGP ROUTE-REFRESH (ipv4 and ipv6)
  birdc_ bird reload in rr2
  sleep 3
  log "shutdown"
  # GoBGP 3.10 accepts --reason but still sends Cease/2 without a shutdown communication
  gobgp_ $NS_B neighbor 10.99.0.3 disable --reason "gv capture: GoBGP shuts down rr2"
  birdc_ bird disable rr2
  sleep 1
  birdc_ bird 'disable rr1 "gv capture: BIRD closes rr1"'
  sleep 2
  capture_stop $s
  stop_all
}

session_exabgp_frr() {
  local s=exabgp-frr c=$CONF/exabgp-frr
  sed "s#@CONFDIR@#$c#g" "$c/exabgp.conf" >"$RUN/exabgp.conf"
  capture_start $s
  frr_start $NS_B frr "$c/frr.conf"
  exabgp_start $NS_A exabgp "$RUN/exabgp.conf"
  wait_until 60 "exabgp A (4-octet AS) established" frr_established frr 10.99.0.1
  wait_until 60 "exabgp B (2-octet AS) established" frr_established frr 10.99.0.3
  # NOTE: no ROUTE-REFRESH towards ExaBGP: ExaBGP 4.2.21 resets the TCP connection (no
  # NOTIFICATION) when it receives one, which would split the session in two.
  sleep 12                                  # api.sh withdraws/announces ~10 s after start
  log "re-announce/withdraw from FRR"
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' 'address-family ipv4 unicast' 'no network 10.40.1.0/24'
  sleep 3
  log "shutdown (FRR keeps refusing ExaBGP's reconnects afterwards: empty TCP streams)"
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' \
    'neighbor 10.99.0.3 shutdown message gv capture: FRR closes the 2-octet AS session' \
    'neighbor 10.99.0.1 shutdown'
  sleep 2
  capture_stop $s
  stop_all
}

session_bird_frr_as2() {
  local s=bird-frr-as2 c=$CONF/bird-frr-as2
  capture_start $s
  frr_start $NS_B frr "$c/frr.conf"
  bird_start $NS_A bird "$c/bird.conf"
  wait_until 60 "bird as2 session established" bird_established bird frr
  sleep 4
  birdc_ bird disable st_w
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' 'address-family ipv4 unicast' 'no network 10.40.9.0/24'
  sleep 3
  vtysh_ frr 'configure terminal' 'router bgp 4200000002' \
    'neighbor 10.99.0.1 shutdown message gv capture: bye 2-octet BIRD'
  birdc_ bird disable frr
  sleep 2
  capture_stop $s
  stop_all
}

# ---------------------------------------------------------------- main
rm -rf "$RUN"; mkdir -p "$RUN"; chmod 755 "$RUN"
mkdir -p "$OUT"
versions
SESSIONS=("$@"); [ ${#SESSIONS[@]} -gt 0 ] || SESSIONS=("${ALL_SESSIONS[@]}")
for s in "${SESSIONS[@]}"; do
  fn=session_${s//-/_}
  declare -F "$fn" >/dev/null || die "unknown session $s (known: ${ALL_SESSIONS[*]})"
  log "=== session $s ==="
  netns_up
  "$fn"
  netns_down
done
log "done; logs in $RUN"
