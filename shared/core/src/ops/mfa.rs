//! MFA: the pool MFA configuration, software tokens (TOTP), the users' MFA preferences, and
//! the MFA pieces the sign-in flow uses.
