//! Who is calling: a bearer token verified with the kit's [`Keys`], an `X-API-Key` compared in
//! constant time, or nobody; and whether that principal may call a rule ([`authorize`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ballast_kit::ApiError;
use ballast_kit::auth::{Claims, Keys, Role};
use http::HeaderMap;
use parking_lot::Mutex;
use subtle::ConstantTimeEq;

use crate::config::ApiKeyConfig;
use crate::routes::Access;

/// The header machine clients send their key in.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No credentials.
    Anonymous,
    /// A user with a verified token.
    User(Claims),
    /// A machine client with a configured key.
    ApiKey {
        /// The key's configured name.
        name: String,
        /// The roles it grants.
        roles: Vec<Role>,
    },
}

impl Principal {
    /// The roles held (none when anonymous).
    pub fn roles(&self) -> &[Role] {
        match self {
            Self::Anonymous => &[],
            Self::User(claims) => &claims.roles,
            Self::ApiKey { roles, .. } => roles,
        }
    }
}

/// Resolves credentials: token verification and the API key table.
pub struct Authenticator {
    keys: Arc<Keys>,
    api_keys: Vec<ApiKeyConfig>,
    /// Tokens issued for API-key principals, by key name, with when they were issued.
    minted: Mutex<HashMap<String, (Instant, String)>>,
}

impl Authenticator {
    /// Verifies tokens with `keys` and API keys against `api_keys`.
    pub fn new(keys: Arc<Keys>, api_keys: Vec<ApiKeyConfig>) -> Self {
        Self {
            keys,
            api_keys,
            minted: Mutex::new(HashMap::new()),
        }
    }

    /// The principal the headers present; present but bad credentials are 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        if let Some(value) = headers.get(API_KEY_HEADER) {
            return self.api_key(value.as_bytes());
        }
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Ok(Principal::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("expected a bearer token".into()))?;
        self.keys.verify(token).map(Principal::User)
    }

    /// Looks the key up, comparing against every configured key in constant time.
    fn api_key(&self, presented: &[u8]) -> Result<Principal, ApiError> {
        let mut found: Option<&ApiKeyConfig> = None;
        for candidate in &self.api_keys {
            let matches: bool = candidate.key.expose().as_bytes().ct_eq(presented).into();
            if matches && found.is_none() {
                found = Some(candidate);
            }
        }
        found
            .map(|config| Principal::ApiKey {
                name: config.name.clone(),
                roles: config.roles.clone(),
            })
            .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))
    }

    /// The token forwarded upstream for an API-key principal (`sub` = `apikey:<name>`), when
    /// these keys can sign one. A token is reused for half its lifetime.
    pub fn token_for(&self, name: &str, roles: &[Role]) -> Option<String> {
        let reuse_for = self.keys.token_ttl() / 2;
        if let Some((issued, token)) = self.minted.lock().get(name)
            && issued.elapsed() < reuse_for
        {
            return Some(token.clone());
        }
        let subject = format!("apikey:{name}");
        match self.keys.issue(&subject, &format!("{name}@api-key"), roles) {
            Ok(token) => {
                self.minted
                    .lock()
                    .insert(name.to_owned(), (Instant::now(), token.clone()));
                Some(token)
            }
            Err(error) => {
                tracing::debug!(error = %error, "no token for API-key principal");
                None
            }
        }
    }
}

/// Whether `principal` may call an operation with `access`: 401 without credentials, 403
/// without the role.
pub fn authorize(principal: &Principal, access: Access) -> Result<(), ApiError> {
    match (access, principal) {
        (Access::Public, _) => Ok(()),
        (_, Principal::Anonymous) => Err(ApiError::Unauthorized(
            "authentication required: send a bearer token or an API key".into(),
        )),
        (Access::Authenticated, _) => Ok(()),
        (Access::Roles(allowed), principal) => {
            if principal.roles().iter().any(|role| allowed.contains(role)) {
                Ok(())
            } else {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                Err(ApiError::Forbidden(format!(
                    "requires one of the roles: {}",
                    names.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role]) -> Principal {
        Principal::User(Claims {
            sub: "u".into(),
            email: "u@example.com".into(),
            roles: roles.to_vec(),
            iss: "ballast".into(),
            aud: "ballast-api".into(),
            iat: 0,
            exp: 0,
        })
    }

    #[test]
    fn access_rules_answer_401_then_403() {
        let admin_only = Access::Roles(&[Role::Admin]);
        assert!(authorize(&Principal::Anonymous, Access::Public).is_ok());
        assert!(matches!(
            authorize(&Principal::Anonymous, Access::Authenticated),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(authorize(&user(&[Role::Customer]), Access::Authenticated).is_ok());
        assert!(matches!(
            authorize(&user(&[Role::Customer]), admin_only),
            Err(ApiError::Forbidden(_))
        ));
        assert!(authorize(&user(&[Role::Customer, Role::Admin]), admin_only).is_ok());
        let machine = Principal::ApiKey {
            name: "m".into(),
            roles: vec![Role::Sre],
        };
        assert!(matches!(
            authorize(&machine, admin_only),
            Err(ApiError::Forbidden(_))
        ));
    }
}
