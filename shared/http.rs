//! What the two API clients share: the retry policy, back-off with full jitter, `Retry-After`.

use std::time::Duration;

use reqwest::Response;

/// How hard a client tries before it reports the API unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First back-off; doubled each retry, with full jitter.
    pub base_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
    /// Total time a call may take, waits included.
    pub budget: Duration,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
}

/// Time a scheduled run keeps back before its invocation's deadline: it starts no new work within
/// it, and it is longer than the longest single call ([`RetryPolicy::longest_call`] of the default
/// policy), so the call in flight at the deadline still ends before the function's time limit.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(45);

impl RetryPolicy {
    /// The longest one call can take: its whole budget of attempts and waits, plus the attempt
    /// started at the end of it. A function keeps at least this much back before its deadline.
    pub fn longest_call(&self) -> Duration {
        self.budget + self.request_timeout
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            budget: Duration::from_secs(25),
            // Longer than a 10 s latency spike: a webhook call that times out is not repeated
            // (Qargo may have acted on it), so a spike shorter than this costs a wait, not a run.
            request_timeout: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based): exponential, capped, fully jittered so
    /// that many callers failing together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1 << attempt.min(16)).min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }

    /// Whether another attempt fits: under the attempt count, and the wait within the budget.
    pub fn allows(&self, attempt: u32, elapsed: Duration, wait: Duration) -> bool {
        attempt < self.max_attempts && elapsed + wait <= self.budget
    }

    /// An HTTP client with this policy's timeouts.
    pub fn http_client(&self) -> reqwest::Client {
        client_builder()
            .timeout(self.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            // A redirect is followed only on the host first asked (with our token), never elsewhere.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_host = attempt.previous().first().is_some_and(|first| {
                    (first.scheme(), first.host_str(), first.port_or_known_default())
                        == (attempt.url().scheme(), attempt.url().host_str(), attempt.url().port_or_known_default())
                });
                if same_host && attempt.previous().len() < 5 { attempt.follow() } else { attempt.stop() }
            }))
            .build()
            .expect("the HTTP client builds with static settings")
    }
}

