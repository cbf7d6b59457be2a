//! Tokens and roles (`docs/central-api.md`, "Tokens and roles"): what each
//! role may call, how tokens are made and how a presented token is checked.
//! Tokens live in the central database as SHA-256 hashes only (so several
//! instances sharing one database see the same tokens); the secret is
//! shown once, when it is made. This file decides; `store.rs` keeps the rows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A lobby kiosk: the day's plan, the board, its own check-ins and health.
    Kiosk,
    /// A display that only shows the board.
    Board,
    /// The office's booking website or app back end.
    Booking,
    /// Counter staff: calls, notices, the staff view.
    Staff,
    /// Everything, for every office when bound to `*`.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Kiosk,
        Role::Board,
        Role::Booking,
        Role::Staff,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Board => "board",
            Role::Booking => "booking",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The office binding that means "every office" (admin tokens only).
pub const ALL_OFFICES: &str = "*";

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Row id in the `tokens` table (rate limits are per token).
    pub id: i64,
    pub role: Role,
    /// An office id, or [`ALL_OFFICES`].
    pub office: String,
    /// The kiosk id a `kiosk` token is bound to.
    pub kiosk: Option<String>,
}

/// One thing an endpoint does, with what the role check needs to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    Manifest,
    Board,
    Events,
    /// `POST checkins` whose body names this kiosk.
    Checkin {
        kiosk: &'a str,
    },
    /// `PUT kiosks/{kiosk}/health`.
    Health {
        kiosk: &'a str,
    },
    Book,
    Cancel,
    /// `counters/{c}/next|recall|done|skip`.
    Counter,
    Notice,
    /// `GET staff`: who waits, kiosks' health.
    StaffView,
    /// `POST checkins/{b}/priority` whose body names this kiosk.
    PriorityRequest {
        kiosk: &'a str,
    },
    /// `POST checkins/{b}/priority/confirm|decline`.
    PriorityDecision,
}

impl Action<'_> {
    /// Writes are rate limited per token.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Action::Manifest | Action::Board | Action::Events | Action::StaffView
        )
    }
}

/// True when `who` may do `action` at `office` (the spec's role table).
pub fn allows(who: &Principal, office: &str, action: Action<'_>) -> bool {
    let office_ok = who.office == office || (who.role == Role::Admin && who.office == ALL_OFFICES);
    if !office_ok {
        return false;
    }
    let own_kiosk = |k: &str| who.kiosk.as_deref() == Some(k);
    match who.role {
        Role::Admin => true,
        Role::Kiosk => match action {
            Action::Manifest | Action::Board | Action::Events => true,
            Action::Checkin { kiosk }
            | Action::Health { kiosk }
            | Action::PriorityRequest { kiosk } => own_kiosk(kiosk),
            _ => false,
        },
        Role::Board => matches!(action, Action::Board | Action::Events),
        Role::Booking => matches!(action, Action::Book | Action::Cancel),
        Role::Staff => matches!(
            action,
            Action::Counter
                | Action::Notice
                | Action::StaffView
                | Action::Board
                | Action::Events
                | Action::PriorityDecision
        ),
    }
}

/// Tokens longer than this are not looked up at all.
pub const MAX_TOKEN_LEN: usize = 256;

/// Prefix of tokens this service makes (`act1_` + 43 base64url characters).
pub const TOKEN_SCHEME: &str = "act1_";

/// A new random token: 256 bits from the OS.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("{TOKEN_SCHEME}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a token: all the database keeps.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two hashes in constant time.
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// What `token list` shows of a token: enough to tell tokens apart, never
/// enough to use one.
pub fn display_prefix(secret: &str) -> String {
    let shown: String = secret.chars().take(TOKEN_SCHEME.len() + 4).collect();
    format!("{shown}…")
}

/// The bearer token of an `Authorization` header value, if it has one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let v = header?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = rest.trim();
    (!t.is_empty() && t.len() <= MAX_TOKEN_LEN).then_some(t)
}

/// A token row as `token list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub prefix: String,
    pub role: Role,
    pub office: String,
    pub kiosk: Option<String>,
    pub label: Option<String>,
    pub created: String,
    pub revoked: Option<String>,
}

/// Why a token cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenSpecError {
    #[error("a kiosk token needs --kiosk ID (the kiosk's [kiosk] id)")]
    KioskMissing,
    #[error("--kiosk is only for kiosk tokens; leave it out for role {0}")]
    KioskNotAllowed(Role),
    #[error("kiosk id {0:?} must be 1-64 lower-case letters, digits, - or _ (as [kiosk] id)")]
    BadKiosk(String),
    #[error(
        "office {0:?} must be 1-64 lower-case letters, digits, - or _ (or * for an admin token)"
    )]
    BadOffice(String),
    #[error("only an admin token may be for every office (*)")]
    AllOfficesNotAdmin,
    #[error("label must be at most 100 characters without control characters")]
    BadLabel,
    #[error("the token must be 16-256 printable characters without spaces")]
    BadSecret,
}

