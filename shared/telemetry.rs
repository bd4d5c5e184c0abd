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

/// A CloudWatch metric as an embedded-metric-format log line (namespace `NexusBridge`): CloudWatch
/// turns the line into a metric with no API call, so alarms (poll lag) cost nothing per run.
pub fn metric_line(name: &str, value: f64, unit: &str, dimensions: &[(&str, &str)]) -> String {
    let mut line = serde_json::Map::new();
    let dimension_names: Vec<&str> = dimensions.iter().map(|(key, _)| *key).collect();
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": jiff::Timestamp::now().as_millisecond(),
            "CloudWatchMetrics": [{
                "Namespace": "NexusBridge",
                "Dimensions": [dimension_names],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        }),
    );
    for (key, value) in dimensions {
        line.insert((*key).into(), serde_json::Value::from(*value));
    }
    line.insert(name.into(), serde_json::Value::from(value));
    serde_json::Value::Object(line).to_string()
}

/// Writes [`metric_line`] to standard output, where Lambda's log capture reads it.
pub fn emit_metric(name: &str, value: f64, unit: &str, dimensions: &[(&str, &str)]) {
    println!("{}", metric_line(name, value, unit, dimensions));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_are_embedded_metric_format() {
        let line: serde_json::Value =
            serde_json::from_str(&metric_line("PollLagSeconds", 42.0, "Seconds", &[("Job", "status-sync")])).unwrap();
        assert_eq!(line["PollLagSeconds"], 42.0);
        assert_eq!(line["Job"], "status-sync");
        let metrics = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], "NexusBridge");
        assert_eq!(metrics["Dimensions"][0][0], "Job");
        assert_eq!(metrics["Metrics"][0]["Name"], "PollLagSeconds");
    }
}
