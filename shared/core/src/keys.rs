//! Every store key, in one place so the layout reads at a glance: the partition and sort keys
//! of each record kind. Ids never contain `#` (pool ids `{region}_{suffix}`, identity ids
//! `{region}:{uuid}`, dataset names `[\w.:-]+`), so `#` separates the parts.

/// Partition listing every pool (sk = pool id).
pub const POOLS: &str = "POOLS";
pub fn pool(pool_id: &str) -> String {
    format!("POOL#{pool_id}")
}
pub const POOL_SK: &str = "POOL";
/// Pool partition entries listing its clients (sk = CLIENT#id).
pub fn pool_client_sk(client_id: &str) -> String {
    format!("{POOL_CLIENT_PREFIX}{client_id}")
}
pub fn client(client_id: &str) -> String {
    format!("CLIENT#{client_id}")
}
pub const CLIENT_SK: &str = "CLIENT";
/// One user, by internal username (case-folded when the pool is case-insensitive).
pub fn user(pool_id: &str, username_key: &str) -> String {
    format!("USER#{pool_id}#{username_key}")
}
pub const USER_SK: &str = "USER";
/// Partition listing a pool's users (sk = username key); lets a pool be deleted.
pub fn pool_users(pool_id: &str) -> String {
    format!("USERS#{pool_id}")
}
/// A sign-in identifier (email, phone_number, sub) pointing at a username.
pub fn alias(pool_id: &str, kind: &str, value: &str) -> String {
    format!("ALIAS#{pool_id}#{kind}#{value}")
}
pub const ALIAS_SK: &str = "ALIAS";
/// ListUsers index of one searchable attribute (sk = `{value}\0{username key}`).
pub fn search(pool_id: &str, attribute: &str) -> String {
    format!("SEARCH#{pool_id}#{attribute}")
}
pub fn search_sk(value: &str, username_key: &str) -> String {
    format!("{value}\u{0}{username_key}")
}
/// One sign-in session family: its refresh token and the access tokens it issued.
pub fn origin(origin_jti: &str) -> String {
    format!("ORIGIN#{origin_jti}")
}
pub const ORIGIN_SK: &str = "ORIGIN";
/// A pending authentication challenge, by SHA-256 (hex) of its session token.
pub fn auth_session(session_hash: &str) -> String {
    format!("AUTHSESSION#{session_hash}")
}
pub const AUTH_SESSION_SK: &str = "AUTHSESSION";
/// Failed sign-ins with a name the pool does not hold (see `user_pool::unknown_names`); expires.
pub fn name_attempts(pool_id: &str, username_key: &str) -> String {
    format!("NAMEATTEMPTS#{pool_id}#{username_key}")
}
pub const NAME_ATTEMPTS_SK: &str = "NAMEATTEMPTS";

