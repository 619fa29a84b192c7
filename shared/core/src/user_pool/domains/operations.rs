//! CreateUserPoolDomain, DescribeUserPoolDomain, UpdateUserPoolDomain, DeleteUserPoolDomain.
//!
//! A pool has at most one prefix domain and one custom domain, and a name belongs to one pool:
//! the domain item is written with `Cond::NotExists` in the same transaction as the pool's
//! record (version-checked), which names its domains for DescribeUserPool.

use super::records::{self, UserPoolDomain};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, UserPool};
use crate::service::Service;
use crate::store::{Cond, Item, Write};
use crate::user_pool::settings::not_supported;
use serde_json::{json, Value};

/// Words Cognito keeps out of prefix domains.
const RESERVED_WORDS: &[&str] = &["aws", "amazon", "cognito"];

/// ACM certificate ARNs; Cognito's must be in us-east-1, where CloudFront reads them.
fn check_certificate_arn(arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && crate::ids::is_account_id(parts[4])
        && parts[5].strip_prefix("certificate/").is_some_and(|id| !id.is_empty());
    if !well_formed {
        return Err(Error::invalid(format!("CertificateArn {arn} is not the ARN of an ACM certificate.")));
    }
    if parts[3] != "us-east-1" {
        return Err(Error::invalid("The certificate of a custom domain must be in the us-east-1 Region."));
    }
    Ok(())
}

/// A custom domain: lower-case labels of letters, digits and inner hyphens, at least two.
fn check_custom_domain(domain: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(Error::invalid(format!(
            "The custom domain {domain} is not a valid domain name: use lower-case letters, digits and hyphens, in two or more labels."
        )));
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.contains('.') {
        return Err(Error::invalid(format!(
            "{prefix} is not a domain prefix. A custom domain needs a CustomDomainConfig with its CertificateArn."
        )));
    }
    if let Some(word) = RESERVED_WORDS.iter().find(|w| prefix.contains(*w)) {
        return Err(Error::invalid(format!("Domain cannot contain reserved word: {word}")));
    }
    Ok(())
}

/// `ManagedLoginVersion`: 1 is the classic hosted UI, which Tessera serves; 2 (managed login,
/// with its branding editor) is not served, so it is refused rather than stored.
fn managed_login_version(input: &Value) -> Result<Option<i64>> {
    match input.get("ManagedLoginVersion").filter(|v| !v.is_null()).map(Value::as_i64) {
        None => Ok(None),
        Some(Some(1)) => Ok(Some(1)),
        Some(_) => Err(not_supported(
            "ManagedLoginVersion",
            " beyond 1: it serves the classic hosted UI (1), not managed login with branding (2)",
        )),
    }
}

fn refuse_routing(input: &Value) -> Result<()> {
    if input.get("Routing").is_some_and(|v| !v.is_null()) {
        return Err(not_supported("Routing", " (there are no replicated user pools to fail over to)"));
    }
    Ok(())
}

/// The custom domain's certificate: when the deployment lists the custom domains it serves,
/// the domain must be one of them, with the certificate it is served with.
fn check_served(svc: &Service, domain: &str, certificate_arn: &str) -> Result<()> {
    let Some(served) = &svc.config.auth_domains.custom_domains else { return Ok(()) };
    match served.iter().find(|(d, _)| d == domain) {
        None => Err(Error::invalid(format!(
            "This deployment does not serve the custom domain {domain}: add it to the stack's CustomDomains parameter (docs/deploy.md)."
        ))),
        Some((_, arn)) if arn != certificate_arn => Err(Error::invalid(format!(
            "The custom domain {domain} is served with the certificate {arn}, not {certificate_arn}: change the stack's CustomDomainCertificateArn first (docs/deploy.md)."
        ))),
        Some(_) => Ok(()),
    }
}

struct CustomConfig {
    certificate_arn: String,
    security_policy: Option<String>,
}

