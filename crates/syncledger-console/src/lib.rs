//! The audit console at `/console`: a page for the people who ask "why did this record
//! change?" (support and operations staff), served by the same binary as the API.
//!
//! Why it is built this way:
//!
//! - **Offline.** Every asset is compiled into the binary with `include_str!`; nothing is
//!   fetched from a CDN, so the console works on a network without internet access, and
//!   `cargo build` is the only build step (no Node tool chain).
//! - **One data path.** The page is a small hand-written ES module script that talks to
//!   `/graphql` (queries, mutations) and `/graphql/ws` (graphql-transport-ws, the live page) with
//!   the token a person pastes. It has no endpoint of its own: whatever the console shows, any
//!   GraphQL client can ask, under exactly the same token rules.
//! - **A strict Content-Security-Policy.** The token lives in the page (in `sessionStorage`), so
//!   only this crate's own files may run there: scripts and styles from this origin only, no
//!   inline script or style, requests to this origin only, no framing. docs/security.md lists it.
//!
//! The routes: `GET /console` (the page) and `GET /console/assets/{file}` (its scripts, styles
//! and icon). docs/console.md says what each page answers.
#![forbid(unsafe_code)]

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy every console response carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/console/assets/`, media type and content.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! assets {
    ($($name:literal => $media:expr),+ $(,)?) => {
        &[$(Asset { name: $name, media_type: $media, body: include_str!(concat!("../assets/", $name)) }),+]
    };
}

/// Everything the page loads. A file added under `assets/` must be listed here to be served.
const ASSETS: &[Asset] = assets![
    "console.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
    "app.js" => JS,
    "api.js" => JS,
    "dom.js" => JS,
    "chart.js" => JS,
    "find.js" => JS,
    "entity.js" => JS,
    "why.js" => JS,
    "timeline.js" => JS,
    "ops.js" => JS,
    "deadletters.js" => JS,
    "live.js" => JS,
    "eventlink.js" => JS,
    "summary.js" => JS,
    "entitylive.js" => JS,
    "whatif.js" => JS,
    "conflicts.js" => JS,
    "conflictview.js" => JS,
    "timelinecontrols.js" => JS,
    "erase.js" => JS,
];

const INDEX: &str = include_str!("../assets/index.html");

/// `GET /console` and its assets; `.merge` it into the server's router.
pub fn routes() -> Router {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/assets/{file}", get(asset))
}

async fn index() -> Response {
    with_policy(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response())
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => with_policy(([(header::CONTENT_TYPE, a.media_type)], a.body).into_response()),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_assets_the_binary_serves() {
        for reference in INDEX.split("/console/assets/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "index.html loads {name}, which is not embedded"
            );
        }
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for import in asset.body.split("from './").skip(1) {
                let name = import.split('\'').next().unwrap();
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {name}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn no_asset_names_another_host_or_runs_inline_code() {
        assert!(!INDEX.contains("<script>"), "an inline script");
        assert!(!INDEX.contains("style="), "an inline style");
        for asset in ASSETS {
            for scheme in ["http://", "https://", "//cdn", "//unpkg"] {
                let allowed = asset.body.matches("http://www.w3.org/2000/svg").count();
                assert!(
                    asset.body.matches(scheme).count() <= allowed,
                    "{} names another host ({scheme})",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_policy_allows_this_origin_only_and_nothing_inline() {
        let policy = CONTENT_SECURITY_POLICY;
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(policy.contains("style-src 'self';"), "{policy}");
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }
}
