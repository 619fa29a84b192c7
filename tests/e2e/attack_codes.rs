//! Brute force of verification codes across reissues (issue 14, finding 1): ForgotPassword +
//! ConfirmForgotPassword, ResendConfirmationCode + ConfirmSignUp, and
//! GetUserAttributeVerificationCode + VerifyUserAttribute. A new code must not buy new
//! guesses, sends are capped per purpose, and guesses sent together are all counted.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use std::time::Instant;
use tessera_core::lockout::Backoff;

const LIMIT: &str = "LimitExceededException: Attempt limit exceeded, please try after some time.";
const MISMATCH: &str = "CodeMismatchException: Invalid verification code provided, please try again.";
/// The request quotas (per category, per access token) refuse before any code is looked at.
const THROTTLED: &str = "TooManyRequestsException: Rate exceeded";
const NEW: &str = "Better-Horse-42";

/// The default code schedule (`Limits::default()`): what docs/security.md's arithmetic uses.
const DEFAULT_BACKOFF: Backoff =
    Backoff { free_failures: 5, max_lockout_secs: 3600, forget_after_secs: 86_400 };

/// A code that is not `code`, different for each `n`.
fn wrong(code: &str, n: u32) -> String {
    let guess = format!("{:06}", (n * 7919) % 1_000_000);
    if guess == code {
        format!("{:06}", (n * 7919 + 1) % 1_000_000)
    } else {
        guess
    }
}

#[derive(Default, Debug)]
struct Tally {
    mismatches: u32,
    limited: u32,
    sends: u32,
    sends_refused: u32,
}

impl Tally {
    fn guess(&mut self, r: Result<(), String>) {
        match r {
            Ok(()) => panic!("a wrong code was accepted"),
            Err(e) if e == MISMATCH => self.mismatches += 1,
            Err(e) if e == LIMIT || e == THROTTLED => self.limited += 1,
            Err(e) => panic!("unexpected answer to a wrong code: {e}"),
        }
    }

    fn send(&mut self, r: Result<(), String>) {
        match r {
            Ok(()) => self.sends += 1,
            Err(e) if e == LIMIT || e == THROTTLED => self.sends_refused += 1,
            Err(e) => panic!("unexpected answer to a send: {e}"),
        }
    }

    /// The loop can check no more codes than the schedule allows in the time it took
    /// (the test clock stands still, real time does not).
    fn assert_bounded(&self, started: Instant) {
        let allowed = DEFAULT_BACKOFF.max_failures_in(started.elapsed().as_secs() as i64 + 1).unwrap();
        assert!(u64::from(self.mismatches) <= allowed, "{self:?}: more than {allowed} codes checked");
        assert!(self.limited > 0 && self.sends_refused > 0, "{self:?}");
        assert!(self.sends <= 5, "{self:?}: the send quota is 5 an hour");
    }
}

/// The test's client without the SDK's retries: the SDKs retry LimitExceededException as a
/// throttling error, which would hide a refusal (and try again after the lockout).
fn once(env: &TestEnv) -> cip::Client {
    let conf =
        env.client.config().to_builder().retry_config(cip::config::retry::RetryConfig::disabled()).build();
    cip::Client::from_conf(conf)
}

