//! Linking logins to identities, and merging identities: logins nobody holds link to the identity;
//! logins that other identities hold merge those identities into one survivor, which then holds
//! every login; the others are disabled and remember the survivor. In the public operations the
//! survivor is an identity that already held a presented login (the oldest, if several) other than
//! the one the caller named; the developer operations keep the identity they name. One login per
//! public provider per identity; at most 20 logins in all.
//!
//! [`plan_link`] makes those decisions from what was read; [`try_link`] reads, then writes the
//! plan in one transaction.

use super::errors::{forbidden, identity_not_found, logins_dont_match, raced};
use super::logins::VerifiedLogin;
use super::pool::IdentityPool;
use super::records::{
    identity_put, load_live, login_key, login_owner, login_put, new_identity, new_identity_writes, Identity,
    LinkedLogin, ATTEMPTS,
};
use crate::error::{Error, Result};
use crate::model::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::{Cond, StoreError, Write};
use crate::sync::cleanup::{move_datasets_on_merge, move_devices_on_merge};
use std::collections::{BTreeMap, BTreeSet};

/// Logins one identity may hold, merges included.
const MAX_LINKED_LOGINS: usize = 20;

/// How a link treats the identity the caller names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// GetId, GetOpenIdToken, GetCredentialsForIdentity: an authenticated identity must be
    /// shown one of its own logins; an identity already holding a presented login survives.
    Public,
    /// GetOpenIdTokenForDeveloperIdentity: the named identity survives; its developer user must
    /// not belong to another identity.
    Developer,
    /// MergeDeveloperIdentities: the named identity survives.
    Merge,
}

/// Who holds the presented logins now.
#[derive(Debug, Default)]
struct Holdings {
    /// Per presented login, in order: the live identity holding it.
    holders: Vec<Option<String>>,
    /// Those identities by id, with the versions read.
    identities: BTreeMap<String, (Identity, u64)>,
    /// Presented logins no live identity holds: never linked, or left behind by an identity that
    /// is gone (then with the version of that stale login item).
    unheld: Vec<(LinkedLogin, Option<u64>)>,
}

/// What a link does, decided before anything is written.
#[derive(Debug, PartialEq)]
struct LinkPlan {
    /// The identity that holds every login afterwards, with the version read; `None`: a new one.
    survivor: Option<(Identity, u64)>,
    /// The identities merged into the survivor: disabled, their logins moved to it.
    losers: Vec<(Identity, u64)>,
    /// The presented logins no identity holds, linked to the survivor.
    unheld: Vec<(LinkedLogin, Option<u64>)>,
    /// The survivor's logins afterwards.
    logins: Vec<LinkedLogin>,
}

/// Links `logins` to the identity `named` (or to the identity holding them, or a new one),
/// merging identities as the module documentation says. Answers the identity that holds them
/// all afterwards.
pub(super) async fn link(
    svc: &Service,
    pool: &IdentityPool,
    named: Option<&str>,
    logins: &[VerifiedLogin],
    mode: Mode,
) -> Result<Identity> {
    retry_on_conflict(ATTEMPTS, || try_link(svc, pool, named, logins, mode)).await?.ok_or_else(raced)
}

/// Who holds each presented login.
async fn holdings(svc: &Service, pool_id: &str, presented: &[LinkedLogin]) -> Result<Holdings> {
    let mut held = Holdings::default();
    for login in presented {
        let owner = login_owner(svc, pool_id, login).await?;
        let live = match &owner {
            Some((id, _)) => load_live(svc, pool_id, id).await?.filter(|(i, _)| !i.disabled),
            None => None,
        };
        match live {
            Some((identity, version)) => {
                held.holders.push(Some(identity.identity_id.clone()));
                held.identities.insert(identity.identity_id.clone(), (identity, version));
            }
            None => {
                held.holders.push(None);
                held.unheld.push((login.clone(), owner.map(|(_, v)| v)));
            }
        }
    }
    Ok(held)
}

