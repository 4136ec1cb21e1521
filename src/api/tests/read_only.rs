//! The API has no write routes: every documented route answers every method but GET and HEAD with
//! 405 and `Allow`, with or without a body (by length or chunked), and the database is byte for
//! byte what it was. GET and HEAD with a body stay refused with 400.

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};

use super::v1::seeded;
use super::{Answer, assert_common_headers, send};
use crate::api::{DOCUMENTED_ROUTES, POST_ROUTES};

/// Methods no route serves: the writing ones, the other standard ones, and made-up ones.
const UNSERVED_METHODS: [&str; 9] = [
    "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "PURGE",
];

/// The 405 body.
const METHOD_NOT_ALLOWED: &str = r#"{"error": "Method not allowed: this API only answers GET."}"#;

/// What a client may send after the head.
#[derive(Debug, Clone, Copy)]
enum Payload {
    /// No body.
    Bare,
    /// A JSON body with `Content-Length`.
    Sized,
    /// A JSON body in two chunks (`Transfer-Encoding: chunked`).
    Chunked,
}

impl Payload {
    const ALL: [Self; 3] = [Self::Bare, Self::Sized, Self::Chunked];

    /// A request for `uri` with this payload (and the CrowdSec key, so its routes are reached).
    fn request(self, method: &str, uri: &str) -> Request<Body> {
        let body = r#"{"ip_address": "192.0.2.1", "delete": true}"#;
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-api-key", "bouncer-key");
        let request = match self {
            Self::Bare => builder.body(Body::empty()),
            Self::Sized => builder
                .header("content-type", "application/json")
                .header("content-length", body.len().to_string())
                .body(Body::from(body)),
            Self::Chunked => {
                let (first, second) = body.split_at(10);
                let chunks =
                    [first, second].map(|chunk| Ok::<_, std::io::Error>(Bytes::from(chunk)));
                builder
                    .header("content-type", "application/json")
                    .header("transfer-encoding", "chunked")
                    .body(Body::from_stream(tokio_stream::iter(chunks)))
            }
        };
        request.expect("request")
    }
}

/// Every documented read route with its parameters filled in (`POST_ROUTES` have tests of their
/// own).
fn documented_uris() -> impl Iterator<Item = String> {
    let reads = DOCUMENTED_ROUTES
        .iter()
        .filter(|route| !POST_ROUTES.contains(route));
    reads.map(|route| {
        route
            .replace("{ip}", "192.0.2.1")
            .replace("{number}", "004600")
    })
}

/// Asserts the API's 405: status, `Allow`, the JSON error body and the original's headers.
fn assert_method_not_allowed(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
    assert_eq!(answer.header("allow"), "GET, HEAD", "{what}");
    assert_eq!(answer.header("content-type"), "application/json", "{what}");
    assert_eq!(answer.body, METHOD_NOT_ALLOWED, "{what}");
    assert_common_headers(answer);
}

/// Every row of every table, as text: what "changed nothing" is checked against.
fn database_dump(fixture: &super::Fixture) -> Vec<String> {
    let conn = rusqlite::Connection::open(fixture.dir.path().join("sentrypeer.db")).expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("table names");
    let mut dump = Vec::new();
    for table in tables {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
            .expect("prepare dump");
        let columns = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                (0..columns)
                    .map(|i| row.get_ref(i).map(|value| format!("{value:?}")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("rows");
        for row in rows {
            dump.push(format!("{table}: {}", row.expect("row").join(" | ")));
        }
    }
    dump
}

#[tokio::test]
async fn every_route_refuses_every_writing_method_and_changes_nothing() {
    let fixture = seeded();
    let before = database_dump(&fixture);
    assert!(before.len() > 25, "the seeded events are in the dump");
    let router = fixture.router_with(None, vec!["bouncer-key"]);
    for uri in documented_uris() {
        for method in UNSERVED_METHODS {
            for payload in Payload::ALL {
                let answer = send(&router, payload.request(method, &uri)).await;
                assert_method_not_allowed(&answer, &format!("{method} {uri} {payload:?}"));
            }
        }
    }
    assert_eq!(database_dump(&fixture), before, "the database is unchanged");
}

#[tokio::test]
async fn get_and_head_with_a_body_are_still_refused() {
    let fixture = seeded();
    let router = fixture.router_with(None, vec!["bouncer-key"]);
    for uri in documented_uris().chain([String::from("/no-such-route")]) {
        for method in ["GET", "HEAD"] {
            for payload in [Payload::Sized, Payload::Chunked] {
                let answer = send(&router, payload.request(method, &uri)).await;
                let what = format!("{method} {uri} {payload:?}");
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}");
                if method == "GET" {
                    assert_eq!(
                        answer.body, r#"{"error": "Request bodies are not accepted."}"#,
                        "{what}"
                    );
                }
                assert_common_headers(&answer);
            }
        }
    }
}

#[tokio::test]
async fn an_unserved_method_on_an_unknown_route_is_not_found() {
    let fixture = seeded();
    let router = fixture.router();
    for payload in Payload::ALL {
        let answer = send(&router, payload.request("POST", "/no-such-route")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{payload:?}");
        assert_eq!(
            answer.body,
            r#"{"error": "The requested resource could not be found."}"#
        );
        assert_common_headers(&answer);
    }
}
