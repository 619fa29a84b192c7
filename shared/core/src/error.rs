//! The domain's one error type: one variant per Cognito exception (user pools, identity pools and
//! Sync), named as Cognito names it. The HTTP status is the wire's business: Sync answers with
//! the status its model gives each error, the JSON 1.1 services with 400/500.

macro_rules! cognito_errors {
    ($($variant:ident),* $(,)?) => {
        /// A Cognito error. The variant is the exception's `__type`; the string is its message.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Error {
            $($variant(String),)*
        }

        impl Error {
            /// The exception name on the wire, exactly as the Cognito API model spells it.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Error::$variant(_) => stringify!($variant),)*
                }
            }

            pub fn message(&self) -> &str {
                match self {
                    $(Error::$variant(m) => m,)*
                }
            }

            /// One instance of every variant, for tests that walk them all.
            pub fn all_variants() -> Vec<Error> {
                vec![$(Error::$variant(String::new()),)*]
            }
        }
    };
}

cognito_errors!(
    AccessDeniedException,
    AliasExistsException,
    AlreadyStreamedException,
    CodeDeliveryFailureException,
    CodeMismatchException,
    ConcurrentModificationException,
    DeveloperUserAlreadyRegisteredException,
    DeviceKeyExistsException,
    DuplicateProviderException,
    DuplicateRequestException,
    EnableSoftwareTokenMFAException,
    ExpiredCodeException,
    ExternalServiceException,
    FeatureUnavailableInTierException,
    ForbiddenException,
    GroupExistsException,
    InternalErrorException,
    InvalidConfigurationException,
    InvalidEmailRoleAccessPolicyException,
    InvalidIdentityPoolConfigurationException,
    InvalidLambdaFunctionOutputException,
    InvalidLambdaResponseException,
    InvalidOAuthFlowException,
    InvalidParameterException,
    InvalidPasswordException,
    InvalidSmsRoleAccessPolicyException,
    InvalidSmsRoleTrustRelationshipException,
    InvalidUserPoolConfigurationException,
    LambdaThrottledException,
    LimitExceededException,
    MFAMethodNotFoundException,
    NotAuthorizedException,
    OperationNotEnabledException,
    PasswordHistoryPolicyViolationException,
    PasswordResetRequiredException,
    PreconditionNotMetException,
    RefreshTokenReuseException,
    ResourceConflictException,
    ResourceNotFoundException,
    ScopeDoesNotExistException,
    SoftwareTokenMFANotFoundException,
    TooManyFailedAttemptsException,
    TooManyRequestsException,
    UnauthorizedException,
    UnexpectedLambdaException,
    UnsupportedIdentityProviderException,
    UnsupportedOperationException,
    UnsupportedTokenTypeException,
    UnsupportedUserStateException,
    UserImportInProgressException,
    UserLambdaValidationException,
    UserNotConfirmedException,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    UserPoolTaggingException,
    UsernameExistsException,
);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

impl std::error::Error for Error {}

impl Error {
    /// HTTP status Cognito answers with. Only our own faults are 5xx.
    pub fn status(&self) -> u16 {
        match self {
            Error::InternalErrorException(_) => 500,
            _ => 400,
        }
    }

    /// An infrastructure failure: the cause is logged here and never returned to the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Error {
        tracing::error!(%cause, "internal error");
        Error::InternalErrorException("Internal server error.".into())
    }

    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidParameterException(msg.into())
    }

    pub fn not_authorized(msg: impl Into<String>) -> Error {
        Error::NotAuthorizedException(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
