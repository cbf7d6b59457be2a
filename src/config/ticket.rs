//! `[ticket]`: the footer lines and the resident's status page link. Only
//! parsing and checks; composing the ticket is `antrean_core::ticket`.

use serde::Deserialize;

/// The longest `status_url` accepted: the link is printed on every ticket
/// and goes into its second QR code, which must stay small.
pub const STATUS_URL_MAX: usize = 80;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketConfig {
    #[serde(default = "default_footer")]
    pub footer: Vec<String>,
    /// The central service's public address for the status page, e.g.
    /// `https://antrean.example.go.id` (no trailing slash). Empty: no status
    /// QR on the ticket.
    #[serde(default)]
    pub status_url: String,
}

impl Default for TicketConfig {
    fn default() -> Self {
        TicketConfig {
            footer: default_footer(),
            status_url: String::new(),
        }
    }
}

fn default_footer() -> Vec<String> {
    vec![
        "Harap menunggu panggilan di layar.".into(),
        "Simpan tiket ini.".into(),
    ]
}

impl TicketConfig {
    /// The first problem, as (key, what to do).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.footer.len() > 4 {
            return Some(("ticket.footer", "may hold at most 4 lines".into()));
        }
        let url = self.status_url.as_str();
        if url.is_empty() {
            return None;
        }
        let example = "for example \"https://antrean.example.go.id\" (the central service's public address, no trailing slash), or \"\" for no status QR";
        if url.trim() != url || url.ends_with('/') {
            return Some((
                "ticket.status_url",
                format!("{url:?} must not end with `/` (no trailing slash) or spaces; {example}"),
            ));
        }
        if url.len() > STATUS_URL_MAX {
            return Some((
                "ticket.status_url",
                format!(
                    "is {} characters; at most {STATUS_URL_MAX} fit the ticket's small QR code: use a shorter address",
                    url.len()
                ),
            ));
        }
        let parsed = reqwest::Url::parse(url).ok().filter(|u| {
            (u.scheme() == "https" || u.scheme() == "http")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && url.is_ascii()
        });
        if parsed.is_none() {
            return Some((
                "ticket.status_url",
                format!("{url:?} is not a web address; {example}"),
            ));
        }
        None
    }
}
