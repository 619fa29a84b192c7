// Shim until the callers switch (issue 16): the import operations, the runner and the CSV
// reader are in `user_pool::import`.
pub use crate::user_pool::import::csv;
pub use crate::user_pool::import::{
    create_user_import_job, describe_user_import_job, get_csv_header, list_user_import_jobs, run_job,
    start_user_import_job, stop_user_import_job, RunOutcome, MAX_FILE_BYTES,
};
