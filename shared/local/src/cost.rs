//! `tessera cost`: the monthly AWS bill of a deployment for a number of monthly active users,
//! beside Cognito's list price for the same users (docs/cost.md).
//!
//! The per-operation inputs are measured: `cost-inputs.json` is what `tessera-bench units`
//! counted (DynamoDB capacity units and store calls per operation, through a store that charges
//! every call as DynamoDB does, and the server's CPU per operation). Prices are us-east-1 list
//! prices, with their sources and dates in docs/cost.md.

use serde_json::{json, Value};

/// Measured by `tessera-bench units --users 200 --out shared/local/src/cost-inputs.json`.
const INPUTS: &str = include_str!("cost-inputs.json");

/// us-east-1 list prices, USD (sources and dates: docs/cost.md).
pub mod price {
    pub const DYNAMODB_PER_MILLION_WRU: f64 = 0.625;
    pub const DYNAMODB_PER_MILLION_RRU: f64 = 0.125;
    pub const DYNAMODB_PER_GB_MONTH: f64 = 0.25;
    /// arm64 (the stack's functions), first tier.
    pub const LAMBDA_PER_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
    pub const HTTP_API_PER_MILLION: f64 = 1.00;
    /// HTTPS requests, United States: $0.0100 per 10,000.
    pub const CLOUDFRONT_PER_MILLION_HTTPS: f64 = 1.00;
    pub const KMS_KEY_MONTH: f64 = 1.00;
    /// Cognito user pools, per MAU: Essentials after the free 10,000; Plus from the first.
    pub const COGNITO_FREE_MAU: f64 = 10_000.0;
    pub const COGNITO_ESSENTIALS: f64 = 0.015;
    pub const COGNITO_PLUS: f64 = 0.020;
    /// Lite, after the free 10,000: (MAU up to, price).
    pub const COGNITO_LITE: &[(f64, f64)] =
        &[(100_000.0, 0.0055), (1_000_000.0, 0.0046), (10_000_000.0, 0.00325), (f64::INFINITY, 0.0025)];
}

/// The stack's functions' memory (template.yaml, Globals.Function.MemorySize) and the memory
/// at which Lambda gives one full vCPU.
const FUNCTION_MB: f64 = 256.0;
const FULL_VCPU_MB: f64 = 1769.0;

