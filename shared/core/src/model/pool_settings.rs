//! A user pool's settings: the `UserPoolType` members the caller set that the record does not
//! keep in its own fields, typed, under Cognito's member names (the API model's `UserPoolType`).
//! The stored record keeps the same JSON object the earlier untyped map held, so records
//! written before still read; members no code reads stay in `other` as the caller set them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The settings of a user pool. Absent members (`None`) take Cognito's defaults where read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PoolSettings {
    /// `ACTIVE` or `INACTIVE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_config: Option<LambdaConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verification_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_message_template: Option<VerificationMessageTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_authentication_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_attribute_update_settings: Option<UserAttributeUpdateSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_configuration: Option<MfaConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_configuration: Option<DeviceConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_configuration: Option<EmailConfiguration>,
    /// `SmsConfigurationType`: its presence turns SMS on; its members are only shown back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_configuration: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_create_user_config: Option<AdminCreateUserConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_recovery_setting: Option<AccountRecoverySetting>,
    /// `LITE`, `ESSENTIALS` or `PLUS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_tier: Option<String>,
    /// The pool's prefix domain, set by CreateUserPoolDomain (never by Create/UpdateUserPool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The pool's custom domain, set by CreateUserPoolDomain (never by Create/UpdateUserPool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
    /// Tessera's own record, not a `UserPoolType` member: the factors SetUserPoolMfaConfig
    /// chose. Its name is `user_pool::mfa::factors::MFA_FACTORS_SETTING`.
    #[serde(rename = "TesseraMfaFactors", skip_serializing_if = "Option::is_none")]
    pub mfa_factors: Option<MfaFactors>,
    /// Tessera's own record, not a `UserPoolType` member: what `Schema` changed on standard
    /// attributes (`SchemaAttributeType` values). Its name is `schema::STANDARD_SCHEMA_SETTING`.
    #[serde(rename = "TesseraStandardSchema", skip_serializing_if = "Option::is_none")]
    pub standard_schema: Option<Vec<Value>>,
    /// Members no code reads (tags, add-ons, …), kept and shown back as the caller set them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `LambdaConfigType`: the trigger functions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LambdaConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_sign_up: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_confirmation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub define_auth_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_auth_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_auth_challenge_response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_token_generation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_migration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_token_generation_config: Option<PreTokenGenerationConfig>,
    /// The members Tessera refuses (custom sender triggers, `KMSKeyID`, inbound federation):
    /// a pool never holds them, but the writers look for them here.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `PreTokenGenerationVersionConfigType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PreTokenGenerationConfig {
    /// `V1_0`, `V2_0` or `V3_0`.
    pub lambda_version: String,
    pub lambda_arn: String,
}

/// `VerificationMessageTemplateType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VerificationMessageTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_message_by_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_subject_by_link: Option<String>,
    /// `CONFIRM_WITH_CODE` or `CONFIRM_WITH_LINK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_email_option: Option<String>,
}

/// `UserAttributeUpdateSettingsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserAttributeUpdateSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes_require_verification_before_update: Option<Vec<String>>,
}

/// `UserPoolMfaType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaConfiguration {
    #[default]
    Off,
    On,
    Optional,
}

impl MfaConfiguration {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MfaConfiguration::Off => "OFF",
            MfaConfiguration::On => "ON",
            MfaConfiguration::Optional => "OPTIONAL",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "OFF" => Some(MfaConfiguration::Off),
            "ON" => Some(MfaConfiguration::On),
            "OPTIONAL" => Some(MfaConfiguration::Optional),
            _ => None,
        }
    }
}

/// `DeviceConfigurationType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_required_on_new_device: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_only_remembered_on_user_prompt: Option<bool>,
}

/// `EmailConfigurationType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EmailConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_sending_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_set: Option<String>,
}

/// `AdminCreateUserConfigType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AdminCreateUserConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_admin_create_user_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused_account_validity_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_message_template: Option<MessageTemplate>,
}

/// `MessageTemplateType` (the invitation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MessageTemplate {
    #[serde(rename = "SMSMessage", skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
}

/// `AccountRecoverySettingType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccountRecoverySetting {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_mechanisms: Option<Vec<RecoveryOption>>,
}

/// `RecoveryOptionType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryOption {
    pub priority: i64,
    /// `verified_email`, `verified_phone_number` or `admin_only`.
    pub name: String,
}

/// The factors SetUserPoolMfaConfig turned on (kept apart from `MfaConfiguration`, which
/// UpdateUserPool resets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MfaFactors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_token_mfa_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_mfa_disabled: Option<bool>,
}

impl PoolSettings {
    /// `MfaConfiguration`; OFF when unset.
    pub(crate) fn mfa_mode(&self) -> MfaConfiguration {
        self.mfa_configuration.unwrap_or_default()
    }

    /// `LambdaConfig.PreTokenGenerationConfig.LambdaVersion`, when set.
    pub(crate) fn pre_token_generation_version(&self) -> Option<&str> {
        let config = self.lambda_config.as_ref()?.pre_token_generation_config.as_ref()?;
        Some(config.lambda_version.as_str())
    }

