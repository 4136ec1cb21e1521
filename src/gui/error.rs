//! [`GuiError`]: what can fail while a page is built, shown as a short HTML page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::layout;
use crate::store::StoreError;

/// Why a page could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuiError {
    /// The database could not be read.
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl IntoResponse for GuiError {
    fn into_response(self) -> Response {
        tracing::warn!(error = %self, "dashboard page failed");
        let page = layout::page(
            "Error",
            layout::Nav::None,
            maud::html! {
                h1 { "Something went wrong" }
                p { "The page could not be built: " (self.to_string()) }
            },
        );
        (StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
    }
}
