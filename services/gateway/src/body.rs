//! Request bodies: the media-type rule (415) and the size limit (413), checked on the declared
//! `Content-Length` first and then while the body streams in, so an oversized or lying client
//! never makes the gateway buffer more than the limit.

use axum::body::Body;
use ballast_kit::ApiError;
use bytes::Bytes;
use http::request::Parts;
use http::{Method, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Whether a `Content-Type` value is JSON (`application/json`, `application/*+json`).
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn needs_json(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

fn unsupported() -> ApiError {
    ApiError::UnsupportedMediaType("request bodies must be application/json".into())
}

fn too_large(max: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("request bodies are limited to {max} bytes"))
}

/// Reads the body of a request whose head is `parts`, enforcing the rules; at most `max` bytes.
pub async fn read(parts: &Parts, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let json = is_json(content_type);
    let declared = match parts.headers.get(header::CONTENT_LENGTH) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::BadRequest("invalid Content-Length".into()))?,
        ),
        None => None,
    };
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    let announces_body = declared.is_some_and(|n| n > 0) || chunked;
    if needs_json(&parts.method) && announces_body && !json {
        return Err(unsupported());
    }
    if declared.is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX)) {
        return Err(too_large(max));
    }
    let bytes = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(too_large(max));
        }
        Err(_) => {
            return Err(ApiError::BadRequest(
                "the request body could not be read".into(),
            ));
        }
    };
    if needs_json(&parts.method) && !bytes.is_empty() && !json {
        return Err(unsupported());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri("/x");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn json_media_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[tokio::test]
    async fn size_and_media_type_rules() {
        let json = [("content-type", "application/json")];
        let ok = read(&parts(Method::POST, &json), Body::from("{}"), 8).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"{}"));
        let post = parts(Method::POST, &json);
        let streamed_too_large = read(&post, Body::from("x".repeat(9)), 8).await;
        assert!(matches!(
            streamed_too_large,
            Err(ApiError::PayloadTooLarge(_))
        ));
        let declared = [
            ("content-type", "application/json"),
            ("content-length", "9"),
        ];
        let declared_too_large = read(&parts(Method::POST, &declared), Body::empty(), 8).await;
        assert!(matches!(
            declared_too_large,
            Err(ApiError::PayloadTooLarge(_))
        ));
        let text = [("content-type", "text/plain"), ("content-length", "2")];
        let wrong_type = read(&parts(Method::PUT, &text), Body::from("hi"), 8).await;
        assert!(matches!(wrong_type, Err(ApiError::UnsupportedMediaType(_))));
        let untyped = read(&parts(Method::PATCH, &[]), Body::from("hi"), 8).await;
        assert!(matches!(untyped, Err(ApiError::UnsupportedMediaType(_))));
        let empty_post = read(&parts(Method::POST, &[]), Body::empty(), 8).await;
        assert!(empty_post.unwrap().is_empty());
        let bad_length = [("content-length", "lots")];
        let bad = read(&parts(Method::GET, &bad_length), Body::empty(), 8).await;
        assert!(matches!(bad, Err(ApiError::BadRequest(_))));
    }
}
