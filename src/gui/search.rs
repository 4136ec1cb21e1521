//! Search and detail: `/ui/search?q=` takes a source IP or a called number to its detail page;
//! `/ui/ip/{ip}` and `/ui/number/{number}` show what the live blocklist knows (first and last
//! seen, counts, attack types, origins), the database's counter, the other side (numbers an IP
//! dialled, IPs that dialled a number), credentials tried, and the newest raw SIP messages.

mod detail;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav, ip_link, number_link};
use super::{GuiError, GuiState};
use crate::store::is_phone_number;
use detail::Subject;

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new()
        .route("/ui/search", get(search))
        .route("/ui/ip/{ip}", get(ip_detail))
        .route("/ui/number/{number}", get(number_detail))
}

/// The search form's query.
#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Where a search goes: an IP's or a number's page; `None` when it is neither.
fn destination(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip_link(&ip.to_canonical().to_string()));
    }
    is_phone_number(text).then(|| number_link(text))
}

async fn search(query: Result<Query<SearchQuery>, QueryRejection>) -> Response {
    let asked = query.map(|Query(query)| query.q).unwrap_or_default();
    if let Some(to) = destination(&asked) {
        return Redirect::to(&to).into_response();
    }
    let body = html! {
        h1 { "Search" }
        section.card {
            form.search method="get" action="/ui/search" role="search" {
                label for="q" { "Source IP or called number" }
                input #q type="search" name="q" value=(asked) placeholder="203.0.113.9 or +441234567890" required;
                button type="submit" { "Search" }
            }
            @if !asked.trim().is_empty() {
                p.error role="alert" { "“" (asked) "” is neither an IP address nor a phone number." }
            }
        }
    };
    layout::page("Search", Nav::Search, body)
}

async fn ip_detail(
    State(state): State<Arc<GuiState>>,
    Path(ip): Path<String>,
) -> Result<Response, GuiError> {
    match ip.parse::<IpAddr>() {
        Ok(ip) => detail::page(state, Subject::Ip(ip.to_canonical())).await,
        Err(_) => Ok(detail::unknown(&ip)),
    }
}

async fn number_detail(
    State(state): State<Arc<GuiState>>,
    Path(number): Path<String>,
) -> Result<Response, GuiError> {
    if is_phone_number(&number) {
        detail::page(state, Subject::Number(number)).await
    } else {
        Ok(detail::unknown(&number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_go_to_ip_and_number_pages() {
        assert_eq!(
            destination(" 203.0.113.9 ").as_deref(),
            Some("/ui/ip/203.0.113.9")
        );
        assert_eq!(
            destination("::ffff:192.0.2.7").as_deref(),
            Some("/ui/ip/192.0.2.7")
        );
        assert_eq!(
            destination("2001:db8::1").as_deref(),
            Some("/ui/ip/2001:db8::1")
        );
        assert_eq!(
            destination("+441234567890").as_deref(),
            Some("/ui/number/%2B441234567890")
        );
        assert_eq!(destination("<script>"), None);
        assert_eq!(destination(""), None);
    }
}
