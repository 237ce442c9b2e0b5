//! Validated domain types: an account's email, password, display name and roles. Each has a
//! parsing constructor, so input that passed through one cannot be invalid further in.

use std::fmt;

use ballast_kit::auth::Role;

use crate::error::UserError;

/// The longest email address accepted (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// The shortest password accepted, in characters.
pub const PASSWORD_MIN: usize = 8;
/// The longest password accepted, in characters.
pub const PASSWORD_MAX: usize = 128;
/// The longest display name accepted, in characters.
pub const NAME_MAX: usize = 100;

/// A trimmed, lowercased, plausibly deliverable email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Trims and lowercases `input`, then checks it looks like `local@domain.tld`.
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let email = input.trim().to_lowercase();
        let invalid = |reason: &str| Err(UserError::invalid("email", reason));
        if email.is_empty() {
            return invalid("must not be empty");
        }
        if email.chars().count() > EMAIL_MAX {
            return invalid("must be at most 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid("must contain an @");
        };
        if domain.contains('@') {
            return invalid("must contain exactly one @");
        }
        if local.is_empty() || local.chars().count() > 64 {
            return invalid("the part before @ must be 1 to 64 characters");
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return invalid("the part before @ has misplaced dots");
        }
        if !local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        {
            return invalid("the part before @ contains a character that is not allowed");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return invalid("the domain must contain a dot");
        }
        for label in &labels {
            let length = label.chars().count();
            if length == 0 || length > 63 {
                return invalid("each domain label must be 1 to 63 characters");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return invalid("a domain label must not start or end with a hyphen");
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return invalid("the domain contains a character that is not allowed");
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.chars().count() < 2 || tld.chars().all(|c| c.is_ascii_digit()))
        {
            return invalid("the top-level domain must be at least 2 letters");
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password of acceptable length; its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Accepts 8 to 128 characters, taken as written (no trimming).
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let length = input.chars().count();
        if length < PASSWORD_MIN {
            return Err(UserError::invalid(
                "password",
                "must be at least 8 characters",
            ));
        }
        if length > PASSWORD_MAX {
            return Err(UserError::invalid(
                "password",
                "must be at most 128 characters",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A trimmed display name of 1 to 100 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims `input` and checks its length and characters.
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(UserError::invalid("name", "must not be empty"));
        }
        if name.chars().count() > NAME_MAX {
            return Err(UserError::invalid("name", "must be at most 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(UserError::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const ROLE_ORDER: [Role; 3] = [Role::Customer, Role::Admin, Role::Sre];

/// Parses role names into a deduplicated list in canonical order; unknown names and an empty
/// list are a 422 on `roles`.
pub fn parse_roles<S: AsRef<str>>(names: &[S]) -> Result<Vec<Role>, UserError> {
    if names.is_empty() {
        return Err(UserError::invalid("roles", "must name at least one role"));
    }
    let mut roles = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_ref();
        let role = Role::parse(name).ok_or_else(|| {
            UserError::invalid(
                "roles",
                format!("unknown role '{name}' (expected customer, admin or sre)"),
            )
        })?;
        roles.push(role);
    }
    Ok(canonical(&roles))
}

/// The roles deduplicated, in the order customer, admin, sre.
pub fn canonical(roles: &[Role]) -> Vec<Role> {
    ROLE_ORDER
        .into_iter()
        .filter(|role| roles.contains(role))
        .collect()
}

/// The stored form of a role list: `customer,admin`.
pub fn roles_to_text(roles: &[Role]) -> String {
    canonical(roles)
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a stored role list; names this version does not know are skipped.
pub fn roles_from_text(text: &str) -> Vec<Role> {
    let roles: Vec<Role> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter_map(Role::parse)
        .collect();
    canonical(&roles)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn field_of(error: UserError) -> &'static str {
        match error {
            UserError::Invalid { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("  Alice.Smith+shop@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "alice.smith+shop@example.com");
    }

    #[test]
    fn implausible_emails_are_rejected_on_the_email_field() {
        for bad in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@@example.com",
            "a@b@example.com",
            "al ice@example.com",
            "alice@exa mple.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "alice@example.c",
            "alice@127.0.0.1",
            "alice<script>@example.com",
        ] {
            let error = Email::parse(bad).expect_err(bad);
            assert_eq!(field_of(error), "email", "{bad}");
        }
    }

    #[test]
    fn email_length_is_capped_at_254() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        let fits = format!("{}@{domain}", "x".repeat(EMAIL_MAX - 1 - domain.len()));
        assert_eq!(fits.len(), EMAIL_MAX);
        assert!(Email::parse(&fits).is_ok());
        let too_long = format!("x{fits}");
        assert!(Email::parse(&too_long).is_err());
    }

    #[test]
    fn passwords_must_be_8_to_128_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"p".repeat(128)).is_ok());
        assert_eq!(
            field_of(Password::parse(&"p".repeat(129)).unwrap_err()),
            "password"
        );
        // Characters, not bytes: eight multi-byte characters are enough.
        assert!(Password::parse("ééééàààà").is_ok());
    }

    #[test]
    fn password_debug_never_shows_the_password() {
        let password = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(field_of(DisplayName::parse("   ").unwrap_err()), "name");
        assert!(DisplayName::parse(&"n".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn roles_parse_into_canonical_order_without_duplicates() {
        let roles = parse_roles(&["sre", "customer", "sre", "admin"]).unwrap();
        assert_eq!(roles, vec![Role::Customer, Role::Admin, Role::Sre]);
        assert_eq!(field_of(parse_roles(&["root"]).unwrap_err()), "roles");
        assert!(parse_roles::<&str>(&[]).is_err());
    }

    #[test]
    fn stored_roles_round_trip() {
        let text = roles_to_text(&[Role::Admin, Role::Customer]);
        assert_eq!(text, "customer,admin");
        assert_eq!(roles_from_text(&text), vec![Role::Customer, Role::Admin]);
        assert_eq!(roles_from_text(""), Vec::<Role>::new());
        assert_eq!(roles_from_text("customer,wizard"), vec![Role::Customer]);
    }
}