/// Decides a link from who holds the presented logins and the identity the caller named (live,
/// as read): refuses a named identity that `mode` does not let take the logins, picks the
/// survivor and the identities merged into it, and checks the logins the survivor ends up with.
fn plan_link(
    pool: &IdentityPool,
    mode: Mode,
    named: Option<(Identity, u64)>,
    presented: &[LinkedLogin],
    held: Holdings,
) -> Result<LinkPlan> {
    let Holdings { holders, identities, unheld } = held;
    if let Some((identity, _)) = &named {
        match mode {
            Mode::Public => {
                if identity.is_authenticated()
                    && !holders.iter().flatten().any(|h| *h == identity.identity_id)
                {
                    return Err(logins_dont_match());
                }
            }
            Mode::Developer => {
                let developer = pool.developer_provider_name.as_deref();
                let taken = presented.iter().zip(&holders).any(|(login, holder)| {
                    Some(login.provider.as_str()) == developer
                        && holder.as_ref().is_some_and(|h| *h != identity.identity_id)
                });
                if taken {
                    return Err(Error::DeveloperUserAlreadyRegisteredException(
                        "The developer user identifier is already registered with a different identity."
                            .into(),
                    ));
                }
            }
            Mode::Merge => {}
        }
    }

    // The identities holding presented logins, other than the named one, oldest first.
    let named_id = named.as_ref().map(|(i, _)| i.identity_id.clone());
    let mut others: Vec<(Identity, u64)> =
        identities.into_values().filter(|(i, _)| Some(&i.identity_id) != named_id.as_ref()).collect();
    others.sort_by(|(a, _), (b, _)| (a.created, &a.identity_id).cmp(&(b.created, &b.identity_id)));
    let (survivor, losers) = match (mode, named) {
        (Mode::Developer | Mode::Merge, Some(named)) => (Some(named), others),
        (Mode::Public, Some(named)) if others.is_empty() => (Some(named), others),
        (Mode::Public, Some(named)) => {
            let mut rest = others;
            let first = rest.remove(0);
            rest.push(named);
            (Some(first), rest)
        }
        (_, None) if others.is_empty() => (None, others),
        (_, None) => {
            let mut rest = others;
            let first = rest.remove(0);
            (Some(first), rest)
        }
    };

    // The survivor's logins afterwards.
    let mut logins = survivor.as_ref().map(|(s, _)| s.logins.clone()).unwrap_or_default();
    for login in losers.iter().flat_map(|(l, _)| &l.logins).chain(unheld.iter().map(|(l, _)| l)) {
        if !logins.contains(login) {
            logins.push(login.clone());
        }
    }
    check_logins(pool, &logins)?;
    Ok(LinkPlan { survivor, losers, unheld, logins })
}

async fn try_link(
    svc: &Service,
    pool: &IdentityPool,
    named: Option<&str>,
    logins: &[VerifiedLogin],
    mode: Mode,
) -> Result<Attempt<Identity>> {
    let pool_id = pool.identity_pool_id.as_str();
    let presented: Vec<LinkedLogin> = logins
        .iter()
        .map(|l| LinkedLogin { provider: l.provider.clone(), user_id: l.user_id.clone() })
        .collect();
    let held = holdings(svc, pool_id, &presented).await?;
    let named = match named {
        Some(id) => {
            let (identity, version) =
                load_live(svc, pool_id, id).await?.ok_or_else(|| identity_not_found(id))?;
            if identity.disabled {
                return Err(forbidden(id));
            }
            Some((identity, version))
        }
        None => None,
    };
    let LinkPlan { survivor, losers, unheld, logins: all } = plan_link(pool, mode, named, &presented, held)?;
    let (survivor, survivor_version) = match survivor {
        Some((identity, version)) => (identity, Some(version)),
        None => (new_identity(svc, pool), None),
    };
    if all == survivor.logins && losers.is_empty() && survivor_version.is_some() {
        return Ok(Attempt::Done(survivor));
    }
    let now = svc.clock.now_millis();
    let mut writes = Vec::new();
    for (loser, version) in &losers {
        for login in &loser.logins {
            let cond = match login_owner(svc, pool_id, login).await? {
                Some((_, v)) => Cond::Version(v),
                None => Cond::NotExists,
            };
            let next = match cond {
                Cond::Version(v) => v + 1,
                _ => 1,
            };
            writes.push(login_put(pool_id, login, &survivor.identity_id, cond, next));
        }
        let mut merged = loser.clone();
        merged.logins.clear();
        merged.disabled = true;
        merged.merged_into = Some(survivor.identity_id.clone());
        merged.modified = now;
        writes.push(identity_put(&merged, Some(*version))?);
    }
    for (login, stale) in &unheld {
        let (cond, next) = match stale {
            Some(v) => (Cond::Version(*v), v + 1),
            None => (Cond::NotExists, 1),
        };
        writes.push(login_put(pool_id, login, &survivor.identity_id, cond, next));
    }
    let mut linked = survivor;
    linked.logins = all;
    linked.modified = now;
    match survivor_version {
        Some(v) => writes.push(identity_put(&linked, Some(v))?),
        None => writes.extend(new_identity_writes(&linked)?),
    }
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(Attempt::Raced),
        Err(e) => return Err(e.into()),
    }
    for (loser, _) in &losers {
        tracing::info!(pool = pool_id, merged = %loser.identity_id, into = %linked.identity_id, "identities merged");
        move_datasets_on_merge(svc, pool_id, &loser.identity_id, &linked.identity_id).await?;
        move_devices_on_merge(svc, pool_id, &loser.identity_id, &linked.identity_id).await?;
    }
    Ok(Attempt::Done(linked))
}

