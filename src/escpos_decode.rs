//! An ESC/POS decoder for the subset a receipt printer gets from us (and a
//! little more): bytes become lines with their size, weight, reverse and
//! alignment, QR payloads, feeds, cuts and status requests. Used by the
//! tests, the `ticket-preview` command and the virtual printer. Strict: an
//! unknown or truncated command, or a byte outside printable ASCII in text,
//! is an error with its offset, so that garbage on the wire is noticed.

/// Text alignment (`ESC a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// One printed line of text with the style it was printed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    pub text: String,
    /// Character width and height multipliers (1-8).
    pub width: u8,
    pub height: u8,
    pub bold: bool,
    pub reverse: bool,
    pub underline: bool,
    pub align: Align,
}

/// What the printer was told to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// `ESC @`.
    Init,
    /// `ESC t n`.
    CodePage(u8),
    Line(TextLine),
    /// A printed QR symbol (`GS ( k` store + print).
    Qr {
        data: String,
        model: u8,
        /// `L`, `M`, `Q` or `H`.
        ec: char,
        module_size: u8,
    },
    /// A raster image (`GS v 0`): `width` dots wide (a multiple of 8),
    /// `height` rows, one bit per dot, rows of `width / 8` bytes.
    Raster {
        width: u16,
        height: u16,
        bits: Vec<u8>,
    },
    /// Blank lines fed (`LF` on an empty line, `ESC d n`).
    Feed(u8),
    Cut {
        partial: bool,
    },
    /// `DLE EOT n`: a real-time status request.
    StatusRequest(u8),
}

/// Bytes that are not the ESC/POS we understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ESC/POS decode error at byte {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Copy)]
struct Style {
    width: u8,
    height: u8,
    bold: bool,
    reverse: bool,
    underline: bool,
    align: Align,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 1,
            height: 1,
            bold: false,
            reverse: false,
            underline: false,
            align: Align::Left,
        }
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    style: Style,
    line: String,
    line_style: Style,
    out: Vec<Element>,
    qr_model: u8,
    qr_ec: char,
    qr_size: u8,
    qr_data: Option<String>,
    /// Bytes 0x80-0xFF are text (the code page's own characters).
    upper_half: bool,
}

/// Decodes a byte stream.
pub fn decode(bytes: &[u8]) -> Result<Vec<Element>, DecodeError> {
    decode_with(bytes, false)
}

/// Like [`decode`], but bytes 0x80-0xFF are text: the code page's own
/// characters, which only `print-test`'s page sends (a ticket never does).
pub fn decode_test_page(bytes: &[u8]) -> Result<Vec<Element>, DecodeError> {
    decode_with(bytes, true)
}

fn decode_with(bytes: &[u8], upper_half: bool) -> Result<Vec<Element>, DecodeError> {
    let mut d = Decoder {
        upper_half,
        bytes,
        pos: 0,
        style: Style::default(),
        line: String::new(),
        line_style: Style::default(),
        out: Vec::new(),
        qr_model: 2,
        qr_ec: 'L',
        qr_size: 3,
        qr_data: None,
    };
    d.run()?;
    Ok(d.out)
}

