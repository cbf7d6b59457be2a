//! Signing keys and booking tokens for tests: this process's own office
//! key (never a published one), the spec vectors' published key, tokens
//! signed with either, and forgeries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};

use crate::office::OFFICE;

/// The office's signing key in these tests: made afresh for each test
/// process, like an office's real key, so nothing here trusts a published
/// key (the spec vectors' keys are refused outside the demo office).
pub struct TestKey {
    pub kid: String,
    /// base64url, no padding.
    pub public_key: String,
    /// base64url, no padding (tests only).
    pub private_seed: String,
}

/// This test process's signing key (see [`TestKey`]).
pub fn test_key() -> &'static TestKey {
    static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        TestKey {
            kid: "k-test".into(),
            public_key: URL_SAFE_NO_PAD
                .encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes()),
            private_seed: URL_SAFE_NO_PAD.encode(seed),
        }
    })
}

/// The spec vectors' published test key k2024a: only the demo office may
/// trust it.
pub const PUBLISHED_KID: &str = "k2024a";
pub const PUBLISHED_PUBLIC_KEY: &str = "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q";
pub const PUBLISHED_SEED: &str = "dp2AOi_aCDZ4Rnps54Ry00O70IyX2AZ9iL5xDXb0ly8";

/// Signs an `AQ1.` token with this test process's office key.
pub fn token(booking: &str, number: &str, date: &str, slot: &str, service: &str) -> String {
    let key = test_key();
    token_with(
        &key.kid,
        &key.private_seed,
        OFFICE,
        booking,
        number,
        date,
        slot,
        service,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn token_with(
    kid: &str,
    seed: &str,
    office: &str,
    booking: &str,
    number: &str,
    date: &str,
    slot: &str,
    service: &str,
) -> String {
    let payload = serde_json::json!({
        "kid": kid, "office": office, "booking": booking, "date": date,
        "slot": slot, "service": service, "number": number,
    });
    let signed = format!(
        "AQ1.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap())
    );
    let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(seed).unwrap().try_into().unwrap();
    let sig = SigningKey::from_bytes(&seed).sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// `token` with `from` replaced by `to` in its payload after signing (a
/// forgery: the signature no longer matches).
pub fn altered(token: &str, from: &str, to: &str) -> String {
    let mut parts = token.split('.');
    let (_, payload, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(json.contains(from), "{json} has no {from}");
    format!(
        "AQ1.{}.{sig}",
        URL_SAFE_NO_PAD.encode(json.replace(from, to))
    )
}
