//! The API has no write routes: every documented route refuses every writing method, with or
//! without a body, and the database is byte for byte what it was.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::v1::seeded;
use super::{assert_common_headers, send};
use crate::api::DOCUMENTED_ROUTES;

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
    for route in DOCUMENTED_ROUTES {
        let uri = route
            .replace("{ip}", "192.0.2.1")
            .replace("{number}", "004600");
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let bare = Request::builder()
                .method(method)
                .uri(&uri)
                .header("x-api-key", "bouncer-key")
                .body(Body::empty())
                .expect("request");
            let answer = send(&router, bare).await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            assert_eq!(answer.header("allow"), "GET, HEAD", "{method} {uri}");
            assert_common_headers(&answer);

            let body = r#"{"ip_address": "192.0.2.1", "delete": true}"#;
            let with_body = Request::builder()
                .method(method)
                .uri(&uri)
                .header("x-api-key", "bouncer-key")
                .header("content-type", "application/json")
                .header("content-length", body.len().to_string())
                .body(Body::from(body))
                .expect("request");
            let answer = send(&router, with_body).await;
            assert!(
                answer.status.is_client_error(),
                "{method} {uri} with a body: {}",
                answer.status
            );
        }
    }
    assert_eq!(database_dump(&fixture), before, "the database is unchanged");
}
