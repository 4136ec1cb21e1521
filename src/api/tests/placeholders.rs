//! The original's placeholder routes (`/countries`, `/user-agents`, `/sip-methods` and their
//! literal `:name` forms) and the counts behind them under `/api/v1/`.

use axum::http::StatusCode;
use serde_json::json;

use super::v1::seeded;
use super::{Fixture, assert_common_headers, get};
use crate::api::placeholders::PLACEHOLDERS;

#[tokio::test]
async fn placeholders_answer_with_their_own_path_as_html() {
    let fixture = Fixture::original();
    let router = fixture.router();
    for path in PLACEHOLDERS {
        for uri in [path.to_owned(), format!("{path}?ignored=1")] {
            let answer = get(&router, &uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}");
            assert_eq!(answer.header("content-type"), "text/html", "{uri}");
            assert_eq!(answer.body, path, "{uri}");
            assert_common_headers(&answer);
        }
    }
}

#[tokio::test]
async fn only_the_literal_placeholder_paths_are_answered() {
    let fixture = Fixture::original();
    let router = fixture.router();
    for uri in [
        "/countries/",
        "/countries/GB",
        "/countries/:country/London",
        "/countries/:country/:city/more",
        "/user-agents/friendly-scanner",
        "/user-agents/:user_agent/",
        "/sip-methods/INVITE",
        "/sip-methods/%3Asip_method",
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            answer.body, r#"{"error": "The requested resource could not be found."}"#,
            "{uri}"
        );
        assert_common_headers(&answer);
    }
}

#[tokio::test]
async fn placeholders_need_the_token_like_the_other_original_routes() {
    let fixture = Fixture::original();
    let router = fixture.router_with(Some("s3cret"), Vec::new());
    for path in PLACEHOLDERS {
        assert_eq!(
            get(&router, path).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}

#[tokio::test]
async fn user_agents_and_sip_methods_are_counted_largest_first() {
    let fixture = seeded();
    let router = fixture.router();
    // seeded(): 25 events, even ones from friendly-scanner, every third a REGISTER.
    let agents = get(&router, "/api/v1/user-agents").await;
    assert_eq!(agents.status, StatusCode::OK);
    assert_eq!(agents.header("content-type"), "application/json");
    assert_common_headers(&agents);
    assert_eq!(
        agents.json(),
        json!({"items": [
            {"user_agent": "friendly-scanner", "count": 13},
            {"user_agent": "sipsak", "count": 12},
        ]})
    );
    let methods = get(&router, "/api/v1/sip-methods").await;
    assert_eq!(
        methods.json(),
        json!({"items": [
            {"sip_method": "INVITE", "count": 16},
            {"sip_method": "REGISTER", "count": 9},
        ]})
    );
    assert_eq!(
        methods.body,
        "{\n  \"items\": [\n    {\n      \"sip_method\": \"INVITE\",\n      \"count\": 16\n    },\n    {\n      \"sip_method\": \"REGISTER\",\n      \"count\": 9\n    }\n  ]\n}",
        "pretty JSON like the other routes"
    );
    let first = get(&router, "/api/v1/sip-methods?limit=1").await;
    assert_eq!(
        first.json(),
        json!({"items": [{"sip_method": "INVITE", "count": 16}]})
    );
    let future = get(&router, "/api/v1/user-agents?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future.json(), json!({"items": []}));
    for (uri, parameter) in [
        ("/api/v1/user-agents?limit=0", "limit"),
        ("/api/v1/sip-methods?limit=1001", "limit"),
        ("/api/v1/sip-methods?since=yesterday", "since"),
        ("/api/v1/user-agents?origin=local", "origin"),
    ] {
        let bad = get(&router, uri).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(bad.json()["parameter"], parameter, "{uri}");
    }
}

#[tokio::test]
async fn an_empty_database_has_no_user_agents_or_sip_methods() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    for uri in ["/api/v1/user-agents", "/api/v1/sip-methods"] {
        let answer = get(&router, uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.json(), json!({"items": []}), "{uri}");
    }
}
