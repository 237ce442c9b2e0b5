//! Identity: Ed25519-signed JWTs (EdDSA), verification keys by key id for rotation, the JWKS
//! document, roles, and the extractors handlers use ([`AuthUser`], [`AdminUser`],
//! [`AuditorUser`]).
//!
//! The user service signs with the current signing key; the gateway and every service verify
//! with the set of public keys, so a new key can be introduced before the old one retires.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A role a principal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A shopper.
    Customer,
    /// Manages the catalog and users.
    Admin,
    /// Operates the platform (SLOs, alerts, mitigations).
    Sre,
}

impl Role {
    /// Parses `customer`, `admin` or `sre`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "customer" => Some(Self::Customer),
            "admin" => Some(Self::Admin),
            "sre" => Some(Self::Sre),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::Sre => "sre",
        }
    }
}

/// A public verification key, named by its key id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationKeyConfig {
    /// The `kid` tokens signed by this key carry.
    pub kid: String,
    /// Ed25519 public key, SPKI PEM.
    pub public_key_file: PathBuf,
}

/// Token configuration (`[auth]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `iss` of issued tokens, checked on verification.
    pub issuer: String,
    /// `aud` of issued tokens, checked on verification.
    pub audience: String,
    /// Lifetime of an access token.
    #[serde(with = "crate::store::humantime_serde_compat")]
    pub token_ttl: Duration,
    /// Ed25519 private key (PKCS#8 PEM) that signs new tokens; only the user service needs it.
    pub signing_key_file: Option<PathBuf>,
    /// The key id of the signing key.
    pub signing_key_id: String,
    /// Every key a token may be signed with (the signing key's public half and older ones).
    pub verification_keys: Vec<VerificationKeyConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "ballast".into(),
            audience: "ballast-api".into(),
            token_ttl: Duration::from_secs(3600),
            signing_key_file: None,
            signing_key_id: "ballast-1".into(),
            verification_keys: Vec::new(),
        }
    }
}

impl AuthConfig {
    /// Generates a key pair in `dir` when no keys are configured (embedded first start), and
    /// points this configuration at it. Existing key files are reused.
    pub fn ensure_local_keys(&mut self, dir: &Path) -> anyhow::Result<()> {
        if self.signing_key_file.is_some() || !self.verification_keys.is_empty() {
            return Ok(());
        }
        let private = dir.join(format!("{}.pem", self.signing_key_id));
        let public = dir.join(format!("{}.pub.pem", self.signing_key_id));
        if !private.exists() {
            generate_key_pair(&private, &public)?;
        }
        self.signing_key_file = Some(private);
        self.verification_keys = vec![VerificationKeyConfig {
            kid: self.signing_key_id.clone(),
            public_key_file: public,
        }];
        Ok(())
    }
}

/// Writes a new Ed25519 key pair: the private key (mode 0600) and its public half.
pub fn generate_key_pair(private: &Path, public: &Path) -> anyhow::Result<()> {
    if let Some(parent) = private.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let private_pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding private key: {e}"))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding public key: {e}"))?;
    write_private(private, private_pem.as_bytes())?;
    std::fs::write(public, public_pem)?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// The claims of a Ballast access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's email, for logs and messages.
    pub email: String,
    /// The roles held.
    pub roles: Vec<Role>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

struct VerifyingKey {
    decoding: DecodingKey,
    raw: [u8; 32],
}

