//! The group claims of tokens: `cognito:groups`, `cognito:roles`, `cognito:preferred_role`.

use super::records::{belongs_to, load_group};
use crate::error::Result;
use crate::model::{keys, User, UserPool};
use crate::service::Service;
use serde_json::{json, Map, Value};

/// `cognito:preferred_role`: among the groups that have a role, those with the lowest
/// precedence (any number beats none) decide; if they disagree on the role, there is none.
fn preferred_role<'a>(groups: impl IntoIterator<Item = (Option<i64>, Option<&'a str>)>) -> Option<&'a str> {
    let rank = |p: Option<i64>| (p.is_none(), p.unwrap_or(0));
    let mut best: Option<((bool, i64), &'a str)> = None;
    let mut tie_disagrees = false;
    for (precedence, role) in groups {
        let Some(role) = role else { continue };
        let r = rank(precedence);
        match best {
            Some((best_rank, best_role)) if r == best_rank => tie_disagrees |= role != best_role,
            Some((best_rank, _)) if r > best_rank => {}
            _ => {
                best = Some((r, role));
                tie_disagrees = false;
            }
        }
    }
    if tie_disagrees {
        None
    } else {
        best.map(|(_, role)| role)
    }
}

/// The group claims of a user's tokens: `cognito:groups` (both tokens), `cognito:roles` and
/// `cognito:preferred_role` (ID token). Also the `groupConfiguration` of the pre token
/// generation event, and what its `groupOverrideDetails` replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupClaims {
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

impl GroupClaims {
    /// Sets the claims, replacing any there; an empty list or no role is no claim.
    pub fn apply(&self, access: &mut Map<String, Value>, id: &mut Map<String, Value>) {
        for claim in ["cognito:groups", "cognito:roles", "cognito:preferred_role"] {
            access.remove(claim);
            id.remove(claim);
        }
        if !self.groups.is_empty() {
            access.insert("cognito:groups".into(), json!(self.groups));
            id.insert("cognito:groups".into(), json!(self.groups));
        }
        if !self.roles.is_empty() {
            id.insert("cognito:roles".into(), json!(self.roles));
        }
        if let Some(role) = &self.preferred_role {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
    }
}

/// The user's current groups (one query, then one read per group), ordered by precedence (none
/// last), then name; their distinct roles in that order; and the preferred role.
pub(crate) async fn group_claims(svc: &Service, pool: &UserPool, user: &User) -> Result<GroupClaims> {
    let pk = keys::user_groups(&pool.id, &pool.username_key(&user.username));
    let bound = usize::try_from(svc.config.limits.groups_per_user).unwrap_or(usize::MAX);
    let page = svc.store.query(&pk, "", None, bound, svc.now_secs()).await?;
    let mut groups = Vec::new();
    for entry in page.items.iter().filter(|e| belongs_to(e, user)) {
        // A group DeleteGroup has begun removing no longer counts.
        if let Some((group, _)) = load_group(svc, &pool.id, &entry.sk).await?.filter(|(g, _)| !g.deleting) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Ok(GroupClaims::default());
    }
    groups.sort_by(|a, b| {
        (a.precedence.is_none(), a.precedence, &a.name).cmp(&(b.precedence.is_none(), b.precedence, &b.name))
    });
    let mut roles: Vec<String> = Vec::new();
    for role in groups.iter().filter_map(|g| g.role_arn.as_deref()) {
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_string());
        }
    }
    let preferred_role =
        preferred_role(groups.iter().map(|g| (g.precedence, g.role_arn.as_deref()))).map(str::to_string);
    Ok(GroupClaims { groups: groups.into_iter().map(|g| g.name).collect(), roles, preferred_role })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:iam::123456789012:role/a";
    const B: &str = "arn:aws:iam::123456789012:role/b";

    #[test]
    fn lowest_precedence_wins() {
        assert_eq!(preferred_role([(Some(5), Some(A)), (Some(1), Some(B))]), Some(B));
        assert_eq!(preferred_role([(Some(0), Some(A)), (Some(1), Some(B))]), Some(A));
    }

    #[test]
    fn no_precedence_loses_to_any_number() {
        assert_eq!(preferred_role([(None, Some(A)), (Some(1_000_000), Some(B))]), Some(B));
        assert_eq!(preferred_role([(Some(7), Some(B)), (None, Some(A))]), Some(B));
    }

    #[test]
    fn only_groups_with_a_role_count() {
        assert_eq!(preferred_role([(Some(0), None), (Some(3), Some(A))]), Some(A));
        assert_eq!(preferred_role([(Some(0), None), (None, None)]), None);
        assert_eq!(preferred_role(std::iter::empty()), None);
    }

    #[test]
    fn a_tie_with_the_same_role_keeps_it() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(A)), (Some(9), Some(B))]), Some(A));
        assert_eq!(preferred_role([(None, Some(A)), (None, Some(A))]), Some(A));
    }

    #[test]
    fn a_tie_with_different_roles_omits_the_claim() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(B))]), None);
        assert_eq!(preferred_role([(None, Some(A)), (None, Some(B))]), None, "all null: one tie class");
        assert_eq!(
            preferred_role([(Some(2), Some(A)), (Some(2), Some(B)), (Some(2), Some(A))]),
            None,
            "a third agreeing group does not undo the disagreement"
        );
    }

    #[test]
    fn a_lower_precedence_breaks_an_earlier_tie() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(B)), (Some(1), Some(B))]), Some(B));
    }
}
