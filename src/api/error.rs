//! The API's error type: every failure becomes a JSON body with the right status. The original's
//! routes keep the original's exact bodies; internal errors never reveal their cause to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::{fixed_json, json};
use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A query parameter is malformed, out of range or unknown.
    #[error("invalid query parameter {name}: {reason}")]
    BadParameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The original's 400 for `/ip-addresses/{ip}` with something that is not an IP address.
    #[error("invalid IP address")]
    InvalidIp,
    /// No such route (the original's catch-all body).
    #[error("no such route")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A request carried a body; no route takes one.
    #[error("request bodies are not accepted")]
    BodyNotAccepted,
    /// Missing or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Missing or wrong CrowdSec API key (LAPI's answer).
    #[error("missing or invalid API key")]
    Forbidden,
    /// The database could not answer.
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// A blocking query task failed.
    #[error("query task failed: {0}")]
    Task(String),
    /// Too many queries wait, or this one ran out of time: try again later.
    #[error("busy")]
    Busy,
}

impl ApiError {
    /// A read pool error as the API answers it.
    pub(crate) fn from_read(error: StoreError) -> Self {
        match error {
            StoreError::Busy | StoreError::ReadTimeLimit => Self::Busy,
            StoreError::Task(reason) => Self::Task(reason),
            StoreError::Abandoned => Self::Task(String::from("abandoned")),
            other => Self::Store(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::BadParameter { name, reason } => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": format!("invalid query parameter {name}: {reason}"), "parameter": name }),
            ),
            Self::InvalidIp => fixed_json(
                StatusCode::BAD_REQUEST,
                r#"{"error": "The request data was invalid"}"#,
            ),
            Self::NotFound => fixed_json(
                StatusCode::NOT_FOUND,
                r#"{"error": "The requested resource could not be found."}"#,
            ),
            Self::MethodNotAllowed => {
                let mut response = fixed_json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    r#"{"error": "Method not allowed: this API only answers GET."}"#,
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
            Self::BodyNotAccepted => fixed_json(
                StatusCode::BAD_REQUEST,
                r#"{"error": "Request bodies are not accepted."}"#,
            ),
            Self::Unauthorized => {
                let mut response = fixed_json(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error": "A valid bearer token is required."}"#,
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::Forbidden => {
                fixed_json(StatusCode::FORBIDDEN, r#"{"message":"access forbidden"}"#)
            }
            Self::Store(error) => {
                tracing::error!(%error, "API query failed");
                internal_error()
            }
            Self::Task(error) => {
                tracing::error!(%error, "API query task failed");
                internal_error()
            }
            Self::Busy => {
                let mut response = fixed_json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"error": "The server is busy; try again later."}"#,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}

fn internal_error() -> Response {
    fixed_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"error": "Internal error."}"#,
    )
}
