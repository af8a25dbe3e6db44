//! `bgpdecode`: print raw BGP messages as JSON, one object per line.
//!
//! ```text
//! cargo run --release -p bgp-proto --example bgpdecode -- \
//!     [--no-as4] [--add-path ipv4-unicast|ipv6-unicast]... [--extended-message] [FILE|-]
//! ```
//!
//! The input is concatenated BGP messages as they appear on the wire. The
//! output schema is documented in `docs/bgpdecode.md`. The exit status is 1,
//! with a message naming the offset and the NOTIFICATION, on the first
//! message that cannot be decoded.

mod json;

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use bgp_proto::{Context, Family, Message, header};
use bytes::Bytes;
use clap::Parser;

/// Decode raw BGP messages into JSON lines.
#[derive(Parser)]
#[command(name = "bgpdecode")]
struct Args {
    /// The sender lacks 4-octet AS support: AS numbers are 2 octets.
    #[arg(long)]
    no_as4: bool,
    /// ADD-PATH path identifiers are present for this family (repeatable).
    #[arg(long = "add-path", value_name = "FAMILY", value_parser = parse_family)]
    add_path: Vec<Family>,
    /// Messages may be up to 65535 octets (RFC 8654).
    #[arg(long)]
    extended_message: bool,
    /// Input file; `-` or nothing reads standard input.
    file: Option<String>,
}

fn parse_family(s: &str) -> Result<Family, String> {
    Family::from_name(s).ok_or_else(|| {
        format!(
            "unknown family {s:?}; use ipv4-unicast, ipv6-unicast, ipv4-multicast or ipv6-multicast"
        )
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgpdecode: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut ctx = Context {
        four_octet_as: !args.no_as4,
        extended_message: args.extended_message,
        ..Context::default()
    };
    for f in &args.add_path {
        ctx.add_path.insert(*f);
    }
    let mut input = Vec::new();
    match args.file.as_deref() {
        None | Some("-") => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
        }
        Some(path) => {
            input = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        }
    }
    let mut buf = Bytes::from(input);
    let mut offset = 0usize;
    let mut index = 0usize;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while !buf.is_empty() {
        let len = match header::message_len(&buf, ctx.max_message_len()) {
            Ok(Some(len)) if len <= buf.len() => len,
            Ok(_) => anyhow::bail!(
                "message {index} at byte {offset}: truncated ({} octets left)",
                buf.len()
            ),
            Err(e) => anyhow::bail!(
                "message {index} at byte {offset}: {} at byte {}; NOTIFICATION {}",
                e.kind,
                offset + e.offset,
                e.notification()
            ),
        };
        let msg = buf.split_to(len);
        let decoded = Message::decode(&msg, &ctx).map_err(|e| {
            anyhow::anyhow!(
                "message {index} at byte {offset}: {} at byte {}; NOTIFICATION {}",
                e.kind,
                offset + e.offset,
                e.notification()
            )
        })?;
        serde_json::to_writer(&mut out, &json::message(&decoded, len))?;
        out.write_all(b"\n")?;
        offset += len;
        index += 1;
    }
    out.flush()?;
    Ok(())
}
