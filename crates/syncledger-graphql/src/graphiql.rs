//! The GraphiQL page, served entirely from the binary, and the Content-Security-Policy that lets
//! it run and nothing else.
//!
//! GraphiQL used to load React, its script and its stylesheet from a public CDN, so on a network
//! without internet access the page was blank, and the policy had to trust a third-party host
//! with the page where a person types their bearer token. Now the released builds of GraphiQL
//! and React are vendored under `assets/graphiql/` (with their licences; README.md there says
//! which versions) and compiled in; the page and its boot script are ours, and the script is a
//! file, not inline. So the policy allows scripts from this origin only. Styles also allow
//! inline (GraphiQL's editor sets element styles as it lays itself out), fonts and images
//! `data:` (the stylesheet embeds its fonts), requests (`fetch`, the WebSocket) this origin
//! only; no framing, no forms, no `<base>`. docs/security.md lists it.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy of the page and its files.
pub(crate) const POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the files are served.
pub(crate) const ASSETS_ROUTE: &str = "/graphiql/assets/{file}";

const PAGE: &str = include_str!("../assets/graphiql/index.html");

struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! assets {
    ($($name:literal => $media:expr),+ $(,)?) => {
        &[$(Asset { name: $name, media_type: $media, body: include_str!(concat!("../assets/graphiql/", $name)) }),+]
    };
}

const ASSETS: &[Asset] = assets![
    "react.production.min.js" => JS,
    "react-dom.production.min.js" => JS,
    "graphiql.min.js" => JS,
    "graphiql.min.css" => CSS,
    "boot.js" => JS,
    "page.css" => CSS,
];

fn with_policy(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

/// The page, for a browser's `GET /graphql`.
pub(crate) fn page() -> Response {
    with_policy(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response())
}

/// `GET /graphiql/assets/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => with_policy(([(header::CONTENT_TYPE, a.media_type)], a.body).into_response()),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_the_binary_serves_and_runs_no_inline_script() {
        assert!(!PAGE.contains("<script>"), "an inline script");
        let mut loaded = 0;
        for attr in ["src=\"", "href=\""] {
            for reference in PAGE.split(attr).skip(1) {
                let url = reference.split('"').next().unwrap();
                if url == "data:," {
                    continue;
                }
                let name = url
                    .strip_prefix("/graphiql/assets/")
                    .unwrap_or_else(|| panic!("the page loads {url} from elsewhere"));
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{name} is not embedded"
                );
                loaded += 1;
            }
        }
        assert_eq!(loaded, ASSETS.len(), "every embedded file is used");
    }

    #[test]
    fn the_policy_allows_scripts_and_requests_from_this_origin_only() {
        let script_src = POLICY
            .split(';')
            .find(|d| d.contains("script-src"))
            .unwrap();
        assert_eq!(script_src.trim(), "script-src 'self'");
        assert!(!POLICY.contains("unsafe-eval"));
        assert!(!POLICY.contains("https:"), "{POLICY}");
        assert!(POLICY.contains("connect-src 'self'"));
    }
}
