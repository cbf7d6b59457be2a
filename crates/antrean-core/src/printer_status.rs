//! The printer's real-time status (`DLE EOT n`), sans I/O: the four query
//! commands, and a decoder of the four one-byte replies into a
//! [`PrinterStatus`]. Replies whose fixed bits are wrong are garbage, not
//! a status. Bit meanings follow the Epson ESC/POS reference for
//! `DLE EOT` n = 1 (printer), 2 (offline cause), 3 (error cause),
//! 4 (roll paper sensor).

use serde::{Deserialize, Serialize};

/// `DLE EOT 1`, `DLE EOT 2`, `DLE EOT 3`, `DLE EOT 4`, in that order.
pub const STATUS_QUERY: [u8; 12] = [0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 3, 0x10, 0x04, 4];

/// What the printer can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    Ok,
    PaperLow,
    PaperOut,
    CoverOpen,
    Offline,
    Error,
}

impl PrinterState {
    /// The wire name (`ok`, `paper_low`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PrinterState::Ok => "ok",
            PrinterState::PaperLow => "paper_low",
            PrinterState::PaperOut => "paper_out",
            PrinterState::CoverOpen => "cover_open",
            PrinterState::Offline => "offline",
            PrinterState::Error => "error",
        }
    }

    /// True when a ticket can be printed (paper low still prints).
    pub fn can_print(self) -> bool {
        matches!(self, PrinterState::Ok | PrinterState::PaperLow)
    }
}

/// A decoded status with a human detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterStatus {
    pub state: PrinterState,
    pub detail: Option<String>,
}

impl PrinterStatus {
    pub fn ok() -> PrinterStatus {
        PrinterStatus {
            state: PrinterState::Ok,
            detail: None,
        }
    }

    pub fn new(state: PrinterState, detail: impl Into<String>) -> PrinterStatus {
        PrinterStatus {
            state,
            detail: Some(detail.into()),
        }
    }

    /// A printer that answers no status but takes data: it can print, and
    /// nobody knows whether it has paper. The wire has no "unknown" state,
    /// so the state is `ok` and the detail starts with [`STATUS_UNKNOWN`];
    /// [`PrinterStatus::is_unknown`] tells the two apart.
    pub fn unknown(why: &str) -> PrinterStatus {
        PrinterStatus::new(
            PrinterState::Ok,
            format!("{STATUS_UNKNOWN} (status tidak diketahui): {why}"),
        )
    }

    /// True for a status from [`PrinterStatus::unknown`].
    pub fn is_unknown(&self) -> bool {
        is_unknown(self.state, self.detail.as_deref())
    }
}

/// How the detail of a printer whose status is unknown begins.
pub const STATUS_UNKNOWN: &str = "status unknown";

/// True when a reported state and detail say the status is unknown (the
/// printer answers no status queries).
pub fn is_unknown(state: PrinterState, detail: Option<&str>) -> bool {
    state == PrinterState::Ok && detail.is_some_and(|d| d.starts_with(STATUS_UNKNOWN))
}

/// A reply byte that is not a status byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status reply {index} is {byte:#04x}, which is not a DLE EOT status byte")]
pub struct BadStatus {
    pub index: usize,
    pub byte: u8,
}

