//! The audit disk failing under the real gateway, two ways.
//!
//! **Full**: the audit folder lives on a small tmpfs mounted for the test
//! (tests run as root, so permission bits would not stop a write; a full
//! file system does), filled until writes fail with ENOSPC.
//!
//! **Read-only**: the audit folder lives on an ext4 file system in a loop
//! file, and the test sets the immutable attribute (`chattr +i`) on the
//! folder, its segments and its checkpoint folder while the gateway runs.
//! The kernel then refuses every write, append, truncate and file creation
//! there with EPERM, to root as well: the log cannot be written at all. A
//! true read-only remount is not possible while the gateway holds its
//! segment open for writing: the kernel refuses it with EBUSY (tried on this
//! machine for the file system and for a read-only bind mount of it, both
//! need the writer gone). A failing block device (a `dmsetup` `error`
//! target) would make ext4 abort its journal, which only an unmount undoes,
//! so recovery without a restart could not be shown that way.
//! An immutable folder is the closest real fault that can be undone.
//!
//! Either way, while the log cannot be written, requests get 503
//! `audit_unavailable`, `/readyz` says so and nothing is forwarded; when
//! space (or write access) returns the gateway recovers without a restart,
//! and the log verifies afterwards.
//!
//! When the sandbox does not allow `mount` (not root, no loop devices, no
//! `mkfs.ext4`), a test says so and returns; under CI (`CI` set) it fails
//! instead, as CI runs as root and must run it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use http::{Method, StatusCode};
use jurisgate_e2e::{Harness, Who};
use serde_json::json;

