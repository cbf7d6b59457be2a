//! The public pages as HTML: small, no framework, Indonesian first with
//! English on a toggle (`?lang=en`), every text from outside escaped.
//! The status page works without script (it is rendered whole here);
//! `p.js` keeps it live. No HTTP and no data access here.

use super::view::{PublicCounter, PublicOffice, PublicStatus};

/// The page's language: Indonesian (default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    /// From `?lang=`: `en` is English, anything else Indonesian.
    pub fn from_query(q: Option<&str>) -> Lang {
        if q == Some("en") {
            Lang::En
        } else {
            Lang::Id
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// `id` or `en` of a pair.
    fn t<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `08:00-09:00` as the office writes it: `08.00-09.00`.
fn hours(slot: &str) -> String {
    slot.replace(':', ".")
}

fn page(lang: Lang, title: &str, body: &str, script: bool, toggle: &str) -> String {
    let other = match lang {
        Lang::Id => format!("<a id=\"lang\" href=\"{toggle}?lang=en\">English</a>"),
        Lang::En => format!("<a id=\"lang\" href=\"{toggle}\">Bahasa Indonesia</a>"),
    };
    format!(
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><link rel=\"stylesheet\" href=\"/p.css\">{noscript}</head>\
<body><header><span class=\"brand\">Antrean</span>{other}</header>{body}{js}</body></html>\n",
        code = lang.code(),
        title = esc(title),
        noscript = if script {
            "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"
        } else {
            "<meta http-equiv=\"refresh\" content=\"60\">"
        },
        js = if script {
            "<script src=\"/p.js\"></script>"
        } else {
            ""
        },
    )
}

fn counters_table(lang: Lang, counters: &[PublicCounter]) -> String {
    let mut rows = String::new();
    for c in counters {
        let number = c.number.as_deref().unwrap_or("\u{2013}");
        let why = if c.priority {
            " <span class=\"prio\">PRIORITAS</span>"
        } else {
            ""
        };
        rows.push_str(&format!(
            "<tr data-counter=\"{id}\"><td>{label}</td><td class=\"num\">{number}</td><td class=\"why\">{why}</td></tr>",
            id = esc(&c.id),
            label = esc(&c.label),
            number = esc(number),
        ));
    }
    format!(
        "<h2>{}</h2><table id=\"counters\"><tbody>{rows}</tbody></table>",
        lang.t("Sedang dilayani", "Now serving")
    )
}

fn notice(n: &Option<String>) -> String {
    match n {
        Some(t) => format!("<p id=\"notice\" class=\"notice\">{}</p>", esc(t)),
        None => "<p id=\"notice\" class=\"notice\" hidden></p>".into(),
    }
}

/// The state line of a status, in `lang`.
fn state_text(lang: Lang, s: &PublicStatus) -> String {
    match s.state {
        "called" => {
            let at = s.counter_label.as_deref().unwrap_or("");
            match lang {
                Lang::Id => format!("Nomor Anda dipanggil di {at}"),
                Lang::En => format!("Your number is being called at {at}"),
            }
        }
        "checked_in" => lang.t("Menunggu dipanggil", "Waiting to be called").into(),
        "booked" => lang
            .t(
                "Belum check-in: pindai QR Anda di kios",
                "Not checked in yet: scan your QR code at the kiosk",
            )
            .into(),
        "served" => lang.t("Sudah dilayani", "Served").into(),
        "no_show" => lang
            .t(
                "Dilewati (tidak hadir saat dipanggil)",
                "Skipped (not there when called)",
            )
            .into(),
        "cancelled" => lang.t("Dibatalkan", "Cancelled").into(),
        _ => "\u{2013}".into(),
    }
}

/// `/p/{office}/{date}/{number}`.
pub fn status_page(lang: Lang, s: &PublicStatus, today: bool) -> String {
    let ahead = s.ahead.map_or("\u{2013}".into(), |n| n.to_string());
    let eta = s.estimated_call.as_deref().map_or("\u{2013}".into(), hours);
    let also = if s.state == "called" {
        let other = match lang {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        };
        format!(
            "<p id=\"called-also\" class=\"also\">{}</p>",
            esc(&state_text(other, s))
        )
    } else {
        "<p id=\"called-also\" class=\"also\" hidden></p>".into()
    };
    let body = format!(
        "<main id=\"status\" data-office=\"{office}\" data-date=\"{date}\" data-number=\"{number}\" \
data-today=\"{today}\" data-lang=\"{code}\" data-seq=\"{seq}\">\
<p class=\"office\">{office_name}</p>\
<p class=\"label\">{your}</p><h1 id=\"number\">{number}</h1>\
<p id=\"state\" class=\"state {state}\">{state_text}</p>{also}\
<dl><dt>{ahead_l}</dt><dd id=\"ahead\">{ahead}</dd>\
<dt>{eta_l}</dt><dd id=\"eta\">{eta}</dd>\
<dt>{session_l}</dt><dd>{session} &middot; {date}</dd></dl>\
{notice}{counters}\
<p class=\"small\" id=\"live\">{live}</p></main>",
        office = esc(&s.office),
        date = esc(&s.date),
        number = esc(&s.number),
        today = if today { "1" } else { "0" },
        code = lang.code(),
        seq = s.seq,
        office_name = esc(&s.office_name),
        your = lang.t("Nomor antrean Anda", "Your queue number"),
        state = esc(s.state),
        state_text = esc(&state_text(lang, s)),
        ahead_l = lang.t("Orang di depan Anda", "People ahead of you"),
        eta_l = lang.t("Perkiraan dipanggil", "Estimated call"),
        session_l = lang.t("Sesi", "Session"),
        session = esc(&hours(&s.slot)),
        notice = notice(&s.notice),
        counters = if today {
            counters_table(lang, &s.counters)
        } else {
            String::new()
        },
        live = if today {
            lang.t(
                "Halaman ini diperbarui otomatis.",
                "This page updates by itself.",
            )
        } else {
            lang.t(
                "Status hari itu; antrean langsung tampil pada hari layanan.",
                "Status for that day; the live queue shows on the day of service.",
            )
        },
    );
    page(
        lang,
        &format!("{} \u{b7} Antrean", s.number),
        &body,
        true,
        "",
    )
}

/// `/p/{office}`.
pub fn office_page(lang: Lang, o: &PublicOffice) -> String {
    let open: Vec<_> = o
        .sessions
        .iter()
        .filter(|s| !s.over && s.free > 0)
        .collect();
    let mut sessions = String::new();
    for s in &o.sessions {
        let free = if s.over {
            lang.t("selesai", "over").to_string()
        } else if s.free == 0 {
            lang.t("penuh", "full").to_string()
        } else {
            format!("{} {}", s.free, lang.t("tempat", "places"))
        };
        sessions.push_str(&format!(
            "<tr class=\"{cls}\"><td>{slot}</td><td>{free}</td></tr>",
            cls = if s.over || s.free == 0 {
                "gone"
            } else {
                "open"
            },
            slot = esc(&hours(&s.slot)),
            free = esc(&free),
        ));
    }
    let book = match (&o.booking_url, open.is_empty()) {
        (Some(url), false) => format!(
            "<p id=\"walkin\">{} <a href=\"{url}\">{}</a></p>",
            lang.t(
                "Belum punya booking? Sesi ini masih ada tempat:",
                "No booking? These sessions still have room:"
            ),
            lang.t("pesan di sini", "book here"),
            url = esc(url),
        ),
        (Some(url), true) => format!(
            "<p id=\"walkin\">{} <a href=\"{url}\">{}</a></p>",
            lang.t(
                "Hari ini sudah penuh. Pesan untuk hari lain:",
                "Today is full. Book another day:"
            ),
            lang.t("pesan di sini", "book here"),
            url = esc(url),
        ),
        (None, false) => format!(
            "<p id=\"walkin\">{}</p>",
            lang.t(
                "Belum punya booking? Sesi ini masih ada tempat.",
                "No booking? These sessions still have room."
            )
        ),
        (None, true) => format!(
            "<p id=\"walkin\">{}</p>",
            lang.t("Hari ini sudah penuh.", "Today is full.")
        ),
    };
    let breaks: Vec<String> = o.breaks.iter().map(|b| hours(b)).collect();
    let in_break = match &o.in_break {
        Some(b) => format!(
            "<p id=\"break-now\" class=\"notice\">{} {}</p>",
            lang.t("Istirahat", "Lunch break"),
            esc(&hours(b))
        ),
        None => String::new(),
    };
    let body = format!(
        "<main id=\"office\"><h1>{name}</h1>\
<p class=\"small\">{official} &middot; {date} &middot; {now}</p>{in_break}{notice}\
<dl><dt>{hours_l}</dt><dd id=\"hours\">{open_hours}</dd>\
<dt>{break_l}</dt><dd id=\"breaks\">{breaks}</dd></dl>\
{counters}<h2>{sessions_l}</h2>{book}<table id=\"sessions\"><tbody>{sessions}</tbody></table></main>",
        name = esc(&o.office_name),
        official = lang.t(
            "Informasi resmi antrean hari ini",
            "Today's official queue information"
        ),
        date = esc(&o.date),
        now = esc(&hours(&o.now)),
        notice = notice(&o.notice),
        hours_l = lang.t("Jam layanan", "Opening hours"),
        open_hours = esc(&o.opening_hours.as_deref().map_or("\u{2013}".into(), hours)),
        break_l = lang.t("Istirahat", "Lunch break"),
        breaks = if breaks.is_empty() {
            "\u{2013}".into()
        } else {
            esc(&breaks.join(", "))
        },
        counters = counters_table(lang, &o.counters),
        sessions_l = lang.t("Sesi hari ini", "Today's sessions"),
    );
    page(lang, &o.office_name, &body, false, "")
}

/// The bilingual "not found" page: an unknown office, date or number.
pub fn not_found_page() -> String {
    let body = "<main id=\"not-found\"><h1>Tidak ditemukan</h1>\
<p>Kantor, tanggal atau nomor antrean ini tidak ada. Periksa alamat pada tiket Anda.</p>\
<h2 lang=\"en\">Not found</h2>\
<p lang=\"en\">There is no such office, date or queue number. Check the address on your ticket.</p></main>";
    page(Lang::Id, "Tidak ditemukan / Not found", body, false, "")
        .replace("<a id=\"lang\" href=\"?lang=en\">English</a>", "")
        .replace("<meta http-equiv=\"refresh\" content=\"60\">", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_escaped() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
