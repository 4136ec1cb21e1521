//! With the dashboard on, a browser that asks for `/` (its `Accept` prefers `text/html` to
//! JSON) is sent to `/ui/` (`303 See Other`, `Vary: Accept`). Every other client of the
//! original's `/` (JSON `Accept`, `*/*`, no `Accept`) still gets exactly the original's body,
//! status and headers; so does everyone when the dashboard is off.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

/// Where browsers go.
const DASHBOARD: &str = "/ui/";

/// Redirects a browser's `GET /` to the dashboard when it is on; passes everything else on.
pub(crate) async fn browsers_to_dashboard(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let root =
        request.uri().path() == "/" && matches!(*request.method(), Method::GET | Method::HEAD);
    if root && state.session_check.is_some() && prefers_html(request.headers()) {
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static(DASHBOARD)),
                (header::VARY, HeaderValue::from_static("Accept")),
            ],
        )
            .into_response();
    }
    next.run(request).await
}

/// Whether `Accept` names `text/html` (with a non-zero quality) at a quality at least that of
/// `application/json`. Wildcards count for neither: `*/*` alone is not a browser's ask.
fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html: Option<f32> = None;
    let mut json: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "text/html" => &mut html,
                "application/json" => &mut json,
                _ => continue,
            };
            *slot = Some(slot.map_or(quality, |seen| seen.max(quality)));
        }
    }
    html.is_some_and(|html| html > 0.0 && html >= json.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn only_an_accept_that_prefers_html_is_a_browser() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,\
                        image/avif,image/webp,*/*;q=0.8";
        for browser in [chromium, "text/html", "TEXT/HTML; charset=utf-8"] {
            assert!(prefers_html(&accept(browser)), "{browser}");
        }
        for client in [
            "application/json",
            "*/*",
            "",
            "text/html;q=0",
            "application/json, text/html;q=0.5",
            "text/*",
        ] {
            assert!(!prefers_html(&accept(client)), "{client}");
        }
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
