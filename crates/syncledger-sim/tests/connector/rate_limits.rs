//! A system's quota over real HTTP: a fake system timestamps every request it receives, and no
//! window of them exceeds `burst + rate * t`, with 8 and with 128 concurrent callers sharing one
//! connector. The timestamps are taken where the requests arrive, so each window is allowed one
//! request more for transit jitter; the exact property is checked on a paused clock in
//! `rate_limit`'s unit tests. A `429` with `Retry-After` pauses every caller, not just one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use syncledger_connector::{Connector, HttpConnector, RateLimit};

use crate::support::{config, connector};

const LIMIT: RateLimit = RateLimit {
    requests_per_second: 40.0,
    burst: 4,
    max_in_flight: Some(3),
};

/// A system answering every GET with a record, noting when each request arrived; the first
/// `throttle` requests are answered `429` with `Retry-After: 1`.
async fn timestamping_system(throttle: usize) -> (Arc<Mutex<Vec<Instant>>>, String) {
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = arrivals.clone();
    let app = Router::new().fallback(move |request: Request| {
        let seen = seen.clone();
        async move {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Instant::now());
                seen.len()
            };
            if n <= throttle {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "slow down",
                )
                    .into_response();
            }
            let id = request
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            axum::Json(json!({"id": id})).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (arrivals, format!("http://{addr}"))
}

fn limited(base: &str) -> HttpConnector {
    let mut config = config(base);
    config.rate_limit = Some(LIMIT);
    config.timeout = Duration::from_secs(30);
    connector(config)
}

async fn fetch_from(callers: usize, requests: usize, http: Arc<HttpConnector>) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..callers {
        let http = http.clone();
        let mine = requests / callers + usize::from(c < requests % callers);
        tasks.spawn(async move {
            for i in 0..mine {
                let id = format!("r-{c}-{i}");
                http.get("contacts", &id).await.unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn assert_within_quota(arrivals: &[Instant]) {
    let mut arrivals = arrivals.to_vec();
    arrivals.sort();
    for i in 0..arrivals.len() {
        for j in i..arrivals.len() {
            let t = (arrivals[j] - arrivals[i]).as_secs_f64();
            let allowed = f64::from(LIMIT.burst) + LIMIT.requests_per_second * t + 1.0;
            let count = (j - i + 1) as f64;
            assert!(
                count <= allowed,
                "{count} requests arrived within {t:.4} s; the quota allows {allowed:.2}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_callers_stay_within_the_quota() {
    let (arrivals, base) = timestamping_system(0).await;
    fetch_from(8, 60, Arc::new(limited(&base))).await;
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 60);
    assert_within_quota(&arrivals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_twenty_eight_callers_stay_within_the_quota() {
    let (arrivals, base) = timestamping_system(0).await;
    fetch_from(128, 128, Arc::new(limited(&base))).await;
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 128);
    assert_within_quota(&arrivals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_caller_of_the_system() {
    let (arrivals, base) = timestamping_system(1).await;
    let http = Arc::new(limited(&base));
    // The first request is throttled: the system asks for a second's rest, and the caller hears
    // so at once (one request, no wait inside the call).
    let throttled = http.get("contacts", "r-first").await.unwrap_err();
    assert_eq!(throttled.status(), Some(429));
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(1)));

    fetch_from(8, 16, http).await;

    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 17, "one throttled, then 16 answered");
    let throttled_at = arrivals[0];
    for later in &arrivals[1..] {
        assert!(
            *later - throttled_at >= Duration::from_millis(990),
            "a request arrived {:?} after the 429 asked for a second",
            *later - throttled_at
        );
    }
}
