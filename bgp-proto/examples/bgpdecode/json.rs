//! The normative `bgpdecode` JSON schema (docs/bgpdecode.md): one object per message.
#![allow(clippy::indexing_slicing)] // Keyed indexing of serde_json objects built here inserts and cannot panic.

use bgp_proto::attribute::{AttrValue, PathAttribute};
use bgp_proto::capability::{AddPathMode, Capability};
use bgp_proto::{Decoded, Message, NlriList};
use serde_json::{Value, json};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn prefixes(v: &NlriList) -> Value {
    v.iter().map(|n| Value::String(n.to_string())).collect()
}

/// The JSON object for one decoded message of `length` octets.
pub(crate) fn message(d: &Decoded, length: usize) -> Value {
    let mut o = match &d.message {
        Message::Open(open) => json!({
            "type": "open",
            "version": open.version,
            "my_as": open.my_as,
            "hold_time": open.hold_time,
            "bgp_id": open.bgp_id.to_string(),
            "capabilities": open.capabilities().map(capability).collect::<Vec<_>>(),
        }),
        Message::Update(u) => json!({
            "type": "update",
            "withdrawn": prefixes(&u.withdrawn),
            "attributes": u.attributes.iter().map(attribute).collect::<Vec<_>>(),
            "nlri": prefixes(&u.nlri),
        }),
        Message::Notification(n) => {
            let mut o = json!({
                "type": "notification",
                "code": n.code.0,
                "subcode": n.subcode,
                "data": hex(&n.data),
            });
            if let Some(m) = n.shutdown_message() {
                o["shutdown_message"] = json!(m);
            }
            o
        }
        Message::Keepalive => json!({ "type": "keepalive" }),
        Message::RouteRefresh(r) => json!({
            "type": "route-refresh",
            "afi": r.afi.0,
            "safi": r.safi.0,
            "subtype": r.subtype,
        }),
    };
    o["length"] = json!(length);
    if !d.errors.is_empty() {
        o["errors"] = d
            .errors
            .iter()
            .map(|e| {
                let n = e.kind.notification();
                json!({
                    "attribute": e.code.0,
                    "action": format!("{:?}", e.action),
                    "offset": e.offset,
                    "code": n.code.0,
                    "subcode": n.subcode,
                    "message": e.kind.to_string(),
                })
            })
            .collect();
    }
    o
}

fn capability(c: &Capability) -> Value {
    let mut o = json!({ "code": c.code().0 });
    match c {
        Capability::Multiprotocol(f) => {
            o["afi"] = json!(f.afi.0);
            o["safi"] = json!(f.safi.0);
        }
        Capability::FourOctetAs(a) => o["asn"] = json!(a),
        Capability::GracefulRestart(g) => {
            o["restart_flags"] = json!(g.flags);
            o["restart_time"] = json!(g.restart_time);
            o["families"] = g
                .families
                .iter()
                .map(
                    |f| json!({ "afi": f.family.afi.0, "safi": f.family.safi.0, "flags": f.flags }),
                )
                .collect();
        }
        Capability::AddPath(v) => {
            o["families"] = v
                .iter()
                .map(|e| {
                    let mode = match e.mode {
                        AddPathMode::Receive => "receive",
                        AddPathMode::Send => "send",
                        AddPathMode::Both => "both",
                    };
                    json!({ "afi": e.family.afi.0, "safi": e.family.safi.0, "send_receive": mode })
                })
                .collect();
        }
        Capability::ExtendedNextHop(v) => {
            o["entries"] = v
                .iter()
                .map(
                    |e| json!({ "afi": e.afi.0, "safi": e.safi, "next_hop_afi": e.next_hop_afi.0 }),
                )
                .collect();
        }
        Capability::Role(r) => o["role"] = json!(r.0),
        Capability::LongLivedGracefulRestart(v) => {
            o["families"] = v
                .iter()
                .map(|f| {
                    json!({ "afi": f.family.afi.0, "safi": f.family.safi.0, "flags": f.flags, "stale_time": f.stale_time })
                })
                .collect();
        }
        Capability::Fqdn { hostname, domain } => {
            o["hostname"] = json!(String::from_utf8_lossy(hostname));
            o["domain"] = json!(String::from_utf8_lossy(domain));
        }
        Capability::Unknown { value, .. } => o["value"] = json!(hex(value)),
        _ => {}
    }
    o
}

fn attribute(a: &PathAttribute) -> Value {
    let mut o = json!({ "code": a.code().0, "flags": a.flags.0 });
    let segments = |p: &bgp_proto::attribute::AsPath| -> Value {
        p.segments()
            .map(|s| json!({ "type": s.kind().name(), "asns": s.asns().collect::<Vec<_>>() }))
            .collect()
    };
    match &a.value {
        AttrValue::Origin(v) => o["value"] = json!(*v as u8),
        AttrValue::AsPath(p) | AttrValue::As4Path(p) => o["segments"] = segments(p),
        AttrValue::NextHop(v) | AttrValue::OriginatorId(v) => o["value"] = json!(v.to_string()),
        AttrValue::MultiExitDisc(v) | AttrValue::LocalPref(v) | AttrValue::OnlyToCustomer(v) => {
            o["value"] = json!(v)
        }
        AttrValue::AtomicAggregate => {}
        AttrValue::Aggregator(g) | AttrValue::As4Aggregator(g) => {
            o["asn"] = json!(g.asn);
            o["address"] = json!(g.address.to_string());
        }
        AttrValue::Communities(l) => {
            o["values"] = l.iter().map(|c| json!(c.to_string())).collect();
        }
        AttrValue::LargeCommunities(l) => {
            o["values"] = l.iter().map(|c| json!(c.to_string())).collect();
        }
        AttrValue::ExtendedCommunities(l) => {
            o["values"] = l.iter().map(|c| json!(c.to_string())).collect();
        }
        AttrValue::Ipv6ExtendedCommunities(l) => {
            o["values"] = l.iter().map(|c| json!(c.to_string())).collect();
        }
        AttrValue::ClusterList(l) => {
            o["values"] = l.iter().map(|c| json!(c.to_string())).collect();
        }
        AttrValue::MpReach(m) => {
            o["afi"] = json!(m.family.afi.0);
            o["safi"] = json!(m.family.safi.0);
            o["next_hops"] = json!(m.next_hop.addresses());
            o["nlri"] = prefixes(&m.nlri);
            if !m.opaque_nlri.is_empty() {
                o["nlri_hex"] = json!(hex(&m.opaque_nlri));
            }
        }
        AttrValue::MpUnreach(m) => {
            o["afi"] = json!(m.family.afi.0);
            o["safi"] = json!(m.family.safi.0);
            o["withdrawn"] = prefixes(&m.withdrawn);
            if !m.opaque_withdrawn.is_empty() {
                o["withdrawn_hex"] = json!(hex(&m.opaque_withdrawn));
            }
        }
        AttrValue::Unknown(u) => o["value"] = json!(hex(&u.value)),
        _ => {}
    }
    o
}
