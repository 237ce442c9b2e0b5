//! The first admin account, created by `ballast up` on first start.

use anyhow::Context;
use ballast_kit::auth::Role;
use ballast_kit::store::{Store, now_millis};

use crate::domain::{Email, Password};
use crate::error::UserError;
use crate::password;
use crate::queries::{self, NewUser};

/// The display name of a seeded admin account.
pub const ADMIN_NAME: &str = "Administrator";

/// What [`ensure_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSeed {
    /// The account did not exist and was created with roles `customer` and `admin`.
    Created,
    /// An account with this email already existed; it was left unchanged.
    AlreadyExists,
}

/// Creates an admin account (roles `customer` and `admin`) with `email` and `password` unless
/// an account with that email exists. Safe to call on every start and from several replicas.
pub async fn ensure_admin(store: &Store, email: &str, password: &str) -> anyhow::Result<AdminSeed> {
    let email = Email::parse(email).context("the admin email")?;
    if queries::find_by_email(store, email.as_str())
        .await?
        .is_some()
    {
        return Ok(AdminSeed::AlreadyExists);
    }
    let password = Password::parse(password).context("the admin password")?;
    let hash = password::hash(&password).await?;
    let inserted = queries::insert(
        store,
        NewUser {
            email: email.as_str(),
            name: ADMIN_NAME,
            password_hash: &hash,
            roles: &[Role::Customer, Role::Admin],
        },
        now_millis(),
    )
    .await;
    match inserted {
        Ok(user) => {
            tracing::info!(user_id = %user.id, email = %email, "admin account created");
            Ok(AdminSeed::Created)
        }
        // Another replica created it between our look-up and our insert.
        Err(UserError::EmailTaken) => Ok(AdminSeed::AlreadyExists),
        Err(e) => Err(e).context("creating the admin account"),
    }
}
