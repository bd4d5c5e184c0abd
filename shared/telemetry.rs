//! Metrics as log lines: CloudWatch's embedded metric format, written to standard output where
//! Lambda's log capture reads them. (The functions' logging itself is `lambda_runtime`'s
//! subscriber, set up by [`crate::lambda::init_logging`].)

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
