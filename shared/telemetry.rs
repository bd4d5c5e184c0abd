//! Tracing, set up once per process: JSON lines in Lambda (CloudWatch parses them), readable text
//! locally. The level comes from `RUST_LOG`, else `info`.

use std::sync::Once;

use tracing_subscriber::EnvFilter;

static INIT: Once = Once::new();

/// Installs the global subscriber. Safe to call more than once (tests, several entry points): only
/// the first call has an effect.
pub fn init_tracing() {
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        let result = if in_lambda {
            builder
                .json()
                .with_current_span(false)
                .without_time() // CloudWatch stamps every line itself
                .try_init()
        } else {
            builder.with_target(false).try_init()
        };
        // Another subscriber already installed (e.g. by a test harness) is not an error.
        drop(result);
    });
}
