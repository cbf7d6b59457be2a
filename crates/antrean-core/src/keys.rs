//! The public keys a kiosk trusts for `AQ1.` tokens, and the published
//! test keys that only the demo office may trust.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

/// Keys whose private halves are public (the booking-QR spec's test
/// vectors): anyone can sign tokens with them. `(kid, public key)`.
pub const PUBLISHED_TEST_KEYS: [(&str, &str); 2] = [
    ("k2024a", "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q"),
    ("k2024b", "y3QRZDmSofskewOyX1jhu_WuiWvrhxTZ20DjGB8zn1w"),
];

/// The one office id that may trust [`PUBLISHED_TEST_KEYS`] (demos,
/// training): no real office can be named like this by accident.
pub const DEMO_OFFICE: &str = "demo";

/// A public key the kiosk trusts for `AQ1.` tokens.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub kid: String,
    pub key: VerifyingKey,
}

/// The key text is not a valid Ed25519 public key.
#[derive(Debug, thiserror::Error)]
#[error("not a 32-byte Ed25519 public key in base64url without padding")]
pub struct BadKey;

impl TrustedKey {
    /// Builds a key from its base64url (no padding) form.
    pub fn from_base64(kid: &str, public_key: &str) -> Result<TrustedKey, BadKey> {
        let bytes = URL_SAFE_NO_PAD
            .decode(public_key.trim())
            .map_err(|_| BadKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| BadKey)?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| BadKey)?;
        Ok(TrustedKey {
            kid: kid.to_string(),
            key,
        })
    }

    /// The published test key this is, if it is one (see
    /// [`PUBLISHED_TEST_KEYS`]), by its published kid.
    pub fn published_as(&self) -> Option<&'static str> {
        let mine = URL_SAFE_NO_PAD.encode(self.key.to_bytes());
        PUBLISHED_TEST_KEYS
            .iter()
            .find(|(_, public)| *public == mine)
            .map(|(kid, _)| *kid)
    }

    /// True when `office` may trust this key: any key but a published
    /// test key, which only the demo office may trust.
    pub fn trustworthy_for(&self, office: &str) -> bool {
        office == DEMO_OFFICE || self.published_as().is_none()
    }
}

/// The set of trusted keys by `kid` (configuration plus manifests).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, VerifyingKey>,
}

impl KeyRing {
    pub fn new(keys: impl IntoIterator<Item = TrustedKey>) -> KeyRing {
        let mut ring = KeyRing::default();
        ring.extend(keys);
        ring
    }

    /// Adds keys; a later key with the same `kid` replaces the earlier one.
    pub fn extend(&mut self, keys: impl IntoIterator<Item = TrustedKey>) {
        for k in keys {
            self.keys.insert(k.kid, k.key);
        }
    }

    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_keys_are_trusted_only_by_the_demo_office() {
        for (kid, public) in PUBLISHED_TEST_KEYS {
            let k = TrustedKey::from_base64("any", public).unwrap();
            assert_eq!(k.published_as(), Some(kid));
            assert!(!k.trustworthy_for("kota-bogor"));
            assert!(k.trustworthy_for(DEMO_OFFICE));
        }
        let own = TrustedKey {
            kid: "k-own".into(),
            key: ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
        };
        assert_eq!(own.published_as(), None);
        assert!(own.trustworthy_for("kota-bogor"));
    }
}