fn custom_config(input: &Value) -> Result<Option<CustomConfig>> {
    let Some(config) = input.get("CustomDomainConfig").filter(|v| !v.is_null()) else { return Ok(None) };
    let certificate_arn = config.req_str("CertificateArn")?.to_string();
    check_certificate_arn(&certificate_arn)?;
    // What Tessera's custom domains serve: TLS 1.2 or later (API Gateway's TLS_1_2 policy,
    // rustls locally), which is CloudFront's TLS_V1_2_2021; another policy would not be honoured.
    let security_policy = config.str_of("SecurityPolicy").map(str::to_string);
    if let Some(other) = security_policy.as_deref().filter(|p| *p != "TLS_V1_2_2021") {
        return Err(not_supported(
            "CustomDomainConfig.SecurityPolicy",
            &format!(" as {other}: custom domains are served with TLS 1.2 or later, which is TLS_V1_2_2021"),
        ));
    }
    Ok(Some(CustomConfig { certificate_arn, security_policy }))
}

async fn pool_for_update(svc: &Service, pool_id: &str) -> Result<(UserPool, u64)> {
    svc.get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))
}

fn answer(svc: &Service, domain: &UserPoolDomain) -> Value {
    let mut out = json!({"ManagedLoginVersion": domain.managed_login_version});
    if domain.is_custom() {
        out["CloudFrontDomain"] = json!(svc.config.auth_domains.alias_target);
    }
    out
}

pub async fn create_user_pool_domain(svc: &Service, input: &Value) -> Result<Value> {
    let name = input.req_str("Domain")?.to_string();
    if svc.config.auth_domains.prefix_base.is_empty() {
        return Err(Error::invalid(
            "This deployment serves no user pool domain: set the stack's AuthDomainBase parameter (docs/deploy.md).",
        ));
    }
    let version = managed_login_version(input)?.unwrap_or(1);
    refuse_routing(input)?;
    let custom = custom_config(input)?;
    match &custom {
        Some(c) => {
            check_custom_domain(&name)?;
            check_served(svc, &name, &c.certificate_arn)?;
        }
        None => check_prefix(&name)?,
    }
    let (mut pool, pool_version) = pool_for_update(svc, input.req_str("UserPoolId")?).await?;
    let slot = if custom.is_some() { &mut pool.settings.custom_domain } else { &mut pool.settings.domain };
    if slot.is_some() {
        let kind = if custom.is_some() { "custom domain" } else { "domain" };
        return Err(Error::invalid(format!("User pool already has a {kind} configured.")));
    }
    if records::get(svc, &name).await?.is_some() {
        return Err(Error::invalid("Domain already associated with another user pool."));
    }
    *slot = Some(name.clone());
    let now = svc.clock.now_millis();
    let domain = UserPoolDomain {
        domain: name.clone(),
        pool_id: pool.id.clone(),
        certificate_arn: custom.as_ref().map(|c| c.certificate_arn.clone()),
        security_policy: custom.and_then(|c| c.security_policy),
        managed_login_version: version,
        created: now,
        modified: now,
    };
    let item = Item::new(
        keys::user_pool_domain(&name),
        keys::USER_POOL_DOMAIN_SK,
        serde_json::to_value(&domain).map_err(Error::internal)?,
    );
    svc.save_pool(&pool, pool_version, vec![Write::put(item, Cond::NotExists)]).await?;
    Ok(answer(svc, &domain))
}

pub async fn describe_user_pool_domain(svc: &Service, input: &Value) -> Result<Value> {
    let Some((domain, _)) = records::get(svc, input.req_str("Domain")?).await? else {
        // Cognito describes a name no pool holds as an empty description, not an error.
        return Ok(json!({"DomainDescription": {}}));
    };
    let mut out = json!({
        "UserPoolId": domain.pool_id,
        "AWSAccountId": svc.config.account_id,
        "Domain": domain.domain,
        "CloudFrontDistribution": if domain.is_custom() {
            svc.config.auth_domains.alias_target.clone()
        } else {
            records::host_of(svc, &domain)
        },
        "Version": domain.modified.to_string(),
        "Status": "ACTIVE",
        "ManagedLoginVersion": domain.managed_login_version,
    });
    if let Some(arn) = &domain.certificate_arn {
        let mut config = json!({"CertificateArn": arn});
        if let Some(policy) = &domain.security_policy {
            config["SecurityPolicy"] = json!(policy);
        }
        out["CustomDomainConfig"] = config;
    }
    Ok(json!({"DomainDescription": out}))
}

