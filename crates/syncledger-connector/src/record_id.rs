//! Record ids are data, never path.
//!
//! A record id comes from outside: a webhook names it, a system answers a create with it. It
//! ends up as one segment of a URL the ledger sends with the tenant's credentials, so an id must
//! never be able to steer that request. URL libraries normalise paths the way browsers do: a
//! segment `..` climbs to the parent (`DELETE /customers/..` becomes `DELETE /`, the whole
//! collection's parent), `.` disappears, and tabs and line breaks are stripped (`c-1\t` becomes
//! `c-1`, another record). Percent-encoding the dots does not help: `%2E%2E` is a dot segment to
//! the same parsers. So the rules are:
//!
//! 1. An id is refused when it is empty, longer than the configured limit, holds a control
//!    character, or is a dot segment (`.` or `..`). [`check`] says which rule it broke.
//! 2. Every other id is percent-encoded as exactly one segment (`/`, `?`, `#` and `%` included),
//!    and the URL built from it is checked to have exactly the expected segments, the last one
//!    decoding back to the id ([`record_url`]); a URL that fails the check is never sent.

use percent_encoding::percent_decode_str;
use reqwest::Url;

/// The default longest id, in bytes (`server.max_record_id_bytes`).
pub const DEFAULT_MAX_ID_BYTES: usize = 1024;

/// Why a record id cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadId {
    #[error("the record id is empty")]
    Empty,
    #[error("the record id is {len} bytes long, over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the record id holds a control character (at byte {at})")]
    Control { at: usize },
    #[error("the record id is a dot segment (\".\" or \"..\"), which a URL cannot carry as data")]
    DotSegment,
}

/// Whether `id` may be used as a record id (see the module doc, rule 1).
pub fn check(id: &str, max_bytes: usize) -> Result<(), BadId> {
    if id.is_empty() {
        return Err(BadId::Empty);
    }
    if id.len() > max_bytes {
        return Err(BadId::TooLong {
            len: id.len(),
            max: max_bytes,
        });
    }
    if let Some((at, _)) = id.char_indices().find(|(_, c)| c.is_control()) {
        return Err(BadId::Control { at });
    }
    if id == "." || id == ".." {
        return Err(BadId::DotSegment);
    }
    Ok(())
}

/// Why a URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadUrl {
    #[error(transparent)]
    Id(#[from] BadId),
    #[error("the collection name {0:?} cannot be one URL segment")]
    Collection(String),
    #[error("the URL built for the record does not have the expected segments")]
    Shape,
}

/// `base/collection` (with `id: None`) or `base/collection/<one encoded id>`, checked to have
/// exactly those segments under the base (see the module doc, rule 2).
pub fn record_url(
    base: &Url,
    collection: &str,
    id: Option<&str>,
    max_id_bytes: usize,
) -> Result<Url, BadUrl> {
    if check(collection, usize::MAX).is_err() || collection.contains('/') {
        return Err(BadUrl::Collection(collection.to_string()));
    }
    if let Some(id) = id {
        check(id, max_id_bytes)?;
    }
    let base_segments: Vec<String> = segments(base).filter(|s| !s.is_empty()).collect();
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().map_err(|_| BadUrl::Shape)?;
        path.pop_if_empty().push(collection);
        if let Some(id) = id {
            path.push(id);
        }
    }
    let got: Vec<String> = segments(&url).collect();
    let mut expected = base_segments;
    expected.push(collection.to_string());
    expected.extend(id.map(str::to_string));
    if got != expected {
        return Err(BadUrl::Shape);
    }
    Ok(url)
}

/// The URL's path segments, percent-decoded.
fn segments(url: &Url) -> impl Iterator<Item = String> + '_ {
    url.path_segments()
        .into_iter()
        .flatten()
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:9001/api").unwrap()
    }

    #[test]
    fn dot_segments_control_characters_and_overlong_ids_are_refused() {
        assert_eq!(check("..", 1024), Err(BadId::DotSegment));
        assert_eq!(check(".", 1024), Err(BadId::DotSegment));
        assert_eq!(check("c-1\t", 1024), Err(BadId::Control { at: 3 }));
        assert_eq!(check("..\t", 1024), Err(BadId::Control { at: 2 }));
        assert_eq!(check("a\r\nb", 1024), Err(BadId::Control { at: 1 }));
        assert_eq!(check("", 1024), Err(BadId::Empty));
        assert_eq!(
            check(&"x".repeat(1025), 1024),
            Err(BadId::TooLong {
                len: 1025,
                max: 1024
            })
        );
        assert_eq!(check("c-1", 1024), Ok(()));
        assert_eq!(check("...", 1024), Ok(()));
    }

    #[test]
    fn an_id_that_looks_like_a_path_stays_one_segment() {
        for id in ["a/b", "../x", "%2E%2E", "?q=1", "#frag", "a b", "é", "%"] {
            let url = record_url(&base(), "contacts", Some(id), 1024).unwrap();
            let last = url.path_segments().unwrap().next_back().unwrap();
            assert_eq!(percent_decode_str(last).decode_utf8().unwrap(), id, "{url}");
            assert_eq!(url.path_segments().unwrap().count(), 3, "{url}");
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        }
    }

    #[test]
    fn a_url_without_a_record_segment_cannot_be_built_for_a_record() {
        assert!(record_url(&base(), "contacts", Some(".."), 1024).is_err());
        assert!(record_url(&base(), "contacts", Some(""), 1024).is_err());
        assert!(record_url(&base(), "..", None, 1024).is_err());
        assert!(record_url(&base(), "a/b", None, 1024).is_err());
        let listing = record_url(&base(), "contacts", None, 1024).unwrap();
        assert_eq!(listing.path(), "/api/contacts");
    }

    proptest! {
        #[test]
        fn any_accepted_id_is_exactly_one_segment_under_the_collection(id in "\\PC{0,40}|[./%\\\\?#\\t ]{0,6}") {
            match record_url(&base(), "contacts", Some(&id), 1024) {
                Ok(url) => {
                    let segs: Vec<String> = segments(&url).collect();
                    prop_assert_eq!(segs, vec!["api".to_string(), "contacts".into(), id.clone()]);
                    prop_assert!(url.query().is_none() && url.fragment().is_none());
                    prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
                }
                Err(_) => prop_assert!(check(&id, 1024).is_err()),
            }
        }
    }
}