/// Identifiers as the kiosk's configuration has them (`[kiosk] id`,
/// `[office] id`).
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks what a new token would be bound to.
pub fn check_spec(
    role: Role,
    office: &str,
    kiosk: Option<&str>,
    label: Option<&str>,
) -> Result<(), TokenSpecError> {
    if office == ALL_OFFICES {
        if role != Role::Admin {
            return Err(TokenSpecError::AllOfficesNotAdmin);
        }
    } else if !is_identifier(office) {
        return Err(TokenSpecError::BadOffice(office.to_string()));
    }
    match (role, kiosk) {
        (Role::Kiosk, None) => return Err(TokenSpecError::KioskMissing),
        (Role::Kiosk, Some(k)) if !is_identifier(k) => {
            return Err(TokenSpecError::BadKiosk(k.to_string()))
        }
        (Role::Kiosk, Some(_)) => {}
        (other, Some(_)) => return Err(TokenSpecError::KioskNotAllowed(other)),
        (_, None) => {}
    }
    if let Some(l) = label {
        if l.chars().count() > 100 || l.chars().any(char::is_control) {
            return Err(TokenSpecError::BadLabel);
        }
    }
    Ok(())
}

/// An imported (old, operator-chosen) token must at least look like a secret.
pub fn check_imported_secret(secret: &str) -> Result<(), TokenSpecError> {
    let ok = (16..=MAX_TOKEN_LEN).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(TokenSpecError::BadSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, office: &str, kiosk: Option<&str>) -> Principal {
        Principal {
            id: 1,
            role,
            office: office.into(),
            kiosk: kiosk.map(str::to_string),
        }
    }

    #[test]
    fn the_role_table() {
        use Action::*;
        let actions = [
            Manifest,
            Board,
            Events,
            Checkin { kiosk: "lobby-1" },
            Health { kiosk: "lobby-1" },
            Book,
            Cancel,
            Counter,
            Notice,
            StaffView,
            PriorityRequest { kiosk: "lobby-1" },
            PriorityDecision,
        ];
        // One row per role: which of `actions` it may do at its own office
        // (kiosk bound to lobby-1).
        let table: [(Role, [bool; 12]); 5] = [
            (
                Role::Kiosk,
                [
                    true, true, true, true, true, false, false, false, false, false, true, false,
                ],
            ),
            (
                Role::Board,
                [
                    false, true, true, false, false, false, false, false, false, false, false,
                    false,
                ],
            ),
            (
                Role::Booking,
                [
                    false, false, false, false, false, true, true, false, false, false, false,
                    false,
                ],
            ),
            (
                Role::Staff,
                [
                    false, true, true, false, false, false, false, true, true, true, false, true,
                ],
            ),
            (Role::Admin, [true; 12]),
        ];
        for (role, row) in table {
            let p = who(
                role,
                "kota-bogor",
                (role == Role::Kiosk).then_some("lobby-1"),
            );
            for (a, want) in actions.iter().zip(row) {
                assert_eq!(allows(&p, "kota-bogor", *a), want, "{role} {a:?}");
                // Another office: never.
                assert!(!allows(&p, "kota-bekasi", *a), "{role} {a:?} elsewhere");
            }
        }
        let kiosk = who(Role::Kiosk, "kota-bogor", Some("lobby-1"));
        assert!(!allows(&kiosk, "kota-bogor", Checkin { kiosk: "lobby-2" }));
        assert!(!allows(&kiosk, "kota-bogor", Health { kiosk: "lobby-2" }));
        assert!(!allows(
            &kiosk,
            "kota-bogor",
            PriorityRequest { kiosk: "lobby-2" }
        ));
        let root = who(Role::Admin, ALL_OFFICES, None);
        assert!(allows(&root, "kota-bekasi", Counter));
        // `*` means every office only for admin tokens.
        assert!(!allows(
            &who(Role::Staff, ALL_OFFICES, None),
            "kota-bogor",
            Counter
        ));
    }

    #[test]
    fn secrets_hashes_and_headers() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_SCHEME.len() + 43);
        assert!(same_hash(&hash(&a), &hash(&a)));
        assert!(!same_hash(&hash(&a), &hash(&b)));
        assert!(!display_prefix(&a).contains(&a[TOKEN_SCHEME.len() + 4..]));
        for (header, want) in [
            (Some("Bearer abc"), Some("abc")),
            (Some("bearer  abc "), Some("abc")),
            (Some("Basic abc"), None),
            (Some("Bearer "), None),
            (Some("abc"), None),
            (None, None),
        ] {
            assert_eq!(bearer(header), want, "{header:?}");
        }
        let long = format!("Bearer {}", "x".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(bearer(Some(&long)), None);
    }

    #[test]
    fn token_specs() {
        use TokenSpecError::*;
        for (role, office, kiosk, want) in [
            (Role::Kiosk, "kota-bogor", Some("lobby-1"), Ok(())),
            (Role::Kiosk, "kota-bogor", None, Err(KioskMissing)),
            (
                Role::Kiosk,
                "kota-bogor",
                Some("Lobby 1"),
                Err(BadKiosk("Lobby 1".into())),
            ),
            (
                Role::Staff,
                "kota-bogor",
                Some("lobby-1"),
                Err(KioskNotAllowed(Role::Staff)),
            ),
            (Role::Staff, "*", None, Err(AllOfficesNotAdmin)),
            (Role::Admin, "*", None, Ok(())),
            (
                Role::Board,
                "Kota Bogor",
                None,
                Err(BadOffice("Kota Bogor".into())),
            ),
        ] {
            assert_eq!(
                check_spec(role, office, kiosk, None),
                want,
                "{role} {office} {kiosk:?}"
            );
        }
        assert_eq!(
            check_spec(Role::Staff, "x", None, Some("a\nb")),
            Err(BadLabel)
        );
        assert!(check_imported_secret("short").is_err());
        assert!(check_imported_secret("with space in it 123").is_err());
        assert!(check_imported_secret("old-plaintext-token-1").is_ok());
    }
}