/// Decodes the four reply bytes of [`STATUS_QUERY`].
pub fn decode(replies: [u8; 4]) -> Result<PrinterStatus, BadStatus> {
    for (index, byte) in replies.iter().copied().enumerate() {
        // Fixed bits: 0 and 7 clear, 1 and 4 set.
        if byte & 0b1001_0011 != 0b0001_0010 {
            return Err(BadStatus { index, byte });
        }
    }
    let [printer, offline, error, paper] = replies;
    let bit = |b: u8, n: u8| b & (1 << n) != 0;
    let status = if bit(offline, 2) {
        PrinterStatus::new(PrinterState::CoverOpen, "the printer cover is open")
    } else if bit(paper, 5) || bit(paper, 6) || bit(offline, 5) {
        PrinterStatus::new(PrinterState::PaperOut, "the paper roll is empty")
    } else if bit(error, 3) {
        PrinterStatus::new(PrinterState::Error, "the cutter is jammed")
    } else if bit(error, 5) {
        PrinterStatus::new(
            PrinterState::Error,
            "unrecoverable printer error: switch it off and on",
        )
    } else if bit(error, 6) || bit(offline, 6) {
        PrinterStatus::new(
            PrinterState::Error,
            "printer error (for example overheated)",
        )
    } else if bit(printer, 3) {
        PrinterStatus::new(PrinterState::Offline, "the printer is offline")
    } else if bit(paper, 2) || bit(paper, 3) {
        PrinterStatus::new(PrinterState::PaperLow, "the paper roll is nearly empty")
    } else {
        PrinterStatus::ok()
    };
    Ok(status)
}

/// Encodes a state as the four reply bytes a printer in that state sends
/// (for the printer emulator and tests).
pub fn replies_for(state: PrinterState) -> [u8; 4] {
    let base = 0b0001_0010u8;
    match state {
        PrinterState::Ok => [base; 4],
        PrinterState::PaperLow => [base, base, base, base | 0b0000_1100],
        PrinterState::PaperOut => [base | 0b1000, base | 0b0010_0000, base, base | 0b0110_0000],
        PrinterState::CoverOpen => [base | 0b1000, base | 0b0100, base, base],
        PrinterState::Offline => [base | 0b1000, base, base, base],
        PrinterState::Error => [base | 0b1000, base | 0b0100_0000, base | 0b0010_0000, base],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PrinterState as S;

    #[test]
    fn decode_table() {
        let b = 0x12u8;
        let cases: Vec<([u8; 4], Result<PrinterState, usize>)> = vec![
            ([b, b, b, b], Ok(S::Ok)),
            ([b, b, b, b | 0x0c], Ok(S::PaperLow)),
            ([b, b, b, b | 0x04], Ok(S::PaperLow)),
            ([b | 0x08, b | 0x20, b, b | 0x60], Ok(S::PaperOut)),
            ([b, b, b, b | 0x60], Ok(S::PaperOut)),
            ([b | 0x08, b | 0x04, b, b], Ok(S::CoverOpen)),
            ([b | 0x08, b | 0x24, b, b | 0x60], Ok(S::CoverOpen)),
            ([b | 0x08, b, b, b], Ok(S::Offline)),
            ([b, b, b | 0x08, b], Ok(S::Error)),
            ([b, b, b | 0x20, b], Ok(S::Error)),
            ([b, b | 0x40, b, b], Ok(S::Error)),
            ([0x00, b, b, b], Err(0)),
            ([b, 0xff, b, b], Err(1)),
            ([b, b, b | 0x80, b], Err(2)),
            ([b, b, b, 0x13], Err(3)),
        ];
        for (bytes, expect) in cases {
            let got = decode(bytes).map(|s| s.state).map_err(|e| e.index);
            assert_eq!(got, expect, "{bytes:02x?}");
        }
    }

    #[test]
    fn unknown_status_can_print_and_says_so() {
        let s = PrinterStatus::unknown("profile xprinter-xp-58 answers no status");
        assert!(s.is_unknown() && s.state.can_print());
        assert!(s.detail.as_deref().unwrap().starts_with("status unknown"));
        assert!(!PrinterStatus::ok().is_unknown());
        assert!(!PrinterStatus::new(S::Offline, "status unknown").is_unknown());
    }

    #[test]
    fn emulator_replies_round_trip() {
        for s in [
            S::Ok,
            S::PaperLow,
            S::PaperOut,
            S::CoverOpen,
            S::Offline,
            S::Error,
        ] {
            assert_eq!(decode(replies_for(s)).unwrap().state, s);
            assert_eq!(s.can_print(), matches!(s, S::Ok | S::PaperLow));
        }
    }
}
