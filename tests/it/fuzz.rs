//! Property-based fuzzing of the parsers that meet untrusted bytes: the
//! booking token parser, scanner framing, the printer's status replies and
//! the SSE parser. A short run is part of the tests; for a long run:
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use antrean_core::checkin::{verify, Reason, Rules};
use antrean_core::framing::{Frame, ScanFramer};
use antrean_core::keys::{KeyRing, TrustedKey};
use antrean_core::printer_status;
use antrean_core::sse::{SseItem, SseParser};
use chrono::DateTime;
use proptest::prelude::*;

fn rules() -> Rules {
    Rules {
        office: "kota-bogor".into(),
        timezone: chrono_tz::Asia::Jakarta,
        early_minutes: 30,
        late_minutes: 15,
        reprint_limit: 1,
    }
}

fn keys() -> KeyRing {
    KeyRing::new([
        TrustedKey::from_base64("k2024a", "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q").unwrap(),
    ])
}

const VALID: &str = "AQ1.eyJraWQiOiJrMjAyNGEiLCJvZmZpY2UiOiJrb3RhLWJvZ29yIiwiYm9va2luZyI6IkJHUi0yNDA1MDgtMDAxMjMiLCJkYXRlIjoiMjAyNC0wNS0wOCIsInNsb3QiOiIwOTowMC0xMDowMCIsInNlcnZpY2UiOiJLVFAtRUwiLCJudW1iZXIiOiJCLTAxNSJ9.I7uDgLHwlqGSm5F80XZBz8A41H9CROeQGg5HZq0rYTz9Okzfl3Rpz_WX8QbPN_k8EDGT2t1URCvqBSLx8Iq0BA";

fn now() -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap()
}

/// What noise may be refused as: it is never a booking, never in time.
fn refused_as_noise(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::InvalidFormat | Reason::UnknownBooking | Reason::UnknownKey | Reason::BadSignature
    )
}

/// The properties below are only worth something if these rules and keys
/// accept a genuine token at this time.
#[test]
fn the_fuzzed_rules_accept_the_genuine_token() {
    let v = verify(VALID, now(), &rules(), &keys(), None).expect("the genuine token passes");
    assert_eq!(v.booking.booking, "BGR-240508-00123");
}

proptest! {
    #[test]
    fn token_parser_never_panics_and_never_accepts_noise(s in "\\PC{0,1200}") {
        match verify(&s, now(), &rules(), &keys(), None) {
            Ok(v) => prop_assert!(false, "noise {s:?} accepted as {:?}", v.booking),
            Err(r) => prop_assert!(refused_as_noise(r.reason), "{s:?}: {:?}", r.reason),
        }
    }

    #[test]
    fn noise_shaped_like_a_token_is_never_accepted(
        payload in "[A-Za-z0-9_-]{0,300}",
        sig in "[A-Za-z0-9_-]{0,120}",
        dots in 0usize..3,
    ) {
        let s = format!("AQ1.{payload}{}{sig}", ".".repeat(dots));
        match verify(&s, now(), &rules(), &keys(), None) {
            Ok(v) => prop_assert!(false, "noise {s:?} accepted as {:?}", v.booking),
            Err(r) => prop_assert!(refused_as_noise(r.reason), "{s:?}: {:?}", r.reason),
        }
    }

    #[test]
    fn the_genuine_payload_with_another_signature_is_refused(sig in "[A-Za-z0-9_-]{86}") {
        let (signed, genuine) = VALID.rsplit_once('.').unwrap();
        prop_assume!(sig != genuine);
        let r = verify(&format!("{signed}.{sig}"), now(), &rules(), &keys(), None);
        let reason = r.map(|v| v.booking).unwrap_err().reason;
        prop_assert!(matches!(reason, Reason::BadSignature | Reason::InvalidFormat), "{reason:?}");
    }

    #[test]
    fn a_changed_byte_in_a_token_is_never_accepted(pos in 4usize..VALID.len(), c in "[A-Za-z0-9_-]") {
        let mut bytes = VALID.as_bytes().to_vec();
        if bytes[pos] != b'.' && bytes[pos] != c.as_bytes()[0] {
            bytes[pos] = c.as_bytes()[0];
            let s = String::from_utf8(bytes).unwrap();
            let now = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
            let r = verify(&s, now, &rules(), &keys(), None);
            prop_assert!(r.is_err(), "tampered token accepted");
            let reason = r.unwrap_err().reason;
            prop_assert!(matches!(reason, Reason::InvalidFormat | Reason::BadSignature | Reason::UnknownKey | Reason::WrongOffice), "{reason:?}");
        }
    }

    #[test]
    fn framing_is_the_same_for_any_chunking(bytes in proptest::collection::vec(any::<u8>(), 0..3000), cut in any::<prop::sample::Index>()) {
        let whole = {
            let mut f = ScanFramer::new();
            let mut out = f.push(&bytes);
            out.extend(f.idle());
            out
        };
        let at = cut.index(bytes.len() + 1);
        let split = {
            let mut f = ScanFramer::new();
            let mut out = f.push(&bytes[..at]);
            out.extend(f.push(&bytes[at..]));
            out.extend(f.idle());
            out
        };
        prop_assert_eq!(&whole, &split);
        for frame in whole {
            if let Frame::Scan(s) = frame {
                prop_assert!(!s.is_empty() && s.len() <= 1024);
                prop_assert!(!s.contains('\r') && !s.contains('\n'));
            }
        }
    }

    #[test]
    fn status_replies_decode_or_are_refused(bytes in any::<[u8; 4]>()) {
        let fixed_ok = bytes.iter().all(|b| b & 0x93 == 0x12);
        prop_assert_eq!(printer_status::decode(bytes).is_ok(), fixed_ok);
    }

    #[test]
    fn sse_parser_is_chunking_independent(bytes in proptest::collection::vec(any::<u8>(), 0..2000), cut in any::<prop::sample::Index>()) {
        let mut p = SseParser::new();
        let whole: Vec<SseItem> = p.push(&bytes);
        let at = cut.index(bytes.len() + 1);
        let mut q = SseParser::new();
        let mut split = q.push(&bytes[..at]);
        split.extend(q.push(&bytes[at..]));
        prop_assert_eq!(whole, split);
    }
}
