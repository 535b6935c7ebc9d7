//! The GraphiQL page, and the Content-Security-Policy that lets it run and nothing else.
//!
//! GraphiQL loads React, its script and its stylesheet from `unpkg.com` and boots from one inline
//! script; the page holds the bearer token a person types into its headers pane, so what may run
//! on it matters. The policy allows scripts from `https://unpkg.com` and the one inline script by
//! its SHA-256 hash (computed from the page itself, so an upgrade of the page cannot silently
//! break or widen it), styles from `unpkg.com` and inline (GraphiQL sets element styles),
//! the favicon from `graphql.org`, and requests (`fetch`, the WebSocket) to this origin only. No
//! framing, no forms, no `<base>`. docs/security.md lists it.

use async_graphql::http::GraphiQLSource;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The page and its policy, built once.
pub(crate) struct Page {
    html: String,
    policy: HeaderValue,
}

impl Page {
    pub(crate) fn new() -> Self {
        let html = GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish();
        let policy = policy(&html);
        Page {
            policy: HeaderValue::from_str(&policy)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
            html,
        }
    }

    pub(crate) fn response(&self) -> Response {
        let mut response = Html(self.html.clone()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
        response
    }
}

/// The policy for `html`: its inline scripts allowed by hash.
pub(crate) fn policy(html: &str) -> String {
    let hashes: Vec<String> = inline_scripts(html)
        .map(|script| format!("'sha256-{}'", base64(&Sha256::digest(script.as_bytes()))))
        .collect();
    format!(
        "default-src 'none'; script-src https://unpkg.com {}; \
         style-src https://unpkg.com 'unsafe-inline'; img-src https://graphql.org data:; \
         font-src https://unpkg.com data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hashes.join(" ")
    )
}

/// The bodies of `<script>` elements without attributes (those with `src` are allowed by host).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script>").skip(1).filter_map(|rest| {
        let end = rest.find("</script>")?;
        Some(&rest[..end])
    })
}

/// Standard base64 with padding, as CSP hash sources are written.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_page_policy_allows_its_inline_script_by_hash_and_nothing_inline_else() {
        let page = Page::new();
        let policy = page.policy.to_str().unwrap();
        let scripts: Vec<&str> = inline_scripts(&page.html).collect();
        assert_eq!(scripts.len(), 1, "GraphiQL boots from one inline script");
        let hash = base64(&Sha256::digest(scripts[0].as_bytes()));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert!(!policy.contains("unsafe-eval"));
        let script_src = policy
            .split(';')
            .find(|d| d.contains("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe-inline"), "{script_src}");
        for src in page.html.split("src=\"").skip(1) {
            assert!(
                src.starts_with("https://unpkg.com/"),
                "a script from elsewhere: {src}"
            );
        }
    }
}