/// A tmpfs mounted for one test; unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let parent = tempfile::tempdir().expect("temp dir");
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self {
            dir,
            _parent: parent,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// An ext4 file system in a loop file, mounted for one test; unmounted on
/// drop (the immutable attribute is cleared first).
struct LoopExt4 {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl LoopExt4 {
    fn mount(bytes: u64) -> Option<Self> {
        let parent = tempfile::tempdir().expect("temp dir");
        let image = parent.path().join("ext4.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(bytes))
            .expect("image file");
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).expect("mkdir");
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .status()
            .is_ok_and(|s| s.success());
        let mounted = made
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
        mounted.then_some(Self {
            dir,
            _parent: parent,
        })
    }
}

impl Drop for LoopExt4 {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .arg("-R")
            .arg("-i")
            .arg(&self.dir)
            .status();
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Sets (`+i`) or clears (`-i`) the immutable attribute on `dir` and
/// everything in it.
fn chattr(flag: &str, dir: &Path) {
    let ok = Command::new("chattr")
        .args(["-R", flag])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chattr -R {flag} {}", dir.display());
}

/// Fills the file system holding `dir` with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    // The last partial block may have been written in part; fill byte-wise.
    while f.write_all(&[0]).is_ok() {}
    path
}

async fn send(h: &Harness, n: u32) -> jurisgate_e2e::Reply {
    h.send(
        Who::user("alice", "US"),
        Method::POST,
        &format!("/v1/messages/full-{n}"),
        Some(json!({"n": n})),
    )
    .await
}

/// Sends until a request is accepted (polling, with a deadline); returns how many 503s came first.
async fn until_recovered(h: &Harness, from: u32) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = from;
    loop {
        let r = send(h, n).await;
        if r.status == StatusCode::CREATED {
            return n - from;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.json);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway did not recover once the disk did"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn total_received(h: &Harness) -> usize {
    h.stores.iter().map(|s| s.received().len()).sum()
}

/// Sends `n` requests while the log cannot be written: every one is a 503
/// `audit_unavailable` and none reaches a store.
async fn refused_while_broken(h: &Harness, n: u32, what: &str) -> u32 {
    let before = total_received(h);
    for i in 0..n {
        let r = send(h, 1000 + i).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {:?}",
            r.json
        );
        assert_eq!(r.json["reason"], "audit_unavailable", "{what}");
    }
    assert_eq!(
        total_received(h),
        before,
        "{what}: forwarded without a durable record"
    );
    let (ready, body) = h.admin_get("/readyz").await;
    assert_eq!(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: /readyz says {body}"
    );
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_disk_full_fails_closed_and_recovers() {
    let Some(fs) = Tmpfs::mount("4m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        println!("disk_full: mount is not permitted here; test not run");
        return;
    };
    let audit = fs.dir.join("audit");
    let audit_text = audit.display().to_string();
    let mut h = Harness::start_with(|c| {
        *c = c.replacen("dir = \"audit\"", &format!("dir = \"{audit_text}\""), 1)
    })
    .await;
    assert_eq!(send(&h, 0).await.status, StatusCode::CREATED);

    // Full.
    let filler = fill(&fs.dir);
    // The segment's last, partly used memory page still takes a record or
    // two: send until the first refusal.
    let mut slack = 0;
    while send(&h, 500 + slack).await.status == StatusCode::CREATED {
        slack += 1;
        assert!(slack < 20, "the log kept accepting records on a full disk");
    }
    let refused_full = refused_while_broken(&h, 20, "disk full").await;
    std::fs::remove_file(&filler).expect("freeing space");
    let extra_full = until_recovered(&h, 2000).await;
    let (ready, _) = h.admin_get("/readyz").await;
    assert_eq!(ready, StatusCode::OK, "/readyz did not recover");

    // Full again, for longer, across a checkpoint interval (the writer
    // also fails to write checkpoints) and a burst of concurrent requests.
    let filler = fill(&fs.dir);
    let mut slack = 0;
    while send(&h, 600 + slack).await.status == StatusCode::CREATED {
        slack += 1;
        assert!(slack < 20, "the log kept accepting records on a full disk");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refused_again = refused_while_broken(&h, 40, "disk full again").await;
    std::fs::remove_file(&filler).expect("freeing space");
    let extra_again = until_recovered(&h, 3000).await;

    assert_eq!(h.stop(), 0);
    let status = jurisgate_audit::verify(&audit, &h.files.vkey);
    assert!(
        status.is_ok(),
        "the log does not verify after the faults: {status:?}"
    );
    println!(
        "disk_full: disk full twice -> {} x 503 audit_unavailable, 0 forwarded while full, recovered without restart both times, log verifies",
        refused_full + extra_full + refused_again + extra_again
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_folder_made_read_only_fails_closed_and_recovers() {
    let Some(fs) = LoopExt4::mount(32 << 20) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount an ext4 loop file system"
        );
        println!("disk_read_only: cannot mount a loop file system here; test not run");
        return;
    };
    let audit = fs.dir.join("audit");
    let audit_text = audit.display().to_string();
    let mut h = Harness::start_with(|c| {
        *c = c.replacen("dir = \"audit\"", &format!("dir = \"{audit_text}\""), 1)
    })
    .await;
    assert_eq!(send(&h, 0).await.status, StatusCode::CREATED);

    let mut refused = 0;
    for round in 0..2 {
        chattr("+i", &audit);
        // No slack as with a full disk: the very next write is refused.
        refused += refused_while_broken(&h, 20, "audit folder read-only").await;
        if round == 1 {
            // Across a checkpoint interval: the signed note cannot be
            // written either.
            tokio::time::sleep(Duration::from_millis(600)).await;
            refused += refused_while_broken(&h, 20, "read-only, after a checkpoint interval").await;
        }
        chattr("-i", &audit);
        refused += until_recovered(&h, 4000 + 100 * round).await;
        let (ready, body) = h.admin_get("/readyz").await;
        assert_eq!(ready, StatusCode::OK, "/readyz did not recover: {body}");
    }

    assert_eq!(h.stop(), 0);
    let status = jurisgate_audit::verify(&audit, &h.files.vkey);
    assert!(
        status.is_ok(),
        "the log does not verify after the faults: {status:?}"
    );
    println!(
        "disk_read_only: audit folder immutable twice (ext4, chattr +i: EPERM to root) -> {refused} x 503 audit_unavailable, 0 forwarded while read-only, recovered without restart both times, log verifies"
    );
}
