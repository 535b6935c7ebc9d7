//! Reading an answer's body, never more than a bound.
//!
//! A connected system decides how much it sends; the ledger decides how much it reads. The
//! body is read chunk by chunk and refused as soon as it passes `max` bytes (or at once, when
//! its `Content-Length` says it will), so an answer of any size costs at most `max` bytes of
//! memory. Dropping the response then closes its connection. A refused answer is an invalid
//! one ([`ConnectorError::Invalid`], "answer over 4 MiB"): sending the request again would get
//! the same answer, so the work goes to dead letters like any other answer that breaks the
//! contract.

use reqwest::Response;

use crate::ConnectorError;

/// The default bound on an answer's body (`server.max_response_bytes`).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The error of an answer longer than `max` bytes.
pub fn too_large(max: usize) -> ConnectorError {
    ConnectorError::Invalid(format!("answer over {}", size_text(max)))
}

/// `4 MiB`, `512 KiB`, or `1000 bytes`.
pub fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// The body as text (invalid UTF-8 replaced), or [`too_large`] once past `max` bytes;
/// `transport` maps a failure while reading.
pub(crate) async fn read(
    mut response: Response,
    max: usize,
    transport: impl Fn(reqwest::Error) -> ConnectorError,
) -> Result<String, ConnectorError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(&transport)? {
        if body.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_text(512 * 1024), "512 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
        assert_eq!(
            too_large(DEFAULT_MAX_RESPONSE_BYTES).to_string(),
            "invalid: answer over 4 MiB"
        );
        assert!(!too_large(1).is_transient());
    }
}
