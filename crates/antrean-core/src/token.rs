//! Parsing a scan: an `AQ1.` signed token (payload and signature, not yet
//! verified) or a plain booking code. Format only; the rules that decide
//! whether a booking may be checked in are in `checkin`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signature;
use serde::Deserialize;

use crate::booking::{
    is_booking_code, is_queue_number, is_short_word, parse_date, Booking, Slot, MAX_PAYLOAD_BYTES,
    MAX_SCAN_BYTES, TOKEN_PREFIX,
};

/// The scan is neither a well-formed token nor a booking code (the
/// `invalid_format` reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an AQ1. token or a booking code")]
pub struct Unreadable;

#[derive(Deserialize)]
struct Payload {
    kid: Option<String>,
    office: Option<String>,
    booking: Option<String>,
    date: Option<String>,
    slot: Option<String>,
    service: Option<String>,
    number: Option<String>,
    #[serde(default)]
    name: Option<serde_json::Value>,
}

/// What a scan is, before any check of time or manifest.
pub enum Parsed {
    Token {
        kid: String,
        office: String,
        booking: Box<Booking>,
        signed: String,
        signature: Signature,
    },
    Code(String),
}

/// Reads a scan's format: a token's fields and signature (not yet
/// verified), or an upper-cased booking code.
pub fn parse_scan(raw: &str) -> Result<Parsed, Unreadable> {
    let invalid = || Unreadable;
    if raw.len() > MAX_SCAN_BYTES {
        return Err(invalid());
    }
    let scan = raw.trim();
    if let Some(rest) = scan.strip_prefix(TOKEN_PREFIX) {
        let mut parts = rest.split('.');
        let (Some(payload_b64), Some(sig_b64), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        // Decoded size is known from the encoded length: refuse before decoding.
        if payload_b64.len() / 4 * 3 + (payload_b64.len() % 4) > MAX_PAYLOAD_BYTES + 1 {
            return Err(invalid());
        }
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid())?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(invalid());
        }
        let sig_bytes = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| invalid())?;
        let sig_arr: [u8; 64] = sig_bytes.try_into().map_err(|_| invalid())?;
        let p: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        let (
            Some(kid),
            Some(office),
            Some(code),
            Some(date),
            Some(slot),
            Some(service),
            Some(number),
        ) = (
            p.kid, p.office, p.booking, p.date, p.slot, p.service, p.number,
        )
        else {
            return Err(invalid());
        };
        let masked_name = match p.name {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.chars().count() <= 40 => Some(s),
            Some(_) => return Err(invalid()),
        };
        if kid.is_empty()
            || kid.len() > 64
            || !is_short_word(&office, 64)
            || !is_booking_code(&code)
            || !is_short_word(&service, 32)
            || !is_queue_number(&number)
        {
            return Err(invalid());
        }
        let date = parse_date(&date).ok_or_else(invalid)?;
        let slot = Slot::parse(&slot).ok_or_else(invalid)?;
        let signed_len = TOKEN_PREFIX.len() + payload_b64.len();
        return Ok(Parsed::Token {
            kid,
            office,
            booking: Box::new(Booking {
                booking: code,
                number,
                date,
                slot,
                service,
                masked_name,
            }),
            signed: scan[..signed_len].to_string(),
            signature: Signature::from_bytes(&sig_arr),
        });
    }
    let code = scan.to_ascii_uppercase();
    if is_booking_code(&code) {
        Ok(Parsed::Code(code))
    } else {
        Err(invalid())
    }
}
