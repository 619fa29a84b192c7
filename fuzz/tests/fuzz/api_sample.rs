//! A fixed-seed sample of the API fuzzer, run by CI (the documented long run is
//! `tessera-fuzz api --inputs 1000000`, docs/security.md). The service's own randomness (ids,
//! tokens) differs between runs; the generator's choices do not.

use tessera_fuzz::harness::{run, Config, Report, FAILURES};
use tessera_fuzz::model::Model;

fn check(report: &Report) {
    assert!(report.seed_failures.is_empty(), "{}", report.summary());
    for kind in FAILURES {
        assert_eq!(report.findings_of(kind), 0, "{kind}\n{}", report.summary());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_seed_sample_finds_no_panic_5xx_or_partial_write() {
    let report =
        run(&Config { inputs: 4000, seed: 20261206, episode: 2000, ..Default::default() }).await.unwrap();
    check(&report);
    // The sample reaches every operation, and gets past validation into most of them.
    let all = Model::operations().len();
    assert_eq!(report.operations.len(), all, "{}", report.summary());
    let implemented = all - report.unsupported.len();
    let answered = report.operations.values().filter(|(_, ok)| *ok > 0).count();
    assert!(
        answered * 2 > implemented,
        "only {answered} of {implemented} implemented operations ever answered 200\n{}",
        report.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_on_dynamodb() {
    let Some(endpoint) = std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT").ok().filter(|s| !s.is_empty())
    else {
        eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
        return;
    };
    let cfg = Config {
        inputs: 600,
        seed: 7,
        episode: 600,
        dynamodb_endpoint: Some(endpoint),
        ..Default::default()
    };
    check(&run(&cfg).await.unwrap());
}