/// Keys for signing (optional) and verifying tokens.
pub struct Keys {
    config: AuthConfig,
    signing: Option<(String, EncodingKey)>,
    verifying: BTreeMap<String, VerifyingKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("signing_kid", &self.signing.as_ref().map(|(kid, _)| kid))
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keys {
    /// Loads the key files named in `config`.
    pub fn load(config: &AuthConfig) -> anyhow::Result<Self> {
        let signing = match &config.signing_key_file {
            Some(path) => {
                let pem = read(path)?;
                ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                    anyhow::anyhow!("{}: not an Ed25519 PKCS#8 private key: {e}", path.display())
                })?;
                let key = EncodingKey::from_ed_pem(pem.as_bytes())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Some((config.signing_key_id.clone(), key))
            }
            None => None,
        };
        let mut verifying = BTreeMap::new();
        for entry in &config.verification_keys {
            let pem = read(&entry.public_key_file)?;
            let public = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not an Ed25519 public key: {e}",
                    entry.public_key_file.display()
                )
            })?;
            let decoding = DecodingKey::from_ed_pem(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: {e}", entry.public_key_file.display()))?;
            verifying.insert(
                entry.kid.clone(),
                VerifyingKey {
                    decoding,
                    raw: public.to_bytes(),
                },
            );
        }
        if verifying.is_empty() {
            anyhow::bail!("auth: no verification keys configured (auth.verification_keys)");
        }
        Ok(Self {
            config: config.clone(),
            signing,
            verifying,
        })
    }

    /// Signs an access token for a user.
    pub fn issue(&self, user_id: &str, email: &str, roles: &[Role]) -> anyhow::Result<String> {
        let (kid, key) = self
            .signing
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("auth: no signing key configured"))?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            email: email.to_owned(),
            roles: roles.to_vec(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            iat: now,
            exp: now + i64::try_from(self.config.token_ttl.as_secs()).unwrap_or(3600),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, key)?)
    }

    /// The lifetime of issued tokens.
    pub fn token_ttl(&self) -> Duration {
        self.config.token_ttl
    }

    /// Verifies a token's signature (by its `kid`), issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::Unauthorized("malformed token".into()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(ApiError::Unauthorized("unsupported token algorithm".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::Unauthorized("token has no key id".into()))?;
        let key = self
            .verifying
            .get(&kid)
            .ok_or_else(|| ApiError::Unauthorized("token signed by an unknown key".into()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.leeway = 30;
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthorized("token expired".into())
                }
                _ => ApiError::Unauthorized("invalid token".into()),
            })
    }

    /// The JSON Web Key Set of the verification keys (RFC 7517, OKP keys of RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .verifying
            .iter()
            .map(|(kid, key)| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "use": "sig",
                    "kid": kid,
                    "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.raw),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// An authenticated user (any role); a missing or bad token is 401.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    /// Whether the user holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.0.roles.contains(&role)
    }

    /// The user id.
    pub fn id(&self) -> &str {
        &self.0.sub
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let keys = parts
            .extensions
            .get::<Arc<Keys>>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("auth keys not installed")))?;
        let token =
            bearer(parts).ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
        keys.verify(token).map(AuthUser)
    }
}

/// An authenticated user holding the `admin` role; otherwise 401 or 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.has(Role::Admin) {
            Ok(AdminUser(user.0))
        } else {
            Err(ApiError::Forbidden("requires the admin role".into()))
        }
    }
}

/// An authenticated user holding the `admin` or the `sre` role (the audit endpoints `ballast
/// verify` reads); otherwise 401 or 403.
#[derive(Debug, Clone)]
pub struct AuditorUser(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for AuditorUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.has(Role::Admin) || user.has(Role::Sre) {
            Ok(AuditorUser(user.0))
        } else {
            Err(ApiError::Forbidden("requires the admin or sre role".into()))
        }
    }
}

/// The OpenAPI `bearer` security scheme (a JWT in `Authorization: Bearer`), added to a
/// service's document with `#[openapi(modifiers(&BearerAuth))]`.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> AuthConfig {
        let mut config = AuthConfig::default();
        config.ensure_local_keys(dir).unwrap();
        config
    }

    #[test]
    fn issued_tokens_verify_and_carry_roles() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load(&config(dir.path())).unwrap();
        let token = keys.issue("u1", "a@example.com", &[Role::Admin]).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.roles, vec![Role::Admin]);
        assert!(keys.verify(&format!("{token}x")).is_err());
    }

    #[test]
    fn rotation_accepts_old_and_new_keys_and_rejects_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let old = config(dir.path());
        let old_keys = Keys::load(&old).unwrap();
        let old_token = old_keys.issue("u1", "a@example.com", &[]).unwrap();

        let mut new = AuthConfig {
            signing_key_id: "ballast-2".into(),
            ..AuthConfig::default()
        };
        let other = tempfile::tempdir().unwrap();
        new.ensure_local_keys(other.path()).unwrap();
        let new_only = Keys::load(&new).unwrap();
        assert!(new_only.verify(&old_token).is_err(), "unknown kid");

        new.verification_keys.extend(old.verification_keys.clone());
        let rotated = Keys::load(&new).unwrap();
        assert!(rotated.verify(&old_token).is_ok());
        let new_token = rotated.issue("u2", "b@example.com", &[]).unwrap();
        assert_eq!(rotated.verify(&new_token).unwrap().sub, "u2");
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_private_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config.signing_key_file.unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