// Identity pools and Sync. Identity pool ids (`{region}:{uuid}`) and identity ids (same
// form) contain no `#`.
/// Partition listing every identity pool (sk = identity pool id).
pub const IDENTITY_POOLS: &str = "IDPOOLS";
pub fn identity_pool(identity_pool_id: &str) -> String {
    format!("IDPOOL#{identity_pool_id}")
}
pub const IDENTITY_POOL_SK: &str = "IDPOOL";
/// One identity of an identity pool.
pub fn identity(identity_pool_id: &str, identity_id: &str) -> String {
    format!("IDENTITY#{identity_pool_id}#{identity_id}")
}
pub const IDENTITY_SK: &str = "IDENTITY";
/// Partition listing an identity pool's identities (sk = identity id).
pub fn pool_identities(identity_pool_id: &str) -> String {
    format!("IDENTITIES#{identity_pool_id}")
}
/// A linked login (provider name + the provider's user id) → its identity; a
/// `Cond::NotExists` put makes each login link to one identity only.
pub fn identity_login(identity_pool_id: &str, provider: &str, provider_user_id: &str) -> String {
    format!("IDLOGIN#{identity_pool_id}#{provider}#{provider_user_id}")
}
pub const IDENTITY_LOGIN_SK: &str = "IDLOGIN";
/// An identity pool's Sync settings: push sync, streams and Cognito Events
/// ([`crate::model::IdentityPoolSyncConfig`]), apart from the pool so that Sync and the
/// identity-pool operations never overwrite each other.
pub fn identity_pool_sync_config(identity_pool_id: &str) -> String {
    format!("IDPOOLSYNC#{identity_pool_id}")
}
pub const IDENTITY_POOL_SYNC_CONFIG_SK: &str = "CONFIG";
/// Credentials GetCredentialsForIdentity handed out, by access key id
/// ([`crate::identity_credentials`]).
pub fn identity_credentials(access_key_id: &str) -> String {
    format!("IDCRED#{access_key_id}")
}
pub const IDENTITY_CREDENTIALS_SK: &str = "IDCRED";
/// One group, by its case-sensitive name.
pub fn group(pool_id: &str, group_name: &str) -> String {
    format!("GROUP#{pool_id}#{group_name}")
}
pub const GROUP_SK: &str = "GROUP";
/// Partition listing a pool's groups (sk = group name), in name order.
pub fn pool_groups(pool_id: &str) -> String {
    format!("GROUPS#{pool_id}")
}
/// How many groups a pool has (one item, version-checked, so the limit holds under races).
pub fn pool_group_count(pool_id: &str) -> String {
    format!("GROUPCOUNT#{pool_id}")
}
pub const GROUP_COUNT_SK: &str = "COUNT";
/// A group's members (sk = username key).
pub fn group_members(pool_id: &str, group_name: &str) -> String {
    format!("MEMBERS#{pool_id}#{group_name}")
}
/// A user's groups (sk = group name).
pub fn user_groups(pool_id: &str, username_key: &str) -> String {
    format!("MEMBEROF#{pool_id}#{username_key}")
}
/// A user's devices (sk = device key); every device lookup knows its user.
pub fn user_devices(pool_id: &str, username_key: &str) -> String {
    format!("DEVICES#{pool_id}#{username_key}")
}

/// A pool's user import jobs (sk = JOB#id), and its lock while a job runs (sk = ACTIVE_JOB_SK).
pub fn import_jobs(pool_id: &str) -> String {
    format!("IMPORTJOBS#{pool_id}")
}
pub const IMPORT_JOB_PREFIX: &str = "JOB#";
pub fn import_job_sk(job_id: &str) -> String {
    format!("{IMPORT_JOB_PREFIX}{job_id}")
}
pub const ACTIVE_JOB_SK: &str = "ACTIVE";

