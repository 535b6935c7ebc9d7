//! One `syncledger serve` process under test.
//!
//! The address comes from the one line `serve` prints on stdout (`[server] listen` is port 0), read
//! by a thread that then keeps draining stdout so the child can never block on, or die of, a full
//! or closed pipe. Logs go to a file in the test's folder and are printed when a test fails. The
//! child is killed (SIGKILL) and reaped when the handle drops, so a failed test leaves no process
//! behind and its PostgreSQL database can be dropped.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use syncledger_connector::sign;
use syncledger_sim::Webhook;

use crate::harness::{TENANT, secret_of};
use crate::metrics::Metrics;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_syncledger");

/// How long `serve` may take to print its address (PostgreSQL migrations included).
const STARTUP: Duration = Duration::from_secs(30);

pub struct Service {
    child: Child,
    base: String,
    log: PathBuf,
    http: reqwest::Client,
}

/// An HTTP answer: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The `error.message` of a rejection.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// A command for the binary with no `SYNCLEDGER_*` variables inherited, so the caller's
/// environment cannot override the test's configuration.
pub fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SYNCLEDGER_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl Service {
    pub async fn spawn(config: &Path, log: PathBuf) -> Service {
        Service::spawn_logging(config, log, "info,sqlx=warn").await
    }

    /// [`Service::spawn`] with `RUST_LOG` set to `filter`.
    pub async fn spawn_logging(config: &Path, log: PathBuf, filter: &str) -> Service {
        let stderr = std::fs::File::create(&log).expect("creating the service log");
        let mut child = command(config.parent().expect("config in a folder"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning syncledger serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let http = reqwest::Client::builder()
            // A fresh connection per request: a pooled one could outlive a restart or a shutdown.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        let mut service = Service {
            child,
            base: String::new(),
            log,
            http,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for _ in lines {}
        });
        let line = match tokio::time::timeout(STARTUP, rx).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => panic!("syncledger serve exited before printing its address"),
            Err(_) => panic!("syncledger serve printed no address within {STARTUP:?}"),
        };
        let addr = line
            .strip_prefix("syncledger listening on ")
            .unwrap_or_else(|| panic!("unexpected first line on stdout: {line:?}"));
        service.base = addr.trim().to_string();
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        let response = self.http.get(self.url(path)).send().await?;
        Ok(reply(response).await)
    }

    pub async fn metrics(&self) -> Metrics {
        let reply = self.get("/metrics").await.expect("scraping /metrics");
        assert_eq!(reply.status, 200, "/metrics answered {reply:?}");
        Metrics::parse(reply.body.as_str().unwrap_or_default().to_string())
    }

    /// POSTs a JSON document, with `Authorization: Bearer {token}` when a token is given.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        reply(request.send().await.expect("POST to the service")).await
    }

    /// POSTs `body` to `/webhooks/{tenant}/{system}` with the given `X-Signature`, if any.
    pub async fn post_webhook(
        &self,
        tenant: &str,
        system: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .http
            .post(self.url(&format!("/webhooks/{tenant}/{system}")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        Ok(reply(request.send().await?).await)
    }

    /// POSTs `body` as `system` of the test tenant would: signed with that system's secret.
    pub async fn post_signed(&self, system: &str, body: Vec<u8>) -> Result<Reply, reqwest::Error> {
        let signature = sign(secret_of(system).as_bytes(), &body);
        self.post_webhook(TENANT, system, body, Some(signature))
            .await
    }

    /// Delivers `batch` the way the systems do: one webhook as an object, several as an array.
    pub async fn deliver(&self, system: &str, batch: &[Webhook]) -> Reply {
        let body = match batch {
            [one] => serde_json::to_vec(one),
            many => serde_json::to_vec(many),
        }
        .expect("encoding webhooks");
        self.post_signed(system, body)
            .await
            .expect("delivering webhooks")
    }

    /// `kill -9`: no chance to finish anything. Returns once the process is gone.
    pub fn kill9(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("reaping the killed service");
        assert_eq!(
            status.signal(),
            Some(9),
            "the service was not killed by SIGKILL: {status:?}"
        );
        status
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status once the process ends, or `None` if it is still running after `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the service") {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "----- syncledger serve log ({}) -----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}
