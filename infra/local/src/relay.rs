//! A loopback relay for the tests and benchmarks that stand between the bridge and a simulator (to
//! time the bridge's calls, or to kill a run at one of them): each request is sent on to the
//! simulator as it came, and the simulator's answer, read whole, is handed back.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The simulator's answer, read whole.
#[derive(Debug)]
pub struct Relayed {
    /// Its status.
    pub status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends a request on to `origin` (`http://host:port`): same method, path and query, headers but
/// `Host` and `Content-Length`, and body. An error only when nothing came back.
pub async fn relay(
    http: &reqwest::Client,
    origin: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Relayed, reqwest::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = http.request(method, format!("{origin}{path}")).body(body);
    for (name, value) in headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing.send().await?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    Ok(Relayed { status, headers, body })
}

/// The answer for a request that got none from the simulator.
pub fn bad_gateway(err: reqwest::Error) -> Response {
    (StatusCode::BAD_GATEWAY, err.to_string()).into_response()
}

impl IntoResponse for Relayed {
    fn into_response(mut self) -> Response {
        // The body is whole: its length is set anew, and the connection is the relay's own.
        for hop in [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION] {
            self.headers.remove(hop);
        }
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}
