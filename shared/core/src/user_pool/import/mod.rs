//! CSV user import: the import-job operations, the job runner, the rows and the CSV reader.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | GetCSVHeader | `jobs.rs` |
//! | CreateUserImportJob | `jobs.rs` |
//! | DescribeUserImportJob | `jobs.rs` |
//! | ListUserImportJobs | `jobs.rs` |
//! | StartUserImportJob | `jobs.rs` |
//! | StopUserImportJob | `jobs.rs` |
//!
//! The rooms the operations share:
//! - `job.rs`: the stored job and the pool's active-job lock;
//! - `runner.rs`: [`run_job`], which the adapters' runners call until the job ends; the file
//!   is uploaded through the [`crate::ports::ImportFiles`] port and processed in steps;
//! - `rows.rs`: checking and writing the rows, and the log line of each;
//! - `csv.rs`: the pool's header and the CSV dialect.
//!
//! Beyond Cognito: an optional `tessera:password_hash` column carries a bcrypt, argon2, scrypt
//! or PBKDF2-SHA256 hash (see [`crate::password::legacy`]); such users import as CONFIRMED and
//! sign in with their old password, which is then re-hashed with argon2id.

pub mod csv;
mod job;
mod jobs;
mod rows;
pub(crate) mod runner;

pub use jobs::{
    create_user_import_job, describe_user_import_job, get_csv_header, list_user_import_jobs,
    start_user_import_job, stop_user_import_job,
};
pub use runner::{run_job, RunOutcome, MAX_FILE_BYTES};
