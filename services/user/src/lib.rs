//! The Ballast user service: accounts, authentication and roles.
//!
//! It registers customers, exchanges email and password for an EdDSA access token signed with
//! the platform's keys (every other service and the gateway verify it), lets users read and
//! change their profile, and lets admins list accounts and assign roles. Passwords are hashed
//! with Argon2id and never leave the service or reach a log.
//!
//! Layout:
//!
//! - [`domain`]: validated types ([`domain::Email`], [`domain::Password`],
//!   [`domain::DisplayName`]) and role lists
//! - [`password`]: Argon2id hashing on the blocking pool, [`generate_password`]
//! - [`queries`]: the `users` table (migrations in `migrations/`)
//! - [`api`]: the documented `/v1` router and its request and response bodies
//! - [`seed`]: [`ensure_admin`], the first admin account
//! - [`metrics`]: login and registration counters
//! - [`error`]: [`error::UserError`] and its HTTP statuses

pub mod api;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod password;
pub mod queries;
pub mod seed;

use ballast_kit::service::{Service, ServiceContext};
use ballast_kit::store::Migration;
use utoipa_axum::router::OpenApiRouter;

pub use password::generate_password;
pub use seed::{AdminSeed, ensure_admin};

/// The user service's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "users",
    include_str!("../migrations/0001_users.sql"),
)];

/// The user service, for `assemble` and `ballast serve user`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserService;

impl Service for UserService {
    fn name(&self) -> &'static str {
        "user"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context)
    }
}
