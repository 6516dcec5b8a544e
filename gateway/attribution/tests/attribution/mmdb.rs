//! A minimal MaxMind DB writer for tests: IPv4 only, 24-bit records, data
//! values of the GeoIP2-Country shape `{"country": {"iso_code": "US"}}`.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/> — a binary search tree
//! (each node two 24-bit records: a node number, `node_count` for "no data",
//! or `node_count + 16 + offset` into the data section), 16 zero bytes, the
//! data section, then `\xAB\xCD\xEFMaxMind.com` and the metadata map.

use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// Writes a country database mapping each `(network, prefix length)` to an
/// ISO country code.
pub(crate) fn write_country_db(path: &Path, networks: &[(Ipv4Addr, u8, &str)]) {
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    let mut data = Vec::new();
    for (addr, prefix, iso) in networks {
        let offset = data.len();
        encode_map(&mut data, 1);
        encode_string(&mut data, "country");
        encode_map(&mut data, 1);
        encode_string(&mut data, "iso_code");
        encode_string(&mut data, iso);
        let bits = u32::from(*addr);
        let mut node = 0;
        for depth in 0..*prefix {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == *prefix {
                nodes[node][bit] = Record::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Record::Node(next) => next,
                    _ => {
                        nodes.push([Record::Empty; 2]);
                        let next = nodes.len() - 1;
                        nodes[node][bit] = Record::Node(next);
                        next
                    }
                };
            }
        }
    }
    let node_count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for record in node {
            let value = match *record {
                Record::Empty => node_count,
                Record::Node(n) => n,
                Record::Data(offset) => node_count + 16 + offset,
            };
            out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    encode_map(&mut out, 9);
    encode_string(&mut out, "binary_format_major_version");
    encode_uint(&mut out, 5, 2);
    encode_string(&mut out, "binary_format_minor_version");
    encode_uint(&mut out, 5, 0);
    encode_string(&mut out, "build_epoch");
    encode_uint(&mut out, 9, 1_700_000_000);
    encode_string(&mut out, "database_type");
    encode_string(&mut out, "GeoLite2-Country");
    encode_string(&mut out, "description");
    encode_map(&mut out, 1);
    encode_string(&mut out, "en");
    encode_string(&mut out, "jurisgate test database");
    encode_string(&mut out, "ip_version");
    encode_uint(&mut out, 5, 4);
    encode_string(&mut out, "languages");
    encode_control(&mut out, 11, 1);
    encode_string(&mut out, "en");
    encode_string(&mut out, "node_count");
    encode_uint(&mut out, 6, node_count as u64);
    encode_string(&mut out, "record_size");
    encode_uint(&mut out, 5, 24);
    std::fs::write(path, out).unwrap();
}

/// A control byte: type in the top 3 bits (extended types > 7 in a second
/// byte as `type - 7`), size (< 29 here) in the low 5 bits.
fn encode_control(out: &mut Vec<u8>, type_id: u8, size: usize) {
    assert!(size < 29, "the test writer only encodes short values");
    if type_id <= 7 {
        out.push((type_id << 5) | size as u8);
    } else {
        out.push(size as u8);
        out.push(type_id - 7);
    }
}

fn encode_string(out: &mut Vec<u8>, s: &str) {
    encode_control(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn encode_map(out: &mut Vec<u8>, entries: usize) {
    encode_control(out, 7, entries);
}

/// Unsigned integers (type 5 uint16, 6 uint32, 9 uint64) in the fewest
/// big-endian bytes.
fn encode_uint(out: &mut Vec<u8>, type_id: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    encode_control(out, type_id, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}
