//! The page shell (head, navigation, footer) and the small pieces every page uses: numbers,
//! count tables and definition lists. Everything interpolated here is escaped by `maud`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::event::APP_VERSION;

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    /// No navigation (the sign-in form, errors).
    None,
    Overview,
    Search,
    Live,
    Peers,
    Health,
}

/// The navigation entries, in order.
const ENTRIES: [(Nav, &str, &str); 5] = [
    (Nav::Overview, "/ui/", "Overview"),
    (Nav::Search, "/ui/search", "Search"),
    (Nav::Live, "/ui/live", "Live"),
    (Nav::Peers, "/ui/peers", "Peers"),
    (Nav::Health, "/ui/health", "Health"),
];

/// A whole page, as an HTML response.
pub(super) fn page(title: &str, current: Nav, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SentryPeer" }
                link rel="stylesheet" href="/ui/assets/app.css";
                link rel="icon" href="/ui/assets/icon.svg" type="image/svg+xml";
            }
            body {
                header {
                    a.brand href="/ui/" { "SentryPeer" }
                    @if current != Nav::None {
                        nav {
                            @for (entry, href, label) in ENTRIES {
                                @if entry == current {
                                    a.current href=(href) aria-current="page" { (label) }
                                } @else {
                                    a href=(href) { (label) }
                                }
                            }
                        }
                        form.sign-out method="post" action="/ui/sign-out" {
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
                footer { "SentryPeer " (APP_VERSION) }
            }
        }
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// `n` with thousands separated by thin spaces.
pub(super) fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(digit);
    }
    out
}

/// A table of values and their counts, with a bar per row; `link` turns a value into a link.
pub(super) fn count_table<'a>(
    id: &str,
    heading: &str,
    rows: impl IntoIterator<Item = (&'a str, u64)>,
    link: Option<fn(&str) -> String>,
) -> Markup {
    let rows: Vec<(&str, u64)> = rows.into_iter().collect();
    let largest = rows
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    html! {
        section.card id=(id) {
            h2 { (heading) }
            @if rows.is_empty() {
                p.empty { "Nothing yet." }
            } @else {
                table {
                    @for (value, count) in &rows {
                        tr {
                            td.value {
                                @match (link, value.is_empty()) {
                                    (_, true) => { em { "(none)" } },
                                    (Some(link), false) => { a href=(link(value)) { (value) } },
                                    (None, false) => { (value) },
                                }
                            }
                            td.count data-count=(count) { (number(*count)) }
                            td.bar { meter min="0" max=(largest) value=(count) {} }
                        }
                    }
                }
            }
        }
    }
}

/// The link to a source IP's detail page.
pub(super) fn ip_link(ip: &str) -> String {
    format!("/ui/ip/{}", path_segment(ip))
}

/// The link to a called number's detail page.
pub(super) fn number_link(number: &str) -> String {
    format!("/ui/number/{}", path_segment(number))
}

/// `text` made safe as one URL path segment (percent-encoding all but unreserved characters).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