/// A builder of HTTP clients whose TLS is rustls with the ring provider. The process's default
/// provider is installed first: reqwest takes it from there, and without one a client does not
/// build. Every HTTP client of the workspace starts here (clippy's `disallowed-methods` refuses
/// reqwest's own constructors).
#[expect(clippy::disallowed_methods, reason = "the one place reqwest's builder is called")]
pub fn client_builder() -> reqwest::ClientBuilder {
    // Once per process: a second call finds the provider installed, which is what it asks for.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// The largest file the bridge reads from a partner: Nexus's attachment limit, 25 MiB.
pub const MAX_DOWNLOAD_BYTES: usize = 25 * 1024 * 1024;

/// A response body read up to `limit` bytes: refused from its `Content-Length`, or as soon as the
/// bytes read pass the limit, so a larger file is never held whole.
pub async fn read_capped(mut response: Response, limit: usize) -> Result<Vec<u8>, ReadFailed> {
    if let Some(length) = response.content_length().filter(|length| *length > limit as u64) {
        return Err(ReadFailed::TooLarge(format!("the file is {length} bytes; the bridge reads at most {limit}")));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| ReadFailed::CutShort(err.to_string()))? {
        if bytes.len() + chunk.len() > limit {
            return Err(ReadFailed::TooLarge(format!("the file is larger than the {limit} bytes the bridge reads")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailed {
    /// Over the limit: reading it again cannot help.
    TooLarge(String),
    /// The connection ended early: worth a retry.
    CutShort(String),
}

/// The `Retry-After` of a response, in seconds (capped at two minutes).
pub fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: f64 = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(seconds.clamp(0.0, 120.0)))
}

/// `base` with exactly one trailing slash, so paths can be appended.
pub fn base_with_slash(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

/// Probes of the TLS clients for the tests: what a client sends first to a listener on loopback.
#[cfg(test)]
pub(crate) mod tls_probe {
    use std::time::Duration;

    /// What a client sent first to a listener on loopback, given the listener's `https://` URL:
    /// the first five bytes of its first connection (a TLS record's header). Fails after 5 s.
    pub async fn first_bytes_to_loopback(
        call: impl FnOnce(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let read = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut bytes = vec![0u8; 5];
            socket.read_exact(&mut bytes).await.unwrap();
            bytes
        });
        let caller = tokio::spawn(call(url));
        let bytes = tokio::time::timeout(Duration::from_secs(5), read).await.expect("a connection").unwrap();
        caller.abort();
        bytes
    }

    /// A TLS handshake's first record: a handshake (22) of TLS 1.x (3, 1 to 3).
    pub fn is_tls_handshake(bytes: &[u8]) -> bool {
        bytes.len() >= 3 && bytes[0] == 22 && bytes[1] == 3 && (1..=3).contains(&bytes[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tls_probe::{first_bytes_to_loopback, is_tls_handshake};

    #[tokio::test]
    async fn the_partners_client_builds_and_speaks_tls_through_the_ring_provider() {
        // Without a provider installed, reqwest refuses to build a client (it panics).
        let client = client_builder().build().expect("the client builds with the ring provider");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some(), "the process has its TLS provider");
        let bytes = first_bytes_to_loopback(move |url| {
            Box::pin(async move {
                let _ = client.get(url).send().await;
            })
        })
        .await;
        assert!(is_tls_handshake(&bytes), "a TLS ClientHello, not {bytes:?}");
    }

    #[tokio::test]
    async fn a_body_is_read_up_to_the_limit_and_no_further() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A loopback server answering each connection with `answer`, as raw HTTP.
        async fn serve(answer: &'static str) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut request = [0u8; 1024];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
            });
            url
        }
        let sized = serve("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world").await;
        let chunked =
            serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n").await;
        let http = client_builder().build().unwrap();
        let get = |url: &String| http.get(url.clone()).send();
        assert_eq!(read_capped(get(&sized).await.unwrap(), 11).await.unwrap(), b"hello world");
        assert_eq!(read_capped(get(&chunked).await.unwrap(), 11).await.unwrap(), b"hello world");
        let by_length = read_capped(get(&sized).await.unwrap(), 10).await.unwrap_err();
        assert!(matches!(&by_length, ReadFailed::TooLarge(reason) if reason.contains("11 bytes")), "{by_length:?}");
        let while_reading = read_capped(get(&chunked).await.unwrap(), 8).await.unwrap_err();
        assert!(matches!(while_reading, ReadFailed::TooLarge(_)), "{while_reading:?}");
    }

    #[test]
    fn the_longest_call_ends_within_the_deadline_reserve() {
        assert!(RetryPolicy::default().longest_call() < DEADLINE_RESERVE);
    }

    #[test]
    fn backoff_grows_within_its_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..20 {
            assert!(policy.backoff(attempt) <= policy.max_delay);
        }
        let samples: Vec<Duration> = (0..50).map(|_| policy.backoff(1)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(400)));
        assert!(samples.iter().any(|d| *d != samples[0]), "jittered");
        assert!(policy.allows(1, Duration::ZERO, Duration::from_secs(1)));
        assert!(!policy.allows(6, Duration::ZERO, Duration::ZERO));
        assert!(!policy.allows(1, Duration::from_secs(25), Duration::from_millis(1)));
        assert_eq!(base_with_slash("http://x/v1"), "http://x/v1/");
        assert_eq!(base_with_slash("http://x/v1//"), "http://x/v1/");
    }
}

/// How one attempt of a call ended.
#[derive(Debug)]
pub enum Attempt {
    /// An answer worth returning: success or a definite refusal.
    Answer(Response),
    /// A transient failure; try again after `wait` (or the policy's back-off).
    Retry {
        /// What went wrong.
        failure: String,
        /// `Retry-After`, when the server gave one.
        wait: Option<Duration>,
    },
    /// A failure that another attempt would not mend (or might repeat a side effect).
    Stop(String),
}

impl Attempt {
    /// Classifies a sent request: 429 and 5xx are retried (429 after its `Retry-After`), and so is
    /// a connection failure (nothing reached the server); a timeout or broken body only when the
    /// request is `repeatable`, since the server may have acted on it.
    pub fn classify(sent: Result<Response, reqwest::Error>, repeatable: bool) -> Attempt {
        match sent {
            Ok(response) if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                Attempt::Retry { failure: "429 rate limited".into(), wait: retry_after(&response) }
            }
            Ok(response) if response.status().is_server_error() => {
                Attempt::Retry { failure: response.status().to_string(), wait: None }
            }
            Ok(response) => Attempt::Answer(response),
            Err(err) if err.is_connect() || (repeatable && (err.is_timeout() || err.is_body())) => {
                Attempt::Retry { failure: err.to_string(), wait: None }
            }
            Err(err) => Attempt::Stop(err.to_string()),
        }
    }
}

/// A call that ran out of attempts or time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// Attempts made.
    pub attempts: u32,
    /// Time spent since the call started.
    pub elapsed: Duration,
    /// The last failure.
    pub last: String,
}

/// Runs `attempt_once` (given the attempt number, from 1) until it answers, stops, or the policy
/// is spent; waits between attempts as the attempt or the back-off says.
pub async fn with_retries<Once, Sent>(
    policy: &RetryPolicy,
    started: std::time::Instant,
    mut attempt_once: Once,
) -> Result<Response, GaveUp>
where
    Once: FnMut(u32) -> Sent,
    Sent: Future<Output = Attempt>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (failure, wait) = match attempt_once(attempt).await {
            Attempt::Answer(response) => return Ok(response),
            Attempt::Stop(last) => return Err(GaveUp { attempts: attempt, elapsed: started.elapsed(), last }),
            Attempt::Retry { failure, wait } => (failure, wait.unwrap_or_else(|| policy.backoff(attempt))),
        };
        if !policy.allows(attempt, started.elapsed(), wait) {
            return Err(GaveUp { attempts: attempt, elapsed: started.elapsed(), last: failure });
        }
        tracing::debug!(attempt, ?wait, %failure, "call failed; retrying");
        tokio::time::sleep(wait).await;
    }
}
