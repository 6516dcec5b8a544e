//! The audit log from outside: its writer under load, crash recovery,
//! tampering the verifier must catch, and the auditor's commands.

mod auditor;
mod common;
mod group_commit;
mod recovery;
mod tamper;