    /// `UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`, empty when unset.
    pub(crate) fn attributes_require_verification_before_update(&self) -> &[String] {
        self.user_attribute_update_settings
            .as_ref()
            .and_then(|s| s.attributes_require_verification_before_update.as_deref())
            .unwrap_or_default()
    }

    /// `AdminCreateUserConfig.InviteMessageTemplate`, when set.
    pub(crate) fn invite_message_template(&self) -> Option<&MessageTemplate> {
        self.admin_create_user_config.as_ref()?.invite_message_template.as_ref()
    }

    /// The settings as the JSON object they are stored and described as.
    pub(crate) fn to_map(&self) -> serde_json::Result<Map<String, Value>> {
        match serde_json::to_value(self)? {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Every member CreateUserPool stores in the settings, as a record written by the untyped
    /// map holds it (Tessera's own two records included).
    pub(crate) fn every_member() -> Value {
        json!({
            "DeletionProtection": "ACTIVE",
            "LambdaConfig": {
                "PreSignUp": "arn:aws:lambda:us-east-1:1:function:a", "CustomMessage": "arn:aws:lambda:us-east-1:1:function:b",
                "PostConfirmation": "arn:aws:lambda:us-east-1:1:function:c", "PreAuthentication": "arn:aws:lambda:us-east-1:1:function:d",
                "PostAuthentication": "arn:aws:lambda:us-east-1:1:function:e", "DefineAuthChallenge": "arn:aws:lambda:us-east-1:1:function:f",
                "CreateAuthChallenge": "arn:aws:lambda:us-east-1:1:function:g",
                "VerifyAuthChallengeResponse": "arn:aws:lambda:us-east-1:1:function:h",
                "PreTokenGeneration": "arn:aws:lambda:us-east-1:1:function:i", "UserMigration": "arn:aws:lambda:us-east-1:1:function:j",
                "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": "arn:aws:lambda:us-east-1:1:function:i"},
            },
            "SmsVerificationMessage": "sms {####}", "EmailVerificationMessage": "email {####}",
            "EmailVerificationSubject": "subject",
            "VerificationMessageTemplate": {
                "SmsMessage": "sms {####}", "EmailMessage": "email {####}", "EmailSubject": "subject",
                "EmailMessageByLink": "{##Click##}", "EmailSubjectByLink": "link", "DefaultEmailOption": "CONFIRM_WITH_CODE",
            },
            "SmsAuthenticationMessage": "mfa {####}",
            "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
            "MfaConfiguration": "OPTIONAL",
            "DeviceConfiguration": {"ChallengeRequiredOnNewDevice": true, "DeviceOnlyRememberedOnUserPrompt": false},
            "EmailConfiguration": {
                "SourceArn": "arn:aws:ses:us-east-1:1:identity/a@b.co", "EmailSendingAccount": "DEVELOPER",
                "From": "Team <a@b.co>",
            },
            "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::1:role/sms", "ExternalId": "x", "SnsRegion": "us-east-1"},
            "UserPoolTags": {"team": "id"},
            "AdminCreateUserConfig": {
                "AllowAdminCreateUserOnly": true, "UnusedAccountValidityDays": 5,
                "InviteMessageTemplate": {"SMSMessage": "{username} {####}", "EmailMessage": "{username} {####}", "EmailSubject": "hi"},
            },
            "UserPoolAddOns": {"AdvancedSecurityMode": "OFF"},
            "AccountRecoverySetting": {"RecoveryMechanisms": [
                {"Priority": 1, "Name": "verified_email"}, {"Priority": 2, "Name": "verified_phone_number"}]},
            "UserPoolTier": "PLUS",
            "UsernameAttributes": null,
            "TesseraMfaFactors": {"SoftwareTokenMfaEnabled": true, "SmsMfaDisabled": false},
            "TesseraStandardSchema": [{"Name": "email", "Mutable": false}],
        })
    }

    #[test]
    fn a_record_of_the_untyped_shape_reads_and_writes_back_the_same() {
        let old = every_member();
        let typed: PoolSettings = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(typed.mfa_mode(), MfaConfiguration::Optional);
        assert_eq!(typed.pre_token_generation_version(), Some("V2_0"));
        assert_eq!(typed.attributes_require_verification_before_update(), ["email".to_string()]);
        assert_eq!(
            typed.invite_message_template().and_then(|t| t.sms_message.as_deref()),
            Some("{username} {####}")
        );
        let device = typed.device_configuration.clone().unwrap();
        assert_eq!(device.challenge_required_on_new_device, Some(true));
        assert_eq!(device.device_only_remembered_on_user_prompt, Some(false));
        assert_eq!(
            typed.lambda_config.as_ref().and_then(|l| l.user_migration.as_deref()),
            Some("arn:aws:lambda:us-east-1:1:function:j")
        );
        assert_eq!(typed.mfa_factors.as_ref().and_then(|f| f.software_token_mfa_enabled), Some(true));
        // Members no code reads stay as they were, a null included.
        assert_eq!(typed.other.get("UserPoolTags"), Some(&json!({"team": "id"})));
        assert_eq!(typed.other.get("UsernameAttributes"), Some(&Value::Null));
        let echo = serde_json::to_string(&Value::Object(typed.to_map().unwrap())).unwrap();
        assert_eq!(echo, serde_json::to_string(&old).unwrap());
    }
}
