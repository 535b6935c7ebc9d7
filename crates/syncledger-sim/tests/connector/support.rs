//! Shared set-up: a simulated system served on `127.0.0.1:0` and an HTTP connector to it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use syncledger_connector::{HttpConnector, HttpConnectorConfig};
use syncledger_sim::{SimSystem, serve_http};

/// Serves `sim` over HTTP on a free port and returns its base URL.
pub async fn serve(sim: &Arc<SimSystem>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_http(sim.clone(), listener));
    format!("http://{addr}")
}

pub fn config(base_url: &str) -> HttpConnectorConfig {
    HttpConnectorConfig {
        base_url: base_url.to_owned(),
        headers: BTreeMap::new(),
        timeout: Duration::from_secs(5),
        max_id_bytes: syncledger_connector::record_id::DEFAULT_MAX_ID_BYTES,
        rate_limit: None,
        label: "crm".into(),
        max_retry_after: Duration::from_secs(3600),
        max_response_bytes: syncledger_connector::body::DEFAULT_MAX_RESPONSE_BYTES,
    }
}

pub fn connector(config: HttpConnectorConfig) -> HttpConnector {
    HttpConnector::new(config).unwrap()
}

/// A simulated CRM served over HTTP and a connector to it.
pub async fn crm() -> (Arc<SimSystem>, HttpConnector) {
    let sim = Arc::new(SimSystem::new("c"));
    let base = serve(&sim).await;
    let http = connector(config(&base));
    (sim, http)
}