/// The domain a pool holds under this name, or Cognito's answer when it holds none.
async fn pools_domain(svc: &Service, input: &Value) -> Result<(UserPoolDomain, u64)> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    match records::get(svc, input.req_str("Domain")?).await? {
        Some((domain, version)) if domain.pool_id == pool_id => Ok((domain, version)),
        _ => Err(Error::invalid("No such domain or user pool exists.")),
    }
}

pub async fn update_user_pool_domain(svc: &Service, input: &Value) -> Result<Value> {
    let version = managed_login_version(input)?;
    refuse_routing(input)?;
    let custom = custom_config(input)?;
    let (mut domain, item_version) = pools_domain(svc, input).await?;
    if domain.is_custom() && custom.is_none() {
        return Err(Error::invalid("Cannot convert custom domain to prefix domain."));
    }
    if let Some(c) = custom {
        if !domain.is_custom() {
            return Err(Error::invalid(format!(
                "{} is a prefix domain: only a custom domain has a CustomDomainConfig.",
                domain.domain
            )));
        }
        check_served(svc, &domain.domain, &c.certificate_arn)?;
        domain.certificate_arn = Some(c.certificate_arn);
        domain.security_policy = c.security_policy;
    }
    if let Some(v) = version {
        domain.managed_login_version = v;
    }
    domain.modified = svc.clock.now_millis();
    let mut item = Item::new(
        keys::user_pool_domain(&domain.domain),
        keys::USER_POOL_DOMAIN_SK,
        serde_json::to_value(&domain).map_err(Error::internal)?,
    );
    item.version = item_version + 1;
    svc.store.transact(vec![Write::put(item, Cond::Version(item_version))], svc.now_secs()).await.map_err(
        |e| match e {
            crate::store::StoreError::ConditionFailed { .. } => Error::ConcurrentModificationException(
                "The domain was modified by another request. Try again.".into(),
            ),
            e => e.into(),
        },
    )?;
    Ok(answer(svc, &domain))
}

pub async fn delete_user_pool_domain(svc: &Service, input: &Value) -> Result<Value> {
    let (domain, item_version) = pools_domain(svc, input).await?;
    let (mut pool, pool_version) = pool_for_update(svc, &domain.pool_id).await?;
    if domain.is_custom() {
        pool.settings.custom_domain = None;
    } else {
        pool.settings.domain = None;
    }
    let delete = Write::delete(
        keys::user_pool_domain(&domain.domain),
        keys::USER_POOL_DOMAIN_SK,
        Cond::Version(item_version),
    );
    svc.save_pool(&pool, pool_version, vec![delete]).await?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_custom_domains() {
        assert!(check_prefix("my-app1").is_ok());
        assert!(check_prefix("myaws").unwrap_err().message().contains("reserved word: aws"));
        assert!(check_prefix("cognitotest").is_err());
        assert!(check_prefix("auth.example.com").is_err());
        assert!(check_custom_domain("auth.example.com").is_ok());
        assert!(check_custom_domain("example").is_err());
        assert!(check_custom_domain("-a.example.com").is_err());
        assert!(check_custom_domain("a..example.com").is_err());
        assert!(check_custom_domain("Auth.example.com").is_err());
    }

    #[test]
    fn certificate_arns() {
        assert!(check_certificate_arn("arn:aws:acm:us-east-1:123456789012:certificate/abc-1").is_ok());
        let wrong_region = check_certificate_arn("arn:aws:acm:eu-west-1:123456789012:certificate/abc");
        assert!(wrong_region.unwrap_err().message().contains("us-east-1"));
        assert!(check_certificate_arn("arn:aws:iam::123456789012:role/x").is_err());
        assert!(check_certificate_arn("arn:aws:acm:us-east-1:123456789012:certificate/").is_err());
    }
}
