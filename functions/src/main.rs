//! The bridge's five Lambda functions, one bootstrap. Each function of the template runs this
//! binary; its `Handler` (which Lambda passes in `_HANDLER`) names the function to run:
//!
//! | `Handler` | function | trigger |
//! |---|---|---|
//! | `dispatch` | [`dispatch`] | API Gateway: Qargo's dispatch and visibility webhooks |
//! | `order-poll` | [`order_poll`] | the schedule: consignments booked for our depots |
//! | `status-poll` | [`status_poll`] | the schedule and `Stop` updates: the status sync |
//! | `pod-sync` | [`pod_sync`] | the schedule and `Document` updates: the POD sync |
//! | `eta-export` | [`eta_export`] | `Eta` updates: ETAs to Nexus |
//!
//! One binary because the release build's cost is its fat-LTO link, once per binary: five links of
//! the same library became one (BENCHMARKS.md, "One bootstrap for the five functions"). A function
//! whose `Handler` names none of the five does not start, and says so.

mod dispatch;
mod eta_export;
mod order_poll;
mod pod_sync;
mod status_poll;

use lambda_runtime::Error;

/// The variable in which Lambda passes the function's configured `Handler`.
const HANDLER_VARIABLE: &str = "_HANDLER";

/// The five functions, each by the `Handler` the template gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Dispatch,
    OrderPoll,
    StatusPoll,
    PodSync,
    EtaExport,
}

impl Function {
    const ALL: [Function; 5] =
        [Function::Dispatch, Function::OrderPoll, Function::StatusPoll, Function::PodSync, Function::EtaExport];

    /// The function's `Handler` in the template.
    fn handler(self) -> &'static str {
        match self {
            Function::Dispatch => "dispatch",
            Function::OrderPoll => "order-poll",
            Function::StatusPoll => "status-poll",
            Function::PodSync => "pod-sync",
            Function::EtaExport => "eta-export",
        }
    }

    /// The function a `Handler` names, or why it names none (bounded: the value is not echoed whole).
    fn from_handler(handler: Option<&str>) -> Result<Function, String> {
        let handlers = || Function::ALL.map(Function::handler).join(", ");
        let Some(handler) = handler else {
            return Err(format!("{HANDLER_VARIABLE} is not set: give the function a Handler, one of {}", handlers()));
        };
        Function::ALL.into_iter().find(|function| function.handler() == handler).ok_or_else(|| {
            let shown: String = handler.chars().take(40).collect();
            let cut = if shown.len() < handler.len() { "…" } else { "" };
            format!(
                "the function's Handler is {shown:?}{cut}, which names no function of this bootstrap: use one of {} (template.yaml)",
                handlers()
            )
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let handler = std::env::var(HANDLER_VARIABLE).ok();
    let function = match Function::from_handler(handler.as_deref()) {
        Ok(function) => function,
        Err(unknown) => {
            bridge::lambda::init_logging();
            return Err(bridge::lambda::start_failed(unknown));
        }
    };
    match function {
        Function::Dispatch => dispatch::run().await,
        Function::OrderPoll => order_poll::run().await,
        Function::StatusPoll => status_poll::run().await,
        Function::PodSync => pod_sync::run().await,
        Function::EtaExport => eta_export::run().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_handler_names_its_function() {
        for function in Function::ALL {
            assert_eq!(Function::from_handler(Some(function.handler())), Ok(function));
        }
    }

    #[test]
    fn an_unknown_or_missing_handler_is_refused_with_the_five_names_and_bounded() {
        let long = format!("bootstrap{}", "x".repeat(10_000));
        let refused = Function::from_handler(Some(&long)).unwrap_err();
        assert!(refused.contains("\"bootstrapxxx") && refused.contains('…'), "{refused}");
        assert!(refused.len() < 300, "the refusal does not echo the whole value: {} bytes", refused.len());
        for function in Function::ALL {
            assert!(refused.contains(function.handler()), "{refused}");
        }
        let missing = Function::from_handler(None).unwrap_err();
        assert!(missing.contains("_HANDLER is not set"), "{missing}");
    }

    /// Every function in the template gives a Handler this bootstrap runs, and each of the five is
    /// some function's: a renamed handler on either side fails here, not at the first invocation.
    #[test]
    fn the_templates_handlers_are_the_five_functions() {
        let template = include_str!("../../template.yaml");
        let mut handlers: Vec<&str> = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Handler:"))
            .map(|value| value.split('#').next().unwrap_or_default().trim())
            .collect();
        handlers.sort_unstable();
        let mut expected = Function::ALL.map(Function::handler);
        expected.sort_unstable();
        assert_eq!(handlers, expected, "each function's Handler in template.yaml, once each");
        for handler in handlers {
            assert!(Function::from_handler(Some(handler)).is_ok(), "{handler}");
        }
    }
}
