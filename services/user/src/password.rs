//! Password hashing with Argon2id (default parameters, PHC string format), run on the blocking
//! pool because it is deliberately CPU-heavy, and random password generation.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::domain::Password;
use crate::error::UserError;

/// The length of a generated password.
pub const GENERATED_PASSWORD_LEN: usize = 20;

/// Hashes `password` with a fresh random salt into a PHC string (`$argon2id$v=19$...`).
pub async fn hash(password: &Password) -> Result<String, UserError> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || hash_blocking(password.expose()))
        .await
        .map_err(|e| UserError::Hashing(format!("hashing task failed: {e}")))?
}

/// Whether `password` matches the PHC string `phc`.
pub async fn verify(password: &str, phc: String) -> Result<bool, UserError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify_blocking(&password, &phc))
        .await
        .map_err(|e| UserError::Hashing(format!("verifying task failed: {e}")))?
}

/// Spends the same work as a real verification, for logins naming an unknown email, so the
/// answer time does not tell which emails have accounts.
pub async fn verify_nothing(password: &str) -> Result<(), UserError> {
    let phc = dummy_hash()?.to_owned();
    verify(password, phc).await.map(|_| ())
}

fn hash_blocking(password: &str) -> Result<String, UserError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| UserError::Hashing(e.to_string()))
}

fn verify_blocking(password: &str, phc: &str) -> Result<bool, UserError> {
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(UserError::Hashing(e.to_string())),
    }
}

fn dummy_hash() -> Result<&'static str, UserError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(phc) = DUMMY.get() {
        return Ok(phc);
    }
    let phc = hash_blocking(&generate_password())?;
    Ok(DUMMY.get_or_init(|| phc))
}

/// A random password of 20 ASCII letters and digits (about 119 bits), for an admin account
/// whose password is not configured.
pub fn generate_password() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify_only_the_right_password() {
        let password = Password::parse("correct horse battery").unwrap();
        let phc = hash(&password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse battery", phc.clone()).await.unwrap());
        assert!(!verify("correct horse battery!", phc.clone()).await.unwrap());
        let again = hash(&password).await.unwrap();
        assert_ne!(phc, again, "each hash has its own salt");
    }

    #[tokio::test]
    async fn a_corrupt_hash_is_an_error_not_a_mismatch() {
        assert!(
            verify("whatever1", "not a phc string".into())
                .await
                .is_err()
        );
        verify_nothing("whatever1").await.unwrap();
    }

    #[test]
    fn generated_passwords_are_20_alphanumerics_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert!(Password::parse(&a).is_ok());
    }
}
