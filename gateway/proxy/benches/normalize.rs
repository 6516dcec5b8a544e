//! What path normalisation costs per request:
//! `cargo bench -p jurisgate-proxy --bench normalize`.
//!
//! `normalize::normalize_path` on request targets a gateway sees:
//!
//! - `plain`: an already canonical API path (most traffic; the fast path
//!   returns it as it stands);
//! - `query`: the same with a query string (validated, kept as received);
//! - `trailing_slash`: a collection path ending in `/`;
//! - `escaped_dot_segments`: percent-escapes (`%7E` of an unreserved `~`
//!   decoded, `%20` kept, lower-case `%2a` upper-cased), `.` and `..`
//!   segments and an empty segment, all resolved by the full canonicaliser;
//! - `unicode`: raw UTF-8 bytes, escaped in the canonical form.
//!
//! A short smoke run on the project's 2-core machine, beside other builds:
//! see `BENCHMARKS.md` for figures taken on a quiet machine.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jurisgate_proxy::normalize::normalize_path;

const TARGETS: [(&str, &str, &str); 5] = [
    ("plain", "/v1/users/42/messages", "/v1/users/42/messages"),
    (
        "query",
        "/v1/users/42/messages?page=2&sort=desc",
        "/v1/users/42/messages",
    ),
    ("trailing_slash", "/v1/users/", "/v1/users/"),
    (
        "escaped_dot_segments",
        "/v1/./users/%7ealice/../%7Ebob//files/a%20b%2a.txt",
        "/v1/users/~bob/files/a%20b%2A.txt",
    ),
    (
        "unicode",
        "/v1/städte/zürich",
        "/v1/st%C3%A4dte/z%C3%BCrich",
    ),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize_path");
    for (name, raw, canonical) in TARGETS {
        let target = normalize_path(raw).expect("the target is accepted");
        assert_eq!(target.path, canonical, "{raw}");
        group.bench_function(name, |b| {
            b.iter(|| black_box(normalize_path(black_box(raw))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