impl Decoder<'_> {
    fn err(&self, offset: usize, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], DecodeError> {
        if self.pos + n > self.bytes.len() {
            return Err(self.err(self.pos, format!("truncated {what}")));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn flag(b: u8) -> bool {
        b & 1 == 1
    }

    fn end_line(&mut self) {
        if self.line.is_empty() {
            match self.out.last_mut() {
                Some(Element::Feed(n)) if *n < u8::MAX => *n += 1,
                _ => self.out.push(Element::Feed(1)),
            }
        } else {
            let s = self.line_style;
            self.out.push(Element::Line(TextLine {
                text: std::mem::take(&mut self.line),
                width: s.width,
                height: s.height,
                bold: s.bold,
                reverse: s.reverse,
                underline: s.underline,
                align: s.align,
            }));
        }
    }

    fn run(&mut self) -> Result<(), DecodeError> {
        while self.pos < self.bytes.len() {
            let at = self.pos;
            let b = self.byte("byte")?;
            match b {
                0x0A => self.end_line(),
                0x0D => {}
                // Printable ASCII; the upper half is the code page's own
                // characters (only `print-test` sends them).
                0x20..=0x7E | 0x80..=0xFF if b < 0x80 || self.upper_half => {
                    if self.line.is_empty() {
                        self.line_style = self.style;
                    }
                    self.line.push(char::from(b));
                }
                0x1B => self.esc(at)?,
                0x1D => self.gs(at)?,
                0x10 => {
                    let (c, n) = {
                        let p = self.take(2, "DLE command")?;
                        (p[0], p[1])
                    };
                    if c != 0x04 {
                        return Err(self.err(at, format!("unknown DLE command {c:#04x}")));
                    }
                    self.out.push(Element::StatusRequest(n));
                }
                other => {
                    return Err(self.err(
                        at,
                        format!("byte {other:#04x} is not printable ASCII nor a command"),
                    ))
                }
            }
        }
        if !self.line.is_empty() {
            // Text without a final LF stays in the printer's buffer: report it.
            self.end_line();
        }
        Ok(())
    }

    fn esc(&mut self, at: usize) -> Result<(), DecodeError> {
        let c = self.byte("ESC command")?;
        match c {
            b'@' => {
                self.style = Style::default();
                self.line.clear();
                self.out.push(Element::Init);
            }
            b't' => {
                let n = self.byte("ESC t")?;
                self.out.push(Element::CodePage(n));
            }
            b'E' => self.style.bold = Self::flag(self.byte("ESC E")?),
            b'G' => {
                self.byte("ESC G")?;
            }
            b'-' => self.style.underline = self.byte("ESC -")? % 48 != 0,
            b'a' => {
                self.style.align = match self.byte("ESC a")? {
                    0 | 48 => Align::Left,
                    1 | 49 => Align::Center,
                    2 | 50 => Align::Right,
                    n => return Err(self.err(at, format!("bad alignment {n}"))),
                }
            }
            b'!' => {
                let n = self.byte("ESC !")?;
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = n & 0x80 != 0;
            }
            b'd' => {
                // Print the buffer and feed n lines: a pending line takes
                // the first of them.
                let mut n = self.byte("ESC d")?;
                if !self.line.is_empty() {
                    self.end_line();
                    n = n.saturating_sub(1);
                }
                if n > 0 {
                    match self.out.last_mut() {
                        Some(Element::Feed(m)) => *m = m.saturating_add(n),
                        _ => self.out.push(Element::Feed(n)),
                    }
                }
            }
            b'M' | b'R' | b'{' | b'V' | b'3' | b'J' => {
                self.byte("ESC parameter")?;
            }
            b'2' => {}
            other => return Err(self.err(at, format!("unknown command ESC {other:#04x}"))),
        }
        Ok(())
    }

    /// Text before a feed/cut command is printed by it.
    fn flush_pending(&mut self) {
        if !self.line.is_empty() {
            self.end_line();
        }
    }

    fn gs(&mut self, at: usize) -> Result<(), DecodeError> {
        let c = self.byte("GS command")?;
        match c {
            b'!' => {
                let n = self.byte("GS !")?;
                self.style.width = (n >> 4) + 1;
                self.style.height = (n & 0x0F) + 1;
                if self.style.width > 8 || self.style.height > 8 {
                    return Err(self.err(at, format!("character size {n:#04x} out of range")));
                }
            }
            b'B' => self.style.reverse = Self::flag(self.byte("GS B")?),
            b'b' => {
                self.byte("GS b")?;
            }
            b'V' => {
                // Function A: m = 0/48 full, 1/49 partial. Function B
                // (feed, then cut): m = 65 full, 66 partial, then n.
                let m = self.byte("GS V")?;
                let partial = match m {
                    0 | 48 => false,
                    1 | 49 => true,
                    65 | 66 => {
                        self.byte("GS V feed amount")?;
                        m == 66
                    }
                    other => return Err(self.err(at, format!("unknown cut mode {other}"))),
                };
                self.flush_pending();
                self.out.push(Element::Cut { partial });
            }
            b'v' => {
                let head = self.take(4, "GS v 0 header")?.to_vec();
                if head[0] != b'0' && head[0] != 0 {
                    return Err(self.err(at, "unsupported GS v".to_string()));
                }
                let xb = u16::from(head[2]) | (u16::from(head[3]) << 8);
                let yl = self.byte("GS v 0 height")?;
                let yh = self.byte("GS v 0 height")?;
                let height = u16::from(yl) | (u16::from(yh) << 8);
                let bits = self
                    .take(usize::from(xb) * usize::from(height), "GS v 0 image")?
                    .to_vec();
                self.flush_pending();
                self.out.push(Element::Raster {
                    width: xb.saturating_mul(8),
                    height,
                    bits,
                });
            }
            b'(' => {
                let k = self.byte("GS (")?;
                let len = self.take(2, "GS ( length")?;
                let len = usize::from(len[0]) | (usize::from(len[1]) << 8);
                let body = self.take(len, "GS ( body")?.to_vec();
                if k != b'k' {
                    return Err(self.err(at, format!("unsupported GS ( {}", char::from(k))));
                }
                self.two_d(at, &body)?;
            }
            other => return Err(self.err(at, format!("unknown command GS {other:#04x}"))),
        }
        Ok(())
    }

    fn two_d(&mut self, at: usize, body: &[u8]) -> Result<(), DecodeError> {
        if body.len() < 2 || body[0] != 49 {
            return Err(self.err(at, "only QR codes (cn 49) are supported"));
        }
        let arg = |i: usize| body.get(i).copied();
        match body[1] {
            65 => self.qr_model = arg(2).map(|m| m - 48).unwrap_or(2),
            67 => self.qr_size = arg(2).unwrap_or(3),
            69 => {
                self.qr_ec = match arg(2) {
                    Some(48) => 'L',
                    Some(49) => 'M',
                    Some(50) => 'Q',
                    Some(51) => 'H',
                    other => return Err(self.err(at, format!("bad QR error correction {other:?}"))),
                }
            }
            80 => {
                let data = body.get(3..).unwrap_or_default();
                let s =
                    std::str::from_utf8(data).map_err(|_| self.err(at, "QR data is not UTF-8"))?;
                self.qr_data = Some(s.to_string());
            }
            81 => {
                let Some(data) = self.qr_data.take() else {
                    return Err(self.err(at, "QR print without stored data"));
                };
                self.flush_pending();
                self.out.push(Element::Qr {
                    data,
                    model: self.qr_model,
                    ec: self.qr_ec,
                    module_size: self.qr_size,
                });
            }
            other => return Err(self.err(at, format!("unsupported QR function {other}"))),
        }
        Ok(())
    }
}

/// A plain-text picture of the paper: alignment applied, wide text spread
/// out, reverse text in brackets, QR codes and cuts named.
pub fn render_text(elements: &[Element], columns: u8) -> String {
    let cols = usize::from(columns);
    let mut out = String::new();
    let place = |text: &str, align: Align| -> String {
        let len = text.chars().count();
        let pad = cols.saturating_sub(len);
        let left = match align {
            Align::Left => 0,
            Align::Center => pad / 2,
            Align::Right => pad,
        };
        format!("{}{}", " ".repeat(left), text)
            .trim_end()
            .to_string()
    };
    for e in elements {
        match e {
            Element::Line(l) => {
                let mut text = if l.width > 1 {
                    let gap = " ".repeat(usize::from(l.width) - 1);
                    l.text
                        .chars()
                        .map(|c| format!("{c}{gap}"))
                        .collect::<String>()
                        .trim_end()
                        .to_string()
                } else {
                    l.text.clone()
                };
                if l.reverse {
                    text = format!("[{}]", text);
                }
                for _ in 1..l.height.min(2) {
                    out.push('\n');
                }
                out.push_str(&place(&text, l.align));
                out.push('\n');
            }
            Element::Qr { data, ec, .. } => {
                out.push_str(&place(&format!("[QR {ec}: {data}]"), Align::Center));
                out.push('\n');
            }
            Element::Raster { width, height, .. } => {
                out.push_str(&place(&format!("[raster {width}x{height}]"), Align::Center));
                out.push('\n');
            }
            Element::Feed(n) => {
                for _ in 0..*n {
                    out.push('\n');
                }
            }
            Element::Cut { partial } => {
                let label = if *partial {
                    " potong (sebagian) "
                } else {
                    " potong "
                };
                let side = cols.saturating_sub(label.len()) / 2;
                out.push_str(&format!(
                    "{}{}{}\n",
                    "-".repeat(side),
                    label,
                    "-".repeat(side)
                ));
            }
            Element::Init | Element::CodePage(_) | Element::StatusRequest(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_styles_qr_and_cut() {
        let bytes = b"\x1b@\x1bt\x00\x1ba\x01\x1bE\x01Title\n\x1bE\x00\x1d!\x33B-015\n\x1d!\x00\x1dB\x01 CETAK ULANG \n\x1dB\x00\n\x1ba\x00left\n\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C\x06\x1d(k\x03\x001E1\x1d(k\x07\x001P0ABCD\x1d(k\x03\x001Q0\x1bd\x03\x1dVB\x00";
        let els = decode(bytes).unwrap();
        let line = |text: &str, width, bold, reverse, align| {
            Element::Line(TextLine {
                text: text.into(),
                width,
                height: width,
                bold,
                reverse,
                underline: false,
                align,
            })
        };
        assert_eq!(
            els,
            vec![
                Element::Init,
                Element::CodePage(0),
                line("Title", 1, true, false, Align::Center),
                line("B-015", 4, false, false, Align::Center),
                line(" CETAK ULANG ", 1, false, true, Align::Center),
                Element::Feed(1),
                line("left", 1, false, false, Align::Left),
                Element::Qr {
                    data: "ABCD".into(),
                    model: 2,
                    ec: 'M',
                    module_size: 6
                },
                Element::Feed(3),
                Element::Cut { partial: true },
            ]
        );
        let text = render_text(&els, 20);
        assert!(text.contains("       Title"), "{text}");
        assert!(text.contains("B   -   0   1   5"), "{text}");
        assert!(text.contains("[QR M: ABCD]"));
        assert!(text.contains("potong"));
    }

    #[test]
    fn garbage_is_an_error_with_its_offset() {
        for (bytes, offset) in [
            (&b"ok\xc3\xa9"[..], 2),
            (&b"\x1b"[..], 1),
            (&b"\x1bZ"[..], 0),
            (&b"\x1d(k\x09\x001P0AB"[..], 5),
            (&b"\x1d(k\x03\x001Q0"[..], 0),
            (&b"\x07"[..], 0),
        ] {
            let e = decode(bytes).unwrap_err();
            assert_eq!(e.offset, offset, "{bytes:?}: {e}");
        }
    }

    #[test]
    fn status_requests_are_seen() {
        assert_eq!(
            decode(b"\x10\x04\x01\x10\x04\x04").unwrap(),
            vec![Element::StatusRequest(1), Element::StatusRequest(4)]
        );
    }
}