/// A user-pool domain (a prefix such as `myapp`, or a custom domain such as
/// `auth.example.com`) → its pool; a `Cond::NotExists` put makes each name one pool's.
pub fn user_pool_domain(domain: &str) -> String {
    format!("DOMAIN#{domain}")
}
pub const USER_POOL_DOMAIN_SK: &str = "DOMAIN";
/// A pool's resource servers (sk = identifier), in identifier order.
pub fn resource_servers(pool_id: &str) -> String {
    format!("RESOURCESERVERS#{pool_id}")
}
/// A pool's identity providers (sk = provider name), in name order.
pub fn identity_providers(pool_id: &str) -> String {
    format!("IDPROVIDERS#{pool_id}")
}
/// A pool's IdpIdentifiers (sk = identifier in lower case) → the provider that has it.
pub fn idp_identifiers(pool_id: &str) -> String {
    format!("IDPIDENTIFIERS#{pool_id}")
}
/// A linked identity (AdminLinkProviderForUser): a provider's subject → the pool user its
/// sign-ins land on.
pub fn provider_link(pool_id: &str, provider: &str, subject: &str) -> String {
    format!("IDPLINK#{pool_id}#{provider}#{subject}")
}
pub const PROVIDER_LINK_SK: &str = "LINK";
/// A sign-in sent to an identity provider, by SHA-256 (hex) of its `state`; expires.
pub fn federation_state(state_hash: &str) -> String {
    format!("FEDSTATE#{state_hash}")
}
pub const FEDERATION_STATE_SK: &str = "STATE";
/// A SAML sign-in's state (the same partition as [`federation_state`], another kind).
pub const SAML_STATE_SK: &str = "SAMLSTATE";
/// A SAML sign-out's state (the IdP's LogoutResponse comes back with it).
pub const SAML_LOGOUT_SK: &str = "SAMLLOGOUT";
/// A pool's SAML service-provider key pairs (signing, encryption).
pub fn saml_sp_keys(pool_id: &str) -> String {
    format!("SAMLSP#{pool_id}")
}
pub const SAML_SP_KEYS_SK: &str = "KEYS";
/// A SAML Response or Assertion ID already accepted (by SHA-256 of issuer and ID); expires
/// with the assertion.
pub fn saml_replay(id_hash: &str) -> String {
    format!("SAMLSEEN#{id_hash}")
}
pub const SAML_REPLAY_SK: &str = "SEEN";
/// A pool's hosted-page customisations (sk = client id, or `ALL`).
pub fn ui_customizations(pool_id: &str) -> String {
    format!("UICUSTOM#{pool_id}")
}
/// An authorization code of `/oauth2/authorize`, by SHA-256 (hex) of the code; expires.
pub fn authorization_code(code_hash: &str) -> String {
    format!("OAUTHCODE#{code_hash}")
}
pub const AUTHORIZATION_CODE_SK: &str = "CODE";
/// A hosted-page sign-in session (the auth domain's cookie), by SHA-256 (hex) of its token.
pub fn hosted_session(token_hash: &str) -> String {
    format!("HOSTEDSESSION#{token_hash}")
}
pub const HOSTED_SESSION_SK: &str = "SESSION";

/// The prefix of the pool partition's client entries ([`pool_client_sk`]).
pub const POOL_CLIENT_PREFIX: &str = "CLIENT#";

/// The pool an identity belongs to, by identity id.
pub fn identity_pool_of(identity_id: &str) -> String {
    format!("IDENTITYOF#{identity_id}")
}
pub const IDENTITY_POOL_OF_SK: &str = "IDENTITYOF";

/// Cognito Sync's data: datasets, their records, and the usage counters.
pub mod sync {
    pub fn datasets(pool: &str, identity: &str) -> String {
        format!("SYNCDS#{pool}#{identity}")
    }
    pub fn records(pool: &str, identity: &str, dataset: &str) -> String {
        format!("SYNCREC#{pool}#{identity}#{dataset}")
    }
    pub fn identities(pool: &str) -> String {
        format!("SYNCIDS#{pool}")
    }
    pub fn usage(pool: &str) -> String {
        format!("SYNCUSAGE#{pool}")
    }
}

/// Cognito Sync's push devices and dataset subscriptions.
pub mod push {
    /// An identity's push devices and subscriptions.
    pub fn devices(identity_pool_id: &str, identity_id: &str) -> String {
        format!("SYNCDEV#{identity_pool_id}#{identity_id}")
    }
    pub const DEVICE_PREFIX: &str = "DEVICE#";
    pub fn device_sk(device_id: &str) -> String {
        format!("DEVICE#{device_id}")
    }
    pub const SUBSCRIPTION_PREFIX: &str = "SUB#";
    /// Dataset names never contain `#`, so `SUB#{dataset}#` lists exactly one dataset's devices.
    pub fn dataset_subscriptions_prefix(dataset_name: &str) -> String {
        format!("SUB#{dataset_name}#")
    }
    pub fn subscription_sk(dataset_name: &str, device_id: &str) -> String {
        format!("SUB#{dataset_name}#{device_id}")
    }
}
