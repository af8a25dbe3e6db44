#!/usr/bin/env bash
# Regenerates fuzz/corpus/seeds/<target>/ from the golden vectors
# (bgp-proto/tests/vectors/*.bin, when present) plus a few hand-made messages,
# and, for the configuration targets, from the real MetalLB samples
# (../shared/data/metallb-configs, when present) and k8s-adapter's sample and
# fixture configurations.
# Needs only bash and coreutils. Seed layout per target (see src/lib.rs):
#   message_decode, roundtrip, view:  ctx(4) + message
#   update_decode:                    ctx(4) + UPDATE body
#   attributes:                       ctx(4) + path-attribute field
#   nlri:                             ctx(4) + NLRI field
#   open_capabilities:                OPEN optional parameters
#   codec_stream:                     ctx(4) + chunk sizes(8) + stream
#   session:                          config(16) + operations (see fuzz_targets/session.rs)
#   config_legacy:                    the text of a legacy ConfigMap's data.config
#   config_crds:                      a YAML (or JSON) configuration file
# ctx = four_octet_as, extended_message, add_path bits, extended_next_hop bits
# (family bits: 1 IPv4 unicast, 2 IPv6 unicast, 4 IPv4 multicast, 8 IPv6 multicast).
set -euo pipefail
cd "$(dirname "$0")"
vectors=../bgp-proto/tests/vectors
out=corpus/seeds
targets=(message_decode roundtrip view update_decode attributes nlri open_capabilities codec_stream
  session config_legacy config_crds)
rm -rf "$out"
for t in "${targets[@]}"; do mkdir -p "$out/$t"; done

hex() { printf '%b' "$(printf '%s' "$1" | tr -d ' \n' | sed 's/../\\x&/g')"; }  # hex -> bytes
slice() { tail -c "+$(($2 + 1))" "$1" | head -c "$3"; }                           # file off len
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u16() { echo $(($(u8 "$1" "$2") * 256 + $(u8 "$1" $(($2 + 1))))); }
ctxhex() { printf '%02x%02x%02x%02x' "$1" "$2" "$3" "$4"; }

# One message file $1 with context hex $2 -> per-target seeds named $3.
add_message() {
  local m=$1 ctx=$2 name=$3 len ty
  len=$(stat -c %s "$m")
  ty=$(u8 "$m" 18)
  for t in message_decode roundtrip; do { hex "$ctx"; cat "$m"; } >"$out/$t/$name"; done
  case $ty in
    1) if [ "$len" -ge 29 ]; then
         if [ "$(u8 "$m" 28)" = 255 ] && [ "$len" -ge 32 ] && [ "$(u8 "$m" 29)" = 255 ]; then
           slice "$m" 32 $((len - 32)) >"$out/open_capabilities/$name"
         else
           slice "$m" 29 $((len - 29)) >"$out/open_capabilities/$name"
         fi
       fi ;;
    2) local wlen alen nlen
       { hex "$ctx"; cat "$m"; } >"$out/view/$name"
       { hex "$ctx"; slice "$m" 19 $((len - 19)); } >"$out/update_decode/$name"
       wlen=$(u16 "$m" 19)
       alen=$(u16 "$m" $((21 + wlen)))
       nlen=$((len - 23 - wlen - alen))
       if [ "$alen" -gt 0 ]; then { hex "$ctx"; slice "$m" $((23 + wlen)) "$alen"; } >"$out/attributes/$name"; fi
       if [ "$nlen" -gt 0 ]; then { hex "$ctx"; slice "$m" $((23 + wlen + alen)) "$nlen"; } >"$out/nlri/$name"; fi ;;
  esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Golden vectors: the context comes from manifest.json (pretty-printed, one key a line).
