//! Signing in: with `--api-token` set, every page needs the cookie [`SESSION_COOKIE`], which
//! the sign-in form sets once the token typed in matches (`HttpOnly`, so scripts cannot read
//! it; `SameSite=Strict`, so other sites cannot send it). Without a token the pages are open,
//! as the API is. Comparisons are constant-time.

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::GuiState;
use super::layout::{self, Nav};
use crate::config::Secret;

/// The cookie holding the signed-in session: the token, hex-encoded (cookie values cannot hold
/// every character a token may).
pub const SESSION_COOKIE: &str = "sentrypeer_session";

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new()
        .route("/ui/sign-in", get(sign_in_form).post(sign_in))
        .route("/ui/sign-out", post(sign_out))
}

/// Lets the request through when no token is set or the session cookie holds it; answers
/// with the sign-in form (401) otherwise.
pub(super) async fn require_session(
    State(state): State<Arc<GuiState>>,
    request: Request,
    next: Next,
) -> Response {
    if signed_in(&state, request.headers()) {
        next.run(request).await
    } else {
        sign_in_page(StatusCode::UNAUTHORIZED, false)
    }
}

/// Whether the request may see pages.
fn signed_in(state: &GuiState, headers: &HeaderMap) -> bool {
    state
        .token
        .as_ref()
        .is_none_or(|token| session_matches(headers, token))
}

/// Whether a [`SESSION_COOKIE`] of the request holds `token` (constant-time). The API takes
/// this check too, so a signed-in browser can open the feeds the pages link to.
pub fn session_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let expected = hex::encode(token.expose());
    !token.expose().is_empty()
        && session_cookies(headers)
            .any(|presented| bool::from(presented.as_bytes().ct_eq(expected.as_bytes())))
}

/// Every value of [`SESSION_COOKIE`] in the request's `Cookie` headers.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

async fn sign_in_form() -> Response {
    sign_in_page(StatusCode::OK, false)
}

/// What the sign-in form posts.
#[derive(Debug, Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(State(state): State<Arc<GuiState>>, Form(form): Form<SignIn>) -> Response {
    let Some(token) = &state.token else {
        return Redirect::to("/ui/").into_response();
    };
    let matches = !token.expose().is_empty()
        && bool::from(form.token.as_bytes().ct_eq(token.expose().as_bytes()));
    if !matches {
        return sign_in_page(StatusCode::UNAUTHORIZED, true);
    }
    with_cookie(
        &format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            hex::encode(token.expose())
        ),
        Redirect::to("/ui/").into_response(),
    )
}

async fn sign_out() -> Response {
    with_cookie(
        &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        Redirect::to("/ui/sign-in").into_response(),
    )
}

fn with_cookie(cookie: &str, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The form; `failed` when the previous attempt's token did not match.
fn sign_in_page(status: StatusCode, failed: bool) -> Response {
    let body = html! {
        section.card.sign-in {
            h1 { "Sign in" }
            p { "Enter the API token this SentryPeer runs with (" code { "--api-token" } ")." }
            @if failed {
                p.error role="alert" { "That token is not the one configured." }
            }
            form method="post" action="/ui/sign-in" {
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        }
    };
    let mut response = layout::page("Sign in", Nav::None, body);
    *response.status_mut() = status;
    response
}