async fn confirm(env: &TestEnv, client_id: &str, username: &str, code: &str) -> Result<(), String> {
    once(env)
        .confirm_sign_up()
        .client_id(client_id)
        .username(username)
        .confirmation_code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn forgot(env: &TestEnv, client_id: &str, username: &str) -> Result<(), String> {
    once(env)
        .forgot_password()
        .client_id(client_id)
        .username(username)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn confirm_forgot(env: &TestEnv, client_id: &str, username: &str, code: &str) -> Result<(), String> {
    once(env)
        .confirm_forgot_password()
        .client_id(client_id)
        .username(username)
        .confirmation_code(code)
        .password(NEW)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn resend(env: &TestEnv, client_id: &str, username: &str) -> Result<(), String> {
    once(env)
        .resend_confirmation_code()
        .client_id(client_id)
        .username(username)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn get_verification_code(env: &TestEnv, token: &str) -> Result<(), String> {
    once(env)
        .get_user_attribute_verification_code()
        .access_token(token)
        .attribute_name("email")
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn verify(env: &TestEnv, token: &str, code: &str) -> Result<(), String> {
    once(env)
        .verify_user_attribute()
        .access_token(token)
        .attribute_name("email")
        .code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

on_both_stores!(forgot_password_loop_runs_into_the_limit, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let victim = "victim@example.com";
    env.confirmed_user(&client_id, victim).await;
    let started = Instant::now();
    let mut tally = Tally::default();
    // The attack as a new user tried it on a25d902: 200 CodeMismatchException, no limit.
    for round in 0..40 {
        tally.send(forgot(env, &client_id, victim).await);
        let code = env.last_code(victim);
        for n in 0..5 {
            tally.guess(confirm_forgot(env, &client_id, victim, &wrong(&code, round * 5 + n)).await);
        }
    }
    tally.assert_bounded(started);
    env.password_sign_in(&client_id, victim, PASSWORD).await.unwrap();
});

on_both_stores!(resend_and_confirm_sign_up_loop_runs_into_the_limit, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let victim = "unconfirmed@example.com";
    env.sign_up(&client_id, victim).await.unwrap();
    let started = Instant::now();
    let mut tally = Tally { sends: 1, ..Tally::default() };
    for round in 0..40 {
        let code = env.last_code(victim);
        for n in 0..5 {
            tally.guess(confirm(env, &client_id, victim, &wrong(&code, round * 5 + n)).await);
        }
        tally.send(resend(env, &client_id, victim).await);
    }
    tally.assert_bounded(started);
});

on_both_stores!(attribute_verification_loop_runs_into_the_limit, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let user = "attr@example.com";
    env.confirmed_user(&client_id, user).await;
    let tokens = env.password_sign_in(&client_id, user, PASSWORD).await.unwrap();
    let token = tokens.access_token().unwrap();
    let started = Instant::now();
    let mut tally = Tally::default();
    for round in 0..40 {
        tally.send(get_verification_code(env, token).await);
        let code = env.last_code(user);
        for n in 0..5 {
            tally.guess(verify(env, token, &wrong(&code, round * 5 + n)).await);
        }
    }
    tally.assert_bounded(started);
});

// One free failure, so the lockouts grow long enough (16 s, 32 s) to observe on a slow store
// while real time passes; the doubling and the reissue rule are the defaults'.
on_both_stores!(
    a_new_code_does_not_reset_the_backoff,
    config = |c| {
        c.limits.code_free_failures = 1;
    },
    |env| {
        let pool = env.email_pool().await;
        let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
        let user = "backoff@example.com";
        env.confirmed_user(&client_id, user).await;
        forgot(env, &client_id, user).await.unwrap();
        let first = env.last_code(user);
        // Lockouts of 1, 2, 4, 8, then 16 s; each waited out on the test clock.
        for (n, lock) in [1, 2, 4, 8, 16].into_iter().enumerate() {
            assert_eq!(
                confirm_forgot(env, &client_id, user, &wrong(&first, n as u32)).await.unwrap_err(),
                MISMATCH
            );
            if lock < 16 {
                env.clock.advance_secs(lock + 1);
            }
        }
        // Locked for 16 s now; a new code changes nothing, not even for the right one.
        forgot(env, &client_id, user).await.unwrap();
        let second = env.last_code(user);
        assert_ne!(first, second);
        assert_eq!(confirm_forgot(env, &client_id, user, &second).await.unwrap_err(), LIMIT);
        // After the lockout one more guess; a wrong one doubles it (32 s).
        env.clock.advance_secs(17);
        assert_eq!(confirm_forgot(env, &client_id, user, &wrong(&second, 9)).await.unwrap_err(), MISMATCH);
        assert_eq!(confirm_forgot(env, &client_id, user, &second).await.unwrap_err(), LIMIT);
        env.clock.advance_secs(17);
        assert_eq!(confirm_forgot(env, &client_id, user, &second).await.unwrap_err(), LIMIT, "32 s, not 16");
        env.clock.advance_secs(16);
        // The right code, once the lockout is over, works and clears the count.
        confirm_forgot(env, &client_id, user, &second).await.unwrap();
        env.password_sign_in(&client_id, user, NEW).await.unwrap();
        forgot(env, &client_id, user).await.unwrap();
        let third = env.last_code(user);
        assert_eq!(confirm_forgot(env, &client_id, user, &wrong(&third, 1)).await.unwrap_err(), MISMATCH);
    }
);

on_both_stores!(sends_are_capped_per_purpose_and_window, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let user = "sends@example.com";
    env.sign_up(&client_id, user).await.unwrap();
    // The sign-up code counts: four resends, then the quota of five an hour is used up.
    for _ in 0..4 {
        resend(env, &client_id, user).await.unwrap();
    }
    assert_eq!(resend(env, &client_id, user).await.unwrap_err(), LIMIT);
    assert_eq!(env.messages_to(user).len(), 5, "nothing sent past the quota");
    // The last code still confirms; other purposes have their own quota.
    confirm(env, &client_id, user, &env.last_code(user)).await.unwrap();
    for _ in 0..5 {
        forgot(env, &client_id, user).await.unwrap();
    }
    assert_eq!(forgot(env, &client_id, user).await.unwrap_err(), LIMIT);
    // An administrator is never refused (the sends are still recorded).
    for _ in 0..3 {
        once(env).admin_reset_user_password().user_pool_id(&pool).username(user).send().await.unwrap();
    }
    // An hour later the window has moved on.
    env.clock.advance_secs(3600);
    forgot(env, &client_id, user).await.unwrap();
});

on_both_stores!(guesses_sent_together_are_all_counted, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let user = "burst@example.com";
    env.confirmed_user(&client_id, user).await;
    forgot(env, &client_id, user).await.unwrap();
    let code = env.last_code(user);
    // 24 wrong guesses at once: only five are ever compared (the per-code limit, and the
    // lockout after the fifth failure). (With the right code among them, a success would
    // remove the code and the rest would answer CodeMismatch without a comparison, so the
    // count would not show the serialisation.)
    let guesses: Vec<String> = (0..24).map(|n| wrong(&code, n)).collect();
    let answers =
        futures_util::future::join_all(guesses.iter().map(|g| confirm_forgot(env, &client_id, user, g)))
            .await;
    let compared = answers.iter().filter(|r| r.as_ref().err().is_none_or(|e| e == MISMATCH)).count();
    let refused = answers.iter().filter(|r| r.as_ref().err().is_some_and(|e| e == LIMIT)).count();
    let other: Vec<_> =
        answers.iter().filter_map(|r| r.as_ref().err()).filter(|e| *e != MISMATCH && *e != LIMIT).collect();
    assert!(compared <= 5, "{compared} guesses compared: {answers:?}");
    assert_eq!(compared + refused + other.len(), 24);
    // A lost race may answer ConcurrentModificationException, but only after its guess was
    // counted: never more than five in all.
    assert!(compared + other.len() <= 5, "{answers:?}");
    // The right code now finds the code spent (a25d902 compared every guess of the burst).
    assert_eq!(confirm_forgot(env, &client_id, user, &code).await.unwrap_err(), LIMIT);
});
