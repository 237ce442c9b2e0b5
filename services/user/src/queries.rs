//! The `users` table: every SQL statement the service runs, in portable SQL.

use ballast_kit::auth::Role;
use ballast_kit::store::Store;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{roles_from_text, roles_to_text};
use crate::error::UserError;

/// The column list every statement reads back, as a literal so statements stay `&'static str`.
macro_rules! columns {
    () => {
        "id, email, name, password_hash, roles, created_at, updated_at"
    };
}

/// A row of `users`. It holds the password hash, so it is never serialised or logged whole.
#[derive(Clone)]
pub struct StoredUser {
    /// uuid v7.
    pub id: String,
    /// Lowercased email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Roles held, canonical order.
    pub roles: Vec<Role>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

fn from_row(row: &AnyRow) -> Result<StoredUser, sqlx::Error> {
    let roles: String = row.try_get("roles")?;
    Ok(StoredUser {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        roles: roles_from_text(&roles),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// What a new account is made of.
pub struct NewUser<'a> {
    /// Normalised email.
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// Initial roles.
    pub roles: &'a [Role],
}

/// Inserts an account with a new uuid v7 id; an email already in use is [`UserError::EmailTaken`].
pub async fn insert(store: &Store, user: NewUser<'_>, now: i64) -> Result<StoredUser, UserError> {
    let id = uuid::Uuid::now_v7().to_string();
    const SQL: &str = concat!(
        "INSERT INTO users (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        columns!()
    );
    let row = sqlx::query(SQL)
        .bind(&id)
        .bind(user.email)
        .bind(user.name)
        .bind(user.password_hash)
        .bind(roles_to_text(user.roles))
        .bind(now)
        .bind(now)
        .fetch_one(store.pool())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => UserError::EmailTaken,
            _ => UserError::Database(e),
        })?;
    Ok(from_row(&row)?)
}

/// The account with this (normalised) email.
pub async fn find_by_email(store: &Store, email: &str) -> Result<Option<StoredUser>, UserError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM users WHERE email = $1");
    let row = sqlx::query(SQL)
        .bind(email)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The account with this id.
pub async fn find_by_id(store: &Store, id: &str) -> Result<Option<StoredUser>, UserError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM users WHERE id = $1");
    let row = sqlx::query(SQL)
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// One page of accounts, oldest first, and the total number of accounts.
pub async fn list(
    store: &Store,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredUser>, i64), UserError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
    );
    let rows = sqlx::query(SQL)
        .bind(limit)
        .bind(offset)
        .fetch_all(store.pool())
        .await?;
    let users = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let total: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
        .fetch_one(store.pool())
        .await?;
    Ok((users, total))
}

/// Changes the name and/or password hash (a `None` keeps the current value).
pub async fn update_profile(
    store: &Store,
    id: &str,
    name: Option<&str>,
    password_hash: Option<&str>,
    now: i64,
) -> Result<Option<StoredUser>, UserError> {
    const SQL: &str = concat!(
        "UPDATE users SET name = COALESCE($1, name), password_hash = COALESCE($2, password_hash), updated_at = $3 WHERE id = $4 RETURNING ",
        columns!()
    );
    let row = sqlx::query(SQL)
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Replaces the roles of an account.
pub async fn set_roles(
    store: &Store,
    id: &str,
    roles: &[Role],
    now: i64,
) -> Result<Option<StoredUser>, UserError> {
    const SQL: &str = concat!(
        "UPDATE users SET roles = $1, updated_at = $2 WHERE id = $3 RETURNING ",
        columns!()
    );
    let row = sqlx::query(SQL)
        .bind(roles_to_text(roles))
        .bind(now)
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}
