//! `pool-settings`: `tessera pool-settings` on a pool of N users (100,000 by default), each run
//! as its own process under `/usr/bin/time`: an AliasAttributes change (every user gains an
//! email alias: one transaction each) and a CaseSensitive change (every user, named `User…`,
//! moves to its lower-case key with its index items, each move with the pool's cursor).

use crate::archive::{in_scratch_dir, seed_named, timed};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub async fn run(users: usize, tessera: PathBuf) -> Result<(), String> {
    in_scratch_dir("settings", |root| async move { measure(&root, users, &tessera).await }).await
}

async fn measure(root: &Path, users: usize, tessera: &Path) -> Result<(), String> {
    let dir = root.join("data");
    let t = Instant::now();
    let pool = seed_named(&dir, users, "User").await?;
    println!("seeded {users} users in {:.1} s", t.elapsed().as_secs_f64());
    let base = vec![
        "pool-settings".to_string(),
        "--user-pool".into(),
        pool,
        "--data-dir".into(),
        dir.display().to_string(),
        "--key-file".into(),
        dir.with_extension("key").display().to_string(),
    ];
    for (what, change) in [
        ("AliasAttributes [] -> [email] (an alias item per user)", vec!["--alias-attributes", "email"]),
        ("CaseSensitive true -> false (every user moves)", vec!["--case-sensitive", "false"]),
    ] {
        let mut args = base.clone();
        args.extend(change.iter().map(|s| s.to_string()));
        let (secs, mb, out) = timed(tessera, &args)?;
        if !out.contains("COMPLETE") {
            return Err(format!("{what}: the change did not complete: {out}"));
        }
        println!(
            "{what}: {users} users in {secs:.1} s = {:.0} users/s, peak {mb:.0} MB resident",
            users as f64 / secs
        );
    }
    Ok(())
}
