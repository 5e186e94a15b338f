//! CSRF tokens, without server-side state.
//!
//! - Logged-in forms carry a synchronizer token derived from the session token:
//!   `SHA-256("wardflux-ui-csrf" || session token)`. The session token is a 256-bit random
//!   value held only by the browser (HttpOnly cookie) and, hashed differently, by the store;
//!   a page on another site can neither read the cookie nor the token embedded in our pages,
//!   so it cannot produce the field. A new login gives a new session, hence a new token.
//! - The login form has no session yet: it uses a double-submit cookie
//!   (`wardflux_login_csrf`, random, `SameSite=Strict`, HttpOnly) whose value the form repeats
//!   in its hidden field.
//!
//! Every form posts the token in a hidden field named `csrf`. Comparisons are
//! constant-time (`subtle`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Cookie of the login form's double-submit token.
pub const LOGIN_COOKIE: &str = "wardflux_login_csrf";

/// The CSRF token of the session whose token is `session_token`.
pub fn for_session(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"wardflux-ui-csrf\0");
    h.update(session_token.as_bytes());
    hex(&h.finalize())
}

/// A fresh random token (the login form's).
pub fn random() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// Whether `given` equals `expected` (constant time; empty never matches).
pub fn matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_session_and_compared_exactly() {
        let a = for_session("session-a");
        assert_eq!(a, for_session("session-a"));
        assert_ne!(a, for_session("session-b"));
        assert_eq!(a.len(), 64);
        assert!(matches(&a, &a));
        assert!(!matches(&a, &a[..63]));
        assert!(!matches(&a, ""));
        assert!(!matches("", ""));
        assert_ne!(random(), random());
    }
}
