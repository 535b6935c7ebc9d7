//! A headless Chromium for the console's tests, driven over WebDriver by chromedriver.
//!
//! Each test gets its own chromedriver on a free port and its own empty profile, so tests run in
//! parallel and leave nothing behind. Chromium runs as CI does (root, no sandbox, no GPU) with its
//! background networking off and every host but 127.0.0.1 unresolvable: a page that needed
//! anything from the internet would break here, not only on a customer's closed network. Where
//! Chromium or chromedriver is not installed, [`Browser::start`] says so and returns `None`, and
//! the test returns early with that message printed (`.ci/run` installs both).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::STEP;

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: TempDir,
}

fn installed(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Where screenshots go for people to look at: `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

impl Browser {
    /// A browser pointed at the service at `base`, or `None` (printed) without Chromium.
    pub async fn start(base: &str) -> Option<Browser> {
        let chromium = installed(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let driver = installed(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            // CI installs both (.ci/run): there a missing browser is a failure, never a silent
            // pass, unless .ci/run could not install it and said so.
            assert!(
                std::env::var("CI").as_deref() != Ok("true")
                    || std::env::var("SYNCLEDGER_BROWSER_TESTS").as_deref() == Ok("skip"),
                "chromium or chromedriver is not installed, and CI=true: the console's browser tests must run"
            );
            println!(
                "SKIPPED: chromium or chromedriver is not installed (apt-get install chromium chromium-driver); the console's browser test did not run"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let profile = tempfile::tempdir().expect("a profile folder");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1440,1000".into(),
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + STEP;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if tokio::time::Instant::now() > deadline => {
                    panic!("chromedriver did not start a session: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Some(Browser {
            client,
            base: base.to_string(),
            driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client.goto(&url).await.expect("navigating");
    }

    /// Signs in on the console's form with `token` and waits for the signed-in header.
    pub async fn sign_in(&self, token: &str) {
        self.goto("/console").await;
        let input = self.wait_for("input[name=token]").await;
        input.send_keys(token).await.expect("typing the token");
        self.click("form.signin button[type=submit]").await;
        self.wait_for("#signed-in-as").await;
    }

    /// Goes to a console page (`#/ops`) without reloading the document.
    pub async fn open(&self, hash: &str) {
        self.js(
            "location.hash = arguments[0]; return true;",
            vec![json!(hash)],
        )
        .await;
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(STEP)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css} did not appear: {err}"))
    }

    /// Waits until the element `css` holds `text`; returns its whole text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let now = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if now.contains(text) {
                return now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never held {text:?}; last: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `css`, found again when a page's refresh replaced it between the
    /// finding and the click (a stale element), until [`STEP`] has passed.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            match self.wait_for(css).await.click().await {
                Ok(_) => return,
                Err(e)
                    if e.is_stale_element_reference() && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("clicking {css}: {e:?}"),
            }
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input.clear().await.expect("clearing");
        input.send_keys(text).await.expect("typing");
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |v| v.len())
    }

    /// The texts of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);";
        let value = self.js(script, vec![json!(css)]).await;
        serde_json::from_value(value).expect("a list of texts")
    }

    /// An attribute of every element matching `css`, in document order.
    pub async fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let script = "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]) || '');";
        let value = self.js(script, vec![json!(css), json!(attr)]).await;
        serde_json::from_value(value).expect("a list of attributes")
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|err| panic!("running {script}: {err}"))
    }

    /// Every URL the current document has fetched (scripts, styles, images, `fetch`).
    pub async fn fetched(&self) -> Vec<String> {
        let script =
            "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)];";
        serde_json::from_value(self.js(script, vec![]).await).expect("a list of URLs")
    }

    /// Writes `target/console-screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing the screenshot");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