/// One login per public provider, and at most [`MAX_LINKED_LOGINS`] in all. A developer
/// provider may hold several users of one identity (MergeDeveloperIdentities).
fn check_logins(pool: &IdentityPool, logins: &[LinkedLogin]) -> Result<()> {
    let mut providers = BTreeSet::new();
    for login in logins {
        if Some(login.provider.as_str()) != pool.developer_provider_name.as_deref()
            && !providers.insert(login.provider.as_str())
        {
            return Err(Error::ResourceConflictException(format!(
                "Only one login of provider {} can be linked to an identity, and the identity already has one.",
                login.provider
            )));
        }
    }
    if logins.len() > MAX_LINKED_LOGINS {
        return Err(Error::ResourceConflictException(format!(
            "An identity can have at most {MAX_LINKED_LOGINS} linked logins."
        )));
    }
    Ok(())
}

/// Removes logins from an identity (and their login items) in one transaction. An identity
/// left without logins is disabled: it can no longer be reached (the API reference: "the
/// Cognito identity becomes inaccessible").
pub(super) async fn remove_logins(
    svc: &Service,
    mut identity: Identity,
    version: u64,
    remove: impl Fn(&LinkedLogin) -> bool,
) -> Result<()> {
    let (gone, kept): (Vec<LinkedLogin>, Vec<LinkedLogin>) =
        identity.logins.drain(..).partition(|l| remove(l));
    if gone.is_empty() {
        return Ok(());
    }
    identity.logins = kept;
    identity.disabled = identity.logins.is_empty();
    identity.modified = svc.clock.now_millis();
    let mut writes = vec![identity_put(&identity, Some(version))?];
    for login in &gone {
        writes.push(Write::delete(
            login_key(&identity.identity_pool_id, login),
            keys::IDENTITY_LOGIN_SK,
            Cond::None,
        ));
    }
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(raced()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pool(developer: Option<&str>) -> IdentityPool {
        serde_json::from_value(json!({
            "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
            "IdentityPoolName": "p",
            "AllowUnauthenticatedIdentities": true,
            "DeveloperProviderName": developer,
        }))
        .unwrap()
    }

    fn login(p: &str, u: &str) -> LinkedLogin {
        LinkedLogin { provider: p.into(), user_id: u.into() }
    }

    #[test]
    fn one_login_per_public_provider_any_number_of_developer_users() {
        let p = pool(Some("login.dev"));
        assert!(check_logins(&p, &[login("a", "1"), login("b", "1")]).is_ok());
        let e = check_logins(&p, &[login("a", "1"), login("a", "2")]).unwrap_err();
        assert_eq!(e.name(), "ResourceConflictException");
        assert!(check_logins(&p, &[login("login.dev", "1"), login("login.dev", "2")]).is_ok());
        let many: Vec<LinkedLogin> = (0..21).map(|i| login("login.dev", &i.to_string())).collect();
        assert_eq!(check_logins(&p, &many).unwrap_err().name(), "ResourceConflictException");
        assert!(check_logins(&p, &many[..20]).is_ok());
    }

    /// An identity created at `created` (epoch ms) holding `logins`, read at version 7.
    fn identity(id: &str, created: i64, logins: &[LinkedLogin]) -> (Identity, u64) {
        let identity = Identity {
            identity_id: id.into(),
            identity_pool_id: "us-east-1:00000000-0000-4000-8000-000000000000".into(),
            logins: logins.to_vec(),
            created,
            modified: created,
            disabled: false,
            merged_into: None,
        };
        (identity, 7)
    }

    /// Who holds each of `presented` among `identities` (a login nobody holds was never linked).
    fn holdings_of(presented: &[LinkedLogin], identities: &[(Identity, u64)]) -> Holdings {
        let mut held = Holdings::default();
        for login in presented {
            match identities.iter().find(|(i, _)| i.logins.contains(login)) {
                Some((i, v)) => {
                    held.holders.push(Some(i.identity_id.clone()));
                    held.identities.insert(i.identity_id.clone(), (i.clone(), *v));
                }
                None => {
                    held.holders.push(None);
                    held.unheld.push((login.clone(), None));
                }
            }
        }
        held
    }

    fn ids(identities: &[(Identity, u64)]) -> Vec<&str> {
        identities.iter().map(|(i, _)| i.identity_id.as_str()).collect()
    }

    fn survivor(plan: &LinkPlan) -> Option<&str> {
        plan.survivor.as_ref().map(|(i, _)| i.identity_id.as_str())
    }

    #[test]
    fn logins_nobody_holds_make_a_new_identity() {
        let presented = [login("a", "1")];
        let plan =
            plan_link(&pool(None), Mode::Public, None, &presented, holdings_of(&presented, &[])).unwrap();
        assert_eq!(survivor(&plan), None);
        assert!(plan.losers.is_empty());
        assert_eq!(plan.logins, presented);
        assert_eq!(plan.unheld, vec![(login("a", "1"), None)]);
    }

    #[test]
    fn the_oldest_holder_survives_and_takes_every_login() {
        let presented = [login("a", "1"), login("b", "2"), login("c", "3")];
        let young = identity("us-east-1:young", 200, &[login("a", "1")]);
        let old = identity("us-east-1:old", 100, &[login("b", "2"), login("d", "4")]);
        let held = holdings_of(&presented, &[young, old]);
        let plan = plan_link(&pool(None), Mode::Public, None, &presented, held).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:old"));
        assert_eq!(ids(&plan.losers), vec!["us-east-1:young"]);
        // The survivor's own first, then the losers', then the logins nobody held.
        assert_eq!(plan.logins, vec![login("b", "2"), login("d", "4"), login("a", "1"), login("c", "3")]);
        // Created at the same time: the lower id is the older.
        let presented = [login("a", "1"), login("b", "2")];
        let twins = [
            identity("us-east-1:b", 100, &[login("b", "2")]),
            identity("us-east-1:a", 100, &[login("a", "1")]),
        ];
        let plan =
            plan_link(&pool(None), Mode::Public, None, &presented, holdings_of(&presented, &twins)).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:a"));
        assert_eq!(ids(&plan.losers), vec!["us-east-1:b"]);
    }

    #[test]
    fn a_named_identity_holding_the_logins_is_left_as_it_is() {
        let presented = [login("a", "1")];
        let named = identity("us-east-1:me", 100, &[login("a", "1")]);
        let held = holdings_of(&presented, std::slice::from_ref(&named));
        let plan = plan_link(&pool(None), Mode::Public, Some(named.clone()), &presented, held).unwrap();
        assert_eq!(plan.survivor, Some(named));
        assert!(plan.losers.is_empty() && plan.unheld.is_empty());
        assert_eq!(plan.logins, presented, "nothing changes, so nothing is written");
    }

    #[test]
    fn a_named_guest_merges_into_the_identity_holding_the_login() {
        // The guest is older, but in the public operations an identity holding a presented
        // login survives.
        let presented = [login("a", "1")];
        let guest = identity("us-east-1:guest", 50, &[]);
        let holder = identity("us-east-1:holder", 300, &[login("a", "1")]);
        let held = holdings_of(&presented, &[holder]);
        let plan = plan_link(&pool(None), Mode::Public, Some(guest), &presented, held).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:holder"));
        assert_eq!(ids(&plan.losers), vec!["us-east-1:guest"]);
        assert_eq!(plan.logins, presented);
        // A guest and a login nobody holds: the guest becomes authenticated.
        let presented = [login("b", "2")];
        let guest = identity("us-east-1:guest", 50, &[]);
        let plan =
            plan_link(&pool(None), Mode::Public, Some(guest), &presented, holdings_of(&presented, &[]))
                .unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:guest"));
        assert_eq!(plan.logins, presented);
    }

    #[test]
    fn a_named_authenticated_identity_must_be_shown_one_of_its_logins() {
        let mine = identity("us-east-1:me", 100, &[login("c", "3")]);
        let presented = [login("a", "1")];
        let e = plan_link(
            &pool(None),
            Mode::Public,
            Some(mine.clone()),
            &presented,
            holdings_of(&presented, &[]),
        )
        .unwrap_err();
        assert_eq!(e, logins_dont_match());
        // Shown one of its own, it takes the new one too.
        let presented = [login("c", "3"), login("a", "1")];
        let held = holdings_of(&presented, std::slice::from_ref(&mine));
        let plan = plan_link(&pool(None), Mode::Public, Some(mine), &presented, held).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:me"));
        assert_eq!(plan.logins, vec![login("c", "3"), login("a", "1")]);
    }

    #[test]
    fn the_developer_operations_keep_the_identity_they_name() {
        let p = pool(Some("login.dev"));
        let named = identity("us-east-1:named", 500, &[login("login.dev", "u1")]);
        let older = identity("us-east-1:older", 100, &[login("a", "1")]);
        let presented = [login("login.dev", "u2"), login("a", "1")];
        let held = holdings_of(&presented, &[named.clone(), older]);
        let plan = plan_link(&p, Mode::Developer, Some(named.clone()), &presented, held).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:named"));
        assert_eq!(ids(&plan.losers), vec!["us-east-1:older"]);
        assert_eq!(plan.logins, vec![login("login.dev", "u1"), login("a", "1"), login("login.dev", "u2")]);
        // MergeDeveloperIdentities: the source user's identity merges into the named one.
        let presented = [login("login.dev", "u9")];
        let source = identity("us-east-1:source", 1, &[login("login.dev", "u9")]);
        let held = holdings_of(&presented, &[source]);
        let plan = plan_link(&p, Mode::Merge, Some(named.clone()), &presented, held).unwrap();
        assert_eq!(survivor(&plan), Some("us-east-1:named"));
        assert_eq!(ids(&plan.losers), vec!["us-east-1:source"]);
        // GetOpenIdTokenForDeveloperIdentity may not take another identity's developer user.
        let presented = [login("login.dev", "u9")];
        let other = identity("us-east-1:other", 1, &[login("login.dev", "u9")]);
        let held = holdings_of(&presented, &[other]);
        let e = plan_link(&p, Mode::Developer, Some(named), &presented, held).unwrap_err();
        assert_eq!(e.name(), "DeveloperUserAlreadyRegisteredException");
    }

    #[test]
    fn a_merge_that_would_give_two_logins_of_one_provider_is_refused() {
        let presented = [login("a", "1"), login("b", "1")];
        let first = identity("us-east-1:first", 100, &[login("a", "1")]);
        let second = identity("us-east-1:second", 200, &[login("b", "1"), login("a", "9")]);
        let held = holdings_of(&presented, &[first, second]);
        let e = plan_link(&pool(None), Mode::Public, None, &presented, held).unwrap_err();
        assert_eq!(e.name(), "ResourceConflictException");
    }
}