if compgen -G "$vectors/*.bin" >/dev/null; then
  for bin in "$vectors"/*.bin; do
    base=$(basename "$bin" .bin)
    read -r four ext ap < <(awk -v f="$(basename "$bin")" '
      /"file":/ { cur = ($2 == "\"" f "\",") }
      cur && /"four_octet_as":/ { four = ($2 ~ /true/) }
      cur && /"extended_message":/ { ext = ($2 ~ /true/) }
      cur && /"add_path":/ { inap = 1 }
      cur && inap && /ipv4-unicast/ { ap += 1 }
      cur && inap && /ipv6-unicast/ { ap += 2 }
      cur && inap && /ipv4-multicast/ { ap += 4 }
      cur && inap && /ipv6-multicast/ { ap += 8 }
      inap && /\]/ { inap = 0 }
      END { print four + 0, ext + 0, ap + 0 }' "$vectors/manifest.json")
    ctx=$(ctxhex "$four" "$ext" "$ap" 0)
    size=$(stat -c %s "$bin") off=0 i=0
    while [ $((off + 19)) -le "$size" ]; do
      len=$(u16 "$bin" $((off + 16)))
      [ "$len" -ge 19 ] || break
      slice "$bin" "$off" "$len" >"$tmp/m"
      add_message "$tmp/m" "$ctx" "$base-$(printf %02d $i)"
      off=$((off + len)) i=$((i + 1))
    done
    # The whole stream, in 1-octet chunks, in 256-octet chunks and in uneven ones.
    for chunks in 0000000000000000 ffffffffffffffff 12003f0402ff0710; do
      { hex "$ctx$chunks"; cat "$bin"; } >"$out/codec_stream/$base-$chunks"
    done
  done
fi

# Hand-made messages (marker + length + type + body, all in hex).
msg() { local body=$2; printf 'ffffffffffffffffffffffffffffffff%04x%02x%s' $((19 + ${#body} / 2)) "$1" "$body"; }
n8() { printf %02x $((${#1} / 2)); }   # length of a hex string in octets, 1 octet
n16() { printf %04x $((${#1} / 2)); }  # same, 2 octets
keepalive=$(msg 4 '')
# OPEN AS 65001, hold 90, id 192.0.2.1, one parameter with: MP IPv4 and IPv6 unicast,
# route refresh, enhanced route refresh, extended message, graceful restart (120 s,
# IPv4 unicast), 4-octet AS 4200000001, ADD-PATH IPv4 unicast send/receive,
# extended next hop (IPv4 unicast over IPv6), FQDN host.domain.
caps=010400010001 caps+=010400020001 caps+=0200 caps+=4600 caps+=0600
caps+=400600780001 caps+=0180 caps+=4104fa56ea01 caps+=450400010103
caps+=0506000100010002 caps+=490c04686f737406646f6d61696e
param=02$(n8 "$caps")$caps
open=$(msg 1 "04fde9005ac0000201$(n8 "$param")$param")
# UPDATE: withdraw 198.51.100.0/24; ORIGIN IGP, AS_PATH 65001 65002 (4-octet),
# NEXT_HOP 192.0.2.1, MED 10, LOCAL_PREF 100, COMMUNITIES 65001:1 NO_EXPORT,
# LARGE_COMMUNITY 65001:1:2; NLRI 10.0.0.0/8, 203.0.113.0/24, 192.0.2.128/25.
wd=18c63364
attrs=40010100 attrs+=40020a02020000fde90000fdea attrs+=400304c0000201
attrs+=8004040000000a attrs+=40050400000064 attrs+=c00808fde90001ffffff01
attrs+=c0200c0000fde90000000100000002
nl=080a nl+=18cb0071 nl+=19c0000280
update=$(msg 2 "$(n16 "$wd")$wd$(n16 "$attrs")$attrs$nl")
# UPDATE: ORIGIN, AS_PATH 65001, MP_REACH IPv6 unicast (next hops 2001:db8::1 and
# fe80::1; 2001:db8:1::/48 and ::/0), MP_UNREACH 2001:db8:2::/48.
mpr=000201 mpr+=20 mpr+=20010db8000000000000000000000001 mpr+=fe800000000000000000000000000001
mpr+=00 mpr+=3020010db8000100
mpu=0002013020010db80002
attrs6=40010100 attrs6+=4002060201 attrs6+=0000fde9
attrs6+=900e$(n16 "$mpr")$mpr attrs6+=800f$(n8 "$mpu")$mpu
update6=$(msg 2 "0000$(n16 "$attrs6")$attrs6")
# End-of-RIB for IPv6 unicast: an UPDATE with only an empty MP_UNREACH_NLRI.
eor6=$(msg 2 00000006800f03000201)
# NOTIFICATION Cease / Administrative Shutdown with an RFC 9003 communication.
text=$(printf 'maintenance window, back at 02:00 UTC' | od -An -tx1 -v | tr -d ' \n')
notification=$(msg 3 "0602$(n8 "$text")$text")
refresh=$(msg 5 00010001)
modern=$(ctxhex 1 0 0 0)
for m in keepalive open update update6 eor6 notification refresh; do
  hex "${!m}" >"$tmp/m"
  add_message "$tmp/m" "$modern" "hand-$m"
done
{ hex "${modern}0300ff0010000002"; for m in open keepalive update update6 eor6 refresh notification; do hex "${!m}"; done; } \
  >"$out/codec_stream/hand-session"
# IPv6-looking NLRI (also valid IPv4 NLRI for short prefixes), with and without ADD-PATH.
hex "$(ctxhex 1 0 0 0)3020010db8000100" >"$out/nlri/hand-v6"
hex "$(ctxhex 1 0 3 0)000000013020010db800010000000218c63364" >"$out/nlri/hand-addpath"

# --- session: config(16) + operations (opcode octet + operands, see session.rs).
# Config octets: remote AS (2 = external: any AS but ours), mode (0 both,
# 1 active, 2 passive), hold, keepalive, delay open, idle hold, idle hold max,
# connect retry, families, ADD-PATH send, GR time(2), GR flags, receive limit,
# receive flags, flags (bit 0 extended message, bit 1 IPv6 transport).
be16() { printf '%04x' "$1"; }
op_bytes() { local data=$1; printf '0500%04x%s' $((${#data} / 2)) "$data"; }  # Bytes on connection 0
start=00 connect_in=0200 connect_out=0201 flush=0b
advance() { printf '07%08x%02x' "$1" "$2"; }          # ms, exact
announce() { printf '08%s%02x' "$1" "$2"; }           # prefix hex (4), attrs
p4_24=00000118 p6_120=01000278                        # 10.0.1.0/24-ish, 2001:db8::200/120-ish
cfg() { printf '%02x' "$@"; }                        # decimal octets -> hex
passive_rx=$(cfg 2 2 50 0 0 1 60 5 0 0 0 120 0 100 1 1)  # passive, hold 50, receive 100 (warn)
active=$(cfg 2 0 90 0 0 1 60 5 0 0 0 120 0 0 0 0)        # connect both ways, hold 90
gr_ap=$(cfg 2 2 90 0 4 1 60 5 0 3 0 120 3 10 3 3)        # DelayOpen 3 s, ADD-PATH send, GR restarting,
                                                          # receive 10 (drop), IPv6 transport
if compgen -G "$vectors/*.bin" >/dev/null; then
  for bin in "$vectors"/*.bin; do
    base=$(basename "$bin" .bin)
    stream=$(od -An -tx1 -v "$bin" | tr -d ' \n')
    # The whole stream in one chunk after an inbound connect, then routes, timers, stop.
    hex "$passive_rx$start$connect_in$(op_bytes "$stream")$(announce $p4_24 0)$(announce $p6_120 7)$flush$(advance 30000 1)$(advance 200000 0)01000000" \
      >"$out/session/$base-stream"
  done
  # Message by message, with routes announced before the session comes up.
  for bin in "$vectors"/bird-frr-ipv4.frr-to-bird.bin "$vectors"/exabgp-frr-as4.exabgp-to-frr.bin; do
    [ -f "$bin" ] || continue
    base=$(basename "$bin" .bin)
    size=$(stat -c %s "$bin") off=0 ops=""
    while [ $((off + 19)) -le "$size" ]; do
      len=$(u16 "$bin" $((off + 16)))
      [ "$len" -ge 19 ] || break
      ops+=$(op_bytes "$(slice "$bin" "$off" "$len" | od -An -tx1 -v | tr -d ' \n')")
      off=$((off + len))
    done
    hex "$active$(announce $p4_24 1)$(announce $p6_120 3)$start$connect_out$ops$(advance 5000 1)0900010203$flush$(advance 100000 1)" \
      >"$out/session/$base-messages"
  done
fi
# Hand-made: our OPEN (AS 65001) and KEEPALIVE from a peer, in several configurations.
for c in passive_rx active gr_ap; do
  name=hand-$c
  hex "${!c}$start$connect_out$connect_in$(op_bytes "$open$keepalive")$(op_bytes "$update$update6$eor6")$(announce $p4_24 2)$flush$(op_bytes "$refresh")$(advance 40000 1)$(op_bytes "$notification")$(advance 70000 1)" \
    >"$out/session/$name"
done
# Collision: two connections, OPENs on both, then the KEEPALIVE on the second.
hex "$active$start$connect_out$connect_in$(op_bytes "$open")0501$(be16 $((${#open} / 2)))${open}0501$(be16 19)$keepalive$(advance 1000 1)" \
  >"$out/session/hand-collision"

# --- config_legacy: the data.config text of legacy ConfigMaps.
samples=../../shared/data/metallb-configs
adapter=../k8s-adapter
data_config() { awk '/^  config: \|/ { on = 1; next } on && /^    / { print substr($0, 5); next } on && /^ *$/ { print ""; next } on { exit }' "$1"; }
for f in "$samples"/legacy-configmap/*.yaml "$adapter"/tests/fixtures/config/seed-configmap.yaml \
  "$adapter"/examples-data/metallb-config.yaml; do
  [ -f "$f" ] || continue
  data_config "$f" >"$out/config_legacy/$(basename "$f" .yaml)"
done
# --- config_crds: whole files (custom resources, lists, JSON, and ConfigMaps too).
for f in "$samples"/crds/*.yaml "$samples"/legacy-configmap/config-yaml-full.yaml \
  "$adapter"/tests/fixtures/config/*.yaml "$adapter"/tests/fixtures/config/dir/*.yaml \
  "$adapter"/tests/fixtures/config/dir/*.json; do
  [ -f "$f" ] || continue
  cp "$f" "$out/config_crds/$(basename "$f")"
done

# Drop duplicate contents within each target directory.
for t in "${targets[@]}"; do
  (cd "$out/$t" && sha1sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm -f --)
done
echo "seeds: $(find "$out" -type f | wc -l) files in $(cd "$out" && echo */ | wc -w) target directories"
