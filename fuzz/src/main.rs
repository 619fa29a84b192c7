//! `tessera-fuzz api`: the model-driven fuzzer against the in-process wire layer.
//! `tessera-fuzz decoders`: random and mutated bytes through every decoder target.
//! See docs/security.md, "Fuzzing".

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tessera_fuzz::harness::{run, Config, FAILURES};
use tessera_fuzz::rng::Rng;
use tessera_fuzz::targets;

#[derive(Parser)]
#[command(name = "tessera-fuzz", about = "Fuzz Tessera's wire layer and decoders")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generated requests for every operation of the three services, served in-process.
    Api {
        #[arg(long, default_value_t = 100_000)]
        inputs: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Inputs per fresh store.
        #[arg(long, default_value_t = 5000)]
        episode: u64,
        /// A DynamoDB-compatible endpoint (moto's server); the embedded store otherwise.
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        progress: u64,
        /// Print every exchange to stderr.
        #[arg(long)]
        trace: bool,
    },
    /// Random and mutated bytes through each decoder target.
    Decoders {
        /// Inputs per target.
        #[arg(long, default_value_t = 100_000)]
        inputs: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Api { inputs, seed, episode, dynamodb_endpoint, progress, trace } => {
            let cfg = Config { inputs, seed, episode, dynamodb_endpoint, progress_every: progress, trace };
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(&cfg)) {
                Ok(report) => {
                    println!("seed {seed}\n{}", report.summary());
                    let failures: u64 = FAILURES.iter().map(|k| report.findings_of(k)).sum();
                    if failures == 0 && report.seed_failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Decoders { inputs, seed } => {
            let mut failed = false;
            for (name, target) in targets::ALL {
                let started = std::time::Instant::now();
                let mut rng = Rng::new(seed);
                let mut panics = 0u64;
                for _ in 0..inputs {
                    let data = decoder_input(&mut rng);
                    if std::panic::catch_unwind(|| target(&data)).is_err() {
                        panics += 1;
                        eprintln!("{name}: panic on {data:?}");
                    }
                }
                failed |= panics > 0;
                println!(
                    "{name}: {inputs} inputs, {panics} panics, {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Random bytes, or a structured-looking input (JSON, a token, a header) with damage.
fn decoder_input(rng: &mut Rng) -> Vec<u8> {
    const SEEDS: &[&[u8]] = &[
        b"{\"UserPoolId\":\"us-east-1_abc\",\"Limit\":10,\"Filter\":\"email = \\\"a@b.c\\\"\"}",
        b"[{\"Op\":\"replace\",\"Key\":\"k\",\"Value\":\"v\",\"SyncCount\":0}]",
        b"AWS4-HMAC-SHA256 Credential=AKIAFUZZ/20251206/us-east-1/cognito-idp/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\xff20251206T000000Z\xfflocalhost\xffUNSIGNED-PAYLOAD\xff/\xff",
        b"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0OjkyMjkvdXMtZWFzdC0xX2Z1enoifQ.c2ln",
        b"email ^= \"al\\\"ice\"",
        b"cognito:username,email,email_verified\nalice,a@b.c,true\n",
        b"GET\xff/identitypools/us-east-1:1/identities/us-east-1:2/datasets/d/records\xffmaxResults=5&lastSyncCount=1\xff{}\xff{}",
        b"\xa5\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    let mut data = if rng.chance(30) {
        {
            let n = rng.below(300);
            rng.bytes(n)
        }
    } else {
        rng.pick(SEEDS).copied().unwrap_or(b"").to_vec()
    };
    for _ in 0..rng.below(4) {
        tessera_fuzz::gen::mutate_bytes(rng, &mut data);
    }
    if rng.chance(20) && !data.is_empty() {
        let pick = rng.below(256) as u8;
        data.insert(0, pick);
    }
    data
}