#[derive(Debug, Clone, clap::Args)]
pub struct CostArgs {
    /// Monthly active users.
    #[arg(long)]
    pub mau: u64,
    /// Sign-ins per active user a month (USER_SRP_AUTH: two calls each, as Amplify signs in).
    #[arg(long, default_value_t = 4.0)]
    pub sign_ins_per_user: f64,
    /// Token refreshes per active user a month (REFRESH_TOKEN_AUTH).
    #[arg(long, default_value_t = 30.0)]
    pub refreshes_per_user: f64,
    /// GetUser calls per active user a month.
    #[arg(long, default_value_t = 4.0)]
    pub get_user_per_user: f64,
    /// Of the active users, the share that signs up that month (SignUp + ConfirmSignUp), %.
    #[arg(long, default_value_t = 10.0)]
    pub new_users_percent: f64,
    /// Users stored (active or not). Default: twice the MAU.
    #[arg(long)]
    pub stored_users: Option<u64>,
    /// Sign in with USER_PASSWORD_AUTH (one argon2id verify each) instead of USER_SRP_AUTH.
    #[arg(long)]
    pub password_sign_ins: bool,
    /// DynamoDB's time per call as a function waits for it, ms (added to each call's duration).
    #[arg(long, default_value_t = 4.0)]
    pub dynamodb_ms: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

struct Op {
    rru: f64,
    wru: f64,
    calls: f64,
    cpu_ms: f64,
}

fn op(inputs: &Value, name: &str) -> Result<Op, String> {
    let o = &inputs["operations"][name];
    let f = |k: &str| o[k].as_f64().ok_or_else(|| format!("cost-inputs.json: no {k} for {name}"));
    Ok(Op { rru: f("rru")?, wru: f("wru")?, calls: f("store_calls")?, cpu_ms: f("cpu_ms")? })
}

/// The Cognito user-pool bill for `mau` users on each tier.
pub fn cognito(mau: f64) -> (f64, f64, f64) {
    use price::*;
    let billable = (mau - COGNITO_FREE_MAU).max(0.0);
    let mut lite = 0.0;
    let mut from = 0.0;
    for &(upto, p) in COGNITO_LITE {
        let band = (billable.min(upto - COGNITO_FREE_MAU) - from).max(0.0);
        lite += band * p;
        from = (upto - COGNITO_FREE_MAU).max(from);
    }
    (lite, billable * COGNITO_ESSENTIALS, mau * COGNITO_PLUS)
}

struct Bill {
    requests: f64,
    rru: f64,
    wru: f64,
    gb_seconds: f64,
    storage_gb: f64,
    lines: Vec<(&'static str, f64)>,
    operations: Vec<Value>,
}

impl Bill {
    fn total(&self) -> f64 {
        self.lines.iter().map(|(_, c)| c).sum()
    }
}

fn bill(args: &CostArgs, inputs: &Value) -> Result<Bill, String> {
    use price::*;
    let mau = args.mau as f64;
    let mut mix: Vec<(&str, f64)> = Vec::new();
    if args.password_sign_ins {
        mix.push(("InitiateAuth (USER_PASSWORD_AUTH)", args.sign_ins_per_user));
    } else {
        mix.push(("InitiateAuth (USER_SRP_AUTH)", args.sign_ins_per_user));
        mix.push(("RespondToAuthChallenge (PASSWORD_VERIFIER)", args.sign_ins_per_user));
    }
    mix.push(("InitiateAuth (REFRESH_TOKEN_AUTH)", args.refreshes_per_user));
    mix.push(("GetUser", args.get_user_per_user));
    mix.push(("SignUp", args.new_users_percent / 100.0));
    mix.push(("ConfirmSignUp", args.new_users_percent / 100.0));
    let mut b = Bill {
        requests: 0.0,
        rru: 0.0,
        wru: 0.0,
        gb_seconds: 0.0,
        storage_gb: 0.0,
        lines: Vec::new(),
        operations: Vec::new(),
    };
    for (name, per_user) in mix {
        let o = op(inputs, name)?;
        let n = per_user * mau;
        // Lambda gives CPU in proportion to memory, and bills each started millisecond.
        let billed_ms = (o.cpu_ms * FULL_VCPU_MB / FUNCTION_MB + o.calls * args.dynamodb_ms).ceil();
        b.requests += n;
        b.rru += n * o.rru;
        b.wru += n * o.wru;
        b.gb_seconds += n * billed_ms / 1000.0 * FUNCTION_MB / 1024.0;
        b.operations.push(json!({"operation": name, "per_user": per_user, "rru": o.rru, "wru": o.wru,
                                 "store_calls": o.calls, "lambda_billed_ms": billed_ms}));
    }
    let stored = args.stored_users.map_or(mau * 2.0, |u| u as f64);
    b.storage_gb = stored * inputs["bytes_per_user"].as_f64().unwrap_or(0.0) / 1e9;
    b.lines = vec![
        ("DynamoDB reads", b.rru / 1e6 * DYNAMODB_PER_MILLION_RRU),
        ("DynamoDB writes", b.wru / 1e6 * DYNAMODB_PER_MILLION_WRU),
        ("DynamoDB storage", b.storage_gb * DYNAMODB_PER_GB_MONTH),
        ("Lambda requests", b.requests / 1e6 * LAMBDA_PER_MILLION_REQUESTS),
        ("Lambda duration", b.gb_seconds * LAMBDA_PER_GB_SECOND),
        ("API Gateway (HTTP API)", b.requests / 1e6 * HTTP_API_PER_MILLION),
        ("CloudFront (HTTPS requests)", b.requests / 1e6 * CLOUDFRONT_PER_MILLION_HTTPS),
        ("KMS key", KMS_KEY_MONTH),
    ];
    Ok(b)
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The deployment's monthly bill, line by line, beside Cognito's, and the break-even points.
pub fn estimate(args: &CostArgs) -> Result<Value, String> {
    let inputs: Value = serde_json::from_str(INPUTS).map_err(|e| e.to_string())?;
    let b = bill(args, &inputs)?;
    let (lite, essentials, plus) = cognito(args.mau as f64);
    let total = b.total();
    Ok(json!({
        "mau": args.mau,
        "requests": b.requests.round(),
        "rru": b.rru.round(),
        "wru": b.wru.round(),
        "lambda_gb_seconds": (b.gb_seconds * 10.0).round() / 10.0,
        "storage_gb": (b.storage_gb * 1000.0).round() / 1000.0,
        "lines": b.lines.iter().map(|(n, c)| json!({"item": n, "usd": cents(*c)})).collect::<Vec<_>>(),
        "tessera_usd": cents(total),
        "cognito_usd": {"lite": cents(lite), "essentials": cents(essentials), "plus": cents(plus)},
        "break_even_mau": {
            "essentials": break_even(args, &inputs, |m| cognito(m).1)?,
            "lite": break_even(args, &inputs, |m| cognito(m).0)?,
        },
        "operations": b.operations,
        "inputs": inputs["measured_with"],
    }))
}

/// The fewest MAU from which the deployment costs less than `tier` (None below 100 million).
fn break_even(args: &CostArgs, inputs: &Value, tier: impl Fn(f64) -> f64) -> Result<Option<u64>, String> {
    let cheaper = |mau: u64| -> Result<bool, String> {
        let mut a = args.clone();
        a.mau = mau;
        a.stored_users = args.stored_users.map(|s| s.saturating_mul(mau) / args.mau.max(1));
        Ok(bill(&a, inputs)?.total() < tier(mau as f64))
    };
    // Both bills grow linearly past the free tier: find a cheaper point, then bisect down.
    let mut hi = 10_000u64;
    while !cheaper(hi)? {
        hi *= 2;
        if hi > 100_000_000 {
            return Ok(None);
        }
    }
    let mut lo = 0u64;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if cheaper(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

/// Prints the estimate.
pub fn run(args: CostArgs) -> Result<(), String> {
    let e = estimate(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e).map_err(|e| e.to_string())?);
        return Ok(());
    }
    println!("Tessera on AWS (us-east-1, list prices), {} monthly active users:", args.mau);
    let n = |k: &str| e[k].as_f64().unwrap_or(0.0);
    println!(
        "  {:.0} requests, {:.0} read units, {:.0} write units, {:.0} Lambda GB-s, {:.3} GB stored",
        n("requests"),
        n("rru"),
        n("wru"),
        n("lambda_gb_seconds"),
        n("storage_gb")
    );
    for line in e["lines"].as_array().into_iter().flatten() {
        println!(
            "  {:<30} ${:>10.2}",
            line["item"].as_str().unwrap_or_default(),
            line["usd"].as_f64().unwrap_or(0.0)
        );
    }
    println!("  {:<30} ${:>10.2}", "Total", e["tessera_usd"].as_f64().unwrap_or(0.0));
    println!("Cognito user pools, the same users:");
    for tier in ["lite", "essentials", "plus"] {
        println!("  {:<30} ${:>10.2}", tier, e["cognito_usd"][tier].as_f64().unwrap_or(0.0));
    }
    let be = |t: &str| {
        e["break_even_mau"][t].as_u64().map_or("never below 100M MAU".into(), |m| format!("from {m} MAU"))
    };
    println!("Tessera costs less than Essentials {}, than Lite {}.", be("essentials"), be("lite"));
    println!("Not included (the same with Cognito or outside it): email and SMS, CloudWatch Logs, data transfer, free tiers of Lambda, DynamoDB, API Gateway and CloudFront. docs/cost.md");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mau: u64) -> CostArgs {
        CostArgs {
            mau,
            sign_ins_per_user: 4.0,
            refreshes_per_user: 30.0,
            get_user_per_user: 4.0,
            new_users_percent: 10.0,
            stored_users: None,
            password_sign_ins: false,
            dynamodb_ms: 4.0,
            json: true,
        }
    }

    #[test]
    fn cognito_prices_match_the_price_pages_examples() {
        // aws.amazon.com/cognito/pricing: 100,000 MAU on Essentials bill 90,000 × $0.015; Lite's
        // example bills 90,000 × $0.0055 = $495 and 850,000 × $0.0046 = $3,910.
        let (lite, essentials, plus) = cognito(100_000.0);
        assert!(
            (lite - 495.0).abs() < 1e-6 && (essentials - 1350.0).abs() < 1e-6 && (plus - 2000.0).abs() < 1e-6
        );
        assert!((cognito(950_000.0).0 - 4405.0).abs() < 1e-6);
        assert_eq!(cognito(9_000.0), (0.0, 0.0, 180.0));
    }

    #[test]
    fn a_hundred_thousand_users_cost_less_than_essentials_and_the_break_even_is_found() {
        let e = estimate(&args(100_000)).unwrap();
        let tessera = e["tessera_usd"].as_f64().unwrap();
        assert!(tessera > 1.0, "{e}");
        assert!(tessera < e["cognito_usd"]["essentials"].as_f64().unwrap(), "{e}");
        let be = e["break_even_mau"]["essentials"].as_u64().unwrap();
        // Below Cognito's free tier nothing is cheaper than free; just above it Tessera is.
        assert!((10_001..20_000).contains(&be), "{be}");
        let at = |mau| estimate(&args(mau)).unwrap();
        assert!(
            at(be)["tessera_usd"].as_f64().unwrap() <= at(be)["cognito_usd"]["essentials"].as_f64().unwrap()
        );
        assert!(
            at(be - 1)["tessera_usd"].as_f64().unwrap()
                >= at(be - 1)["cognito_usd"]["essentials"].as_f64().unwrap()
        );
    }

    #[test]
    fn password_sign_ins_cost_more_lambda_time_than_srp() {
        let srp = estimate(&args(100_000)).unwrap();
        let mut a = args(100_000);
        a.password_sign_ins = true;
        let password = estimate(&a).unwrap();
        assert!(password["lambda_gb_seconds"].as_f64() > srp["lambda_gb_seconds"].as_f64());
    }
}
