//! Temporary: writes a report for a folder (removed before hand-off).
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let key = jurisgate_audit::load_verifier_key(&a[2]).unwrap();
    let logs = vec![(std::path::PathBuf::from(&a[1]), key)];
    let f = std::fs::File::create(&a[3]).unwrap();
    let t = std::time::Instant::now();
    let o = jurisgate_audit_report::write_report(&logs, &Default::default(), std::io::BufWriter::new(f)).unwrap();
    eprintln!("{:?} verified={} records={} rows={} bytes={}", t.elapsed(), o.verified, o.records, o.rows, o.bytes);
}
