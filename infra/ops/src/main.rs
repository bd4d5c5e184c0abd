//! `bridge-ops`: looking after the bridge — a consignment's story, re-running a job, backfilling the
//! import, reconciling Qargo with Nexus, the dead-letter queues, checking the Qargo tenant's set-up,
//! checking what a Nexus API can do (`nexus-check`).
//! Works on the local bridge's data folder (`--local`, the default) or a deployed stack (`--table`
//! and `--bucket`). The logic is in `bridge::ops`; this binary reads the arguments and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use bridge::ops::dlq::{DeadLetters, RedriveOptions, RedriveTarget};
use bridge::ops::rerun::Job;
use bridge::ops::target::{LOCAL_DATA_DIR, Target};
use bridge::ops::{ConsignmentRef, Ops, OpsError, parse_uk_time};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

/// Looks after nexus-bridge: locally (the data folder of `bridge-local`, which must not be running)
/// or in the cloud (`--table` and `--bucket`, the stack's outputs, with the default AWS
/// configuration). Nexus and Qargo are called with the settings and secrets the functions use
/// (`BRIDGE_DEPOTS`, `BRIDGE_SECRET_ID` or `BRIDGE_SECRETS_FILE` / `BRIDGE_SECRETS_JSON`,
/// `NEXUS_BASE_URL`, `QARGO_BASE_URL`, …); without them, what only reads storage still works.
#[derive(Debug, Parser)]
#[command(name = "bridge-ops", version)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// The local bridge's data folder.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "table")]
    local: Option<PathBuf>,
    /// A deployed stack's DynamoDB table (its `TableName` output).
    #[arg(long, global = true, value_name = "NAME", requires = "bucket")]
    table: Option<String>,
    /// A deployed stack's S3 bucket (its `BucketName` output).
    #[arg(long, global = true, value_name = "NAME", requires = "table")]
    bucket: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A consignment's whole story: ledger, sync state, documents, import, Nexus and Qargo now.
    Story {
        /// Qargo's consignment id, or NETWORK:ID on Nexus (e.g. PALLEX:10001).
        consignment: String,
    },
    /// Re-run a job for one consignment, or from a date (every re-run is safe to repeat).
    #[command(visible_alias = "replay")]
    Rerun(RerunArgs),
    /// Run the order import from a date, with progress.
    BackfillImports {
        /// UK date (or date and time) to import from, e.g. 2026-06-10.
        #[arg(long)]
        since: String,
    },
    /// List consignments whose ledger, Nexus and Qargo disagree (exit code 2 when there are any).
    Reconcile {
        /// Check the dispatches changed since this UK date (default: the last 14 days on a deployed
        /// stack, everything locally).
        #[arg(long, conflicts_with = "all")]
        since: Option<String>,
        /// Check every dispatch the ledger holds.
        #[arg(long)]
        all: bool,
    },
    /// The dead-letter queues.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Check the Qargo tenant's set-up: what Qargo's API can show is checked (OAuth client, webhook
    /// credential, customers, resources), the rest is listed with the value to set (exit code 2 when
    /// something is missing). With --table it uses the stack's shared Qargo token.
    TenantCheck(TenantCheckArgs),
    /// First contact with a Nexus API: log in, read the lookups, probe each capability the bridge can
    /// use beyond what public code shows (without side effects), report the shapes it answers in, and
    /// print the NEXUS_CAPABILITIES to deploy with. Credentials: --username with --password-env, or a
    /// depot's user from the secrets the functions use.
    NexusCheck(NexusCheckArgs),
}

#[derive(Debug, Args)]
struct NexusCheckArgs {
    /// The Nexus API base (default NEXUS_BASE_URL, else the LIVE host).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The Nexus API user (default: the depot's user in the secrets).
    #[arg(long, requires = "password_env")]
    username: Option<String>,
    /// The environment variable holding --username's password.
    #[arg(long, value_name = "VAR", requires = "username")]
    password_env: Option<String>,
    /// Whose credentials to take from the secrets (default: the first of BRIDGE_DEPOTS).
    #[arg(long, value_name = "CODE")]
    depot: Option<String>,
    /// Also book a test consignment, fetch its labels and cancel it (refused against the LIVE host).
    #[arg(long)]
    book: bool,
    /// The Nexus customer ID --book books for (default: the first of BRIDGE_CUSTOMER_MAP).
    #[arg(long, value_name = "ID")]
    customer_id: Option<String>,
}

#[derive(Debug, Args)]
struct TenantCheckArgs {
    /// A customer (Qargo code) the depot dispatches to a network, whose PallexID / FortecID is
    /// checked; repeat for more.
    #[arg(long = "customer", value_name = "CODE")]
    customers: Vec<String>,
    /// The bridge's API base (the stack's ApiUrl output), to print the outbound webhook URLs.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
}

#[derive(Debug, Args)]
struct RerunArgs {
    /// labels, order-import, status-sync or pod-sync.
    job: String,
    /// labels: Qargo's consignment id; status-sync, pod-sync: NETWORK:ID (or Qargo's id).
    consignment: Option<String>,
    /// Instead of one consignment: move the job's cursors back to this UK date and run it.
    #[arg(long, conflicts_with = "consignment")]
    since: Option<String>,
    /// With --since: only move the cursors; the next scheduled run reads from there.
    #[arg(long, requires = "since")]
    no_run: bool,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// The dead-letter queues and their message counts.
    List {
        /// Queues whose name contains this (default: names containing DeadLetter or dlq).
        #[arg(long)]
        filter: Option<String>,
    },
    /// Read a queue's messages without taking them off it.
    Show {
        /// Queue name or URL.
        queue: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 10)]
        max: usize,
    },
    /// Send a queue's messages back to where they came from (or --to), deleting each one sent.
    Redrive {
        /// Queue name or URL.
        queue: String,
        /// Send every message here: bus:NAME (an event bus) or sqs:NAME (a queue).
        #[arg(long)]
        to: Option<String>,
        /// At most this many messages.
        #[arg(long)]
        max: Option<usize>,
        /// Only say what would be sent.
        #[arg(long)]
        dry_run: bool,
        /// Delete scheduled runs' messages (the next run covers them) instead of keeping them.
        #[arg(long)]
        settle_ticks: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bridge-ops: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, OpsError> {
    let json = cli.json;
    if let Command::Dlq { command } = cli.command {
        return dlq(command, json).await;
    }
    if let Command::TenantCheck(args) = cli.command {
        return tenant_check(&cli.target, args, json).await;
    }
    if let Command::NexusCheck(args) = cli.command {
        return nexus_check(args, json).await;
    }
    let ops = open(&cli.target).await?;
    match cli.command {
        Command::Story { consignment } => {
            let story = bridge::ops::story::tell_story(&ops, &consignment.parse()?).await?;
            print(json, &story, || story.render());
            Ok(ExitCode::SUCCESS)
        }
        Command::Rerun(args) => rerun(&ops, args, json).await,
        Command::BackfillImports { since } => {
            let since = parse_uk_time(&since)?;
            let progress = bridge::ops::progress::for_stderr();
            let report =
                bridge::ops::backfill::backfill_imports(&ops, since, progress, bridge::ops::backfill::WATCH_EVERY)
                    .await?;
            print(json, &report, || report.render());
            Ok(if report.stopped.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Reconcile { since, all } => {
            let since = match (since, all) {
                (_, true) => None,
                (Some(date), false) => Some(uk_instant(&date)?),
                // Locally everything (the local bridge follows the simulators' clock, not this one).
                (None, false) if cli.target.table.is_none() => None,
                (None, false) => Some(ops.clock.now() - jiff::SignedDuration::from_hours(14 * 24)),
            };
            let report = bridge::ops::reconcile::reconcile(&ops, since).await?;
            print(json, &report, || report.render());
            Ok(if report.disagreements.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Dlq { .. } | Command::TenantCheck(_) | Command::NexusCheck(_) => unreachable!("handled above"),
    }
}

async fn rerun(ops: &Ops, args: RerunArgs, json: bool) -> Result<ExitCode, OpsError> {
    let job: Job = args.job.parse()?;
    if let Some(since) = args.since {
        let reset = bridge::ops::rerun::reset_cursor(ops, job, parse_uk_time(&since)?, !args.no_run).await?;
        print(json, &reset, || {
            let mut text = String::new();
            if reset.cursors.is_empty() {
                text.push_str(&format!(
                    "no {} cursor exists yet (the job has not run here): nothing to move\n",
                    job.name()
                ));
            }
            for cursor in &reset.cursors {
                text.push_str(&format!(
                    "{}: {} → {}\n",
                    cursor.key,
                    cursor.before.as_deref().unwrap_or("(none)"),
                    cursor.after
                ));
            }
            match &reset.report {
                Some(report) => text.push_str(&format!("{} ran: {report}\n", job.name())),
                None => text.push_str("not run: the next scheduled run reads from there\n"),
            }
            for problem in &reset.problems {
                text.push_str(&format!("problem: {problem}\n"));
            }
            text
        });
        return Ok(if reset.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let Some(consignment) = args.consignment else {
        return Err(OpsError::Invalid(format!("name a consignment, or --since DATE, to re-run {}", job.name())));
    };
    let consignment: ConsignmentRef = consignment.parse()?;
    match (job, consignment) {
        (Job::Labels, ConsignmentRef::Qargo(id)) => {
            let done = bridge::ops::rerun::rerun_labels(ops, &id).await?;
            print(json, &done, || {
                let mut text = format!("{}: {} → {}\n", done.qargo_consignment_id, done.state_before, done.state_after);
                for doc in &done.stored {
                    text.push_str(&format!(
                        "stored {} ({}, {} bytes, sha256 {})\n",
                        doc.key, doc.content_type, doc.size, doc.sha256
                    ));
                }
                text.push_str(&format!("Qargo: {}\n", serde_json::to_string(&done.attachment).unwrap_or_default()));
                text
            });
            Ok(ExitCode::SUCCESS)
        }
        (Job::Labels, ConsignmentRef::Nexus(key)) => {
            let record = bridge::ops::story::find_dispatch(ops, key).await?.ok_or_else(|| {
                OpsError::NotFound(format!("the bridge did not book {}:{}", key.network, key.nexus_consignment_id))
            })?;
            Box::pin(rerun(
                ops,
                RerunArgs {
                    job: "labels".into(),
                    consignment: Some(record.qargo_consignment_id.to_string()),
                    since: None,
                    no_run: false,
                },
                json,
            ))
            .await
        }
        (job, consignment) => {
            let key = match consignment {
                ConsignmentRef::Nexus(key) => key,
                ConsignmentRef::Qargo(id) => {
                    let booking = ops.ledger.get(&id).await?.and_then(|r| r.booking).ok_or_else(|| {
                        OpsError::NotFound(format!("the dispatch ledger has no booking for {id}: name it NETWORK:ID"))
                    })?;
                    bridge::store::SyncKey {
                        network: booking.network,
                        nexus_consignment_id: booking.nexus_consignment_id,
                    }
                }
            };
            let done = bridge::ops::rerun::rerun_consignment(ops, job, key).await?;
            print(json, &done, || {
                let mut text = format!(
                    "{} of {} (queued as {}): events applied {} → {}, documents synced {} → {}{}\n",
                    job.name(),
                    done.consignment,
                    done.depot,
                    done.events_applied.0,
                    done.events_applied.1,
                    done.documents_synced.0,
                    done.documents_synced.1,
                    if done.still_queued { "; still queued for the next run" } else { "" }
                );
                for problem in &done.problems {
                    text.push_str(&format!("problem: {problem}\n"));
                }
                text
            });
            Ok(if done.still_queued { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}

async fn dlq(command: DlqCommand, json: bool) -> Result<ExitCode, OpsError> {
    let aws = bridge::aws::load_config().await;
    let letters = DeadLetters::new(&aws);
    let default_bus = std::env::var(bridge::routing::BUS_VARIABLE).ok();
    match command {
        DlqCommand::List { filter } => {
            let queues = letters.list(filter.as_deref()).await?;
            print(json, &queues, || {
                queues
                    .iter()
                    .map(|q| {
                        format!(
                            "{:<60} {:>6} waiting {:>4} in flight  {}\n",
                            q.name,
                            q.waiting,
                            q.in_flight,
                            q.holds.unwrap_or("")
                        )
                    })
                    .collect()
            });
        }
        DlqCommand::Show { queue, max } => {
            let shown = letters.show(&queue, max, default_bus.as_deref()).await?;
            print(json, &shown, || {
                shown
                    .iter()
                    .map(|l| {
                        format!(
                            "{} sent {} received {}×\n  {}\n  error: {}\n  redrive to: {}\n",
                            l.message_id,
                            l.sent_at.as_deref().unwrap_or("?"),
                            l.receive_count.unwrap_or(0),
                            l.summary,
                            l.error.as_deref().unwrap_or("-"),
                            l.source.as_ref().map_or("nowhere without --to".into(), ToString::to_string)
                        )
                    })
                    .collect()
            });
        }
        DlqCommand::Redrive { queue, to, max, dry_run, settle_ticks } => {
            let to = to.map(|t| t.parse::<RedriveTarget>()).transpose()?;
            let options = RedriveOptions { to, default_bus, max, dry_run, settle_ticks };
            let report = letters.redrive(&queue, &options).await?;
            print(json, &report, || report.render());
            if !report.kept.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks the Qargo tenant with the functions' settings and secrets; the token cache is the stack's
/// table with --table (no token call while the functions' token is valid), else memory.
async fn tenant_check(target: &TargetArgs, args: TenantCheckArgs, json: bool) -> Result<ExitCode, OpsError> {
    let needs_aws = target.table.is_some() || std::env::var_os("BRIDGE_SECRET_ID").is_some();
    let aws = if needs_aws { Some(bridge::aws::load_config().await) } else { None };
    let mut input =
        bridge::ops::tenant::input_from(|name| std::env::var(name).ok(), aws.as_ref(), target.table.as_deref()).await?;
    input.dispatch_customers = args.customers;
    input.api_url = args.api_url;
    let report = bridge::ops::tenant::check_tenant(&input).await;
    print(json, &report, || report.render());
    Ok(if report.has_missing() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// Checks a Nexus API (see `bridge::ops::nexus_check`); AWS only for Secrets Manager.
async fn nexus_check(args: NexusCheckArgs, json: bool) -> Result<ExitCode, OpsError> {
    let needs_aws = args.username.is_none() && std::env::var_os("BRIDGE_SECRET_ID").is_some();
    let aws = if needs_aws { Some(bridge::aws::load_config().await) } else { None };
    let credentials = bridge::ops::nexus_check::CredentialArgs {
        base_url: args.base_url,
        username: args.username,
        password_env: args.password_env,
        depot: args.depot,
        customer_id: args.customer_id,
    };
    let mut input =
        bridge::ops::nexus_check::input_from(&credentials, |name| std::env::var(name).ok(), aws.as_ref()).await?;
    input.book = args.book;
    let report = bridge::ops::nexus_check::check_nexus(&input).await?;
    print(json, &report, || report.render());
    Ok(ExitCode::SUCCESS)
}

/// Opens the target; AWS is configured only when the target or the secrets need it.
async fn open(args: &TargetArgs) -> Result<Ops, OpsError> {
    let target = match (&args.table, &args.bucket) {
        (Some(table), Some(bucket)) => Target::Cloud { table: table.clone(), bucket: bucket.clone() },
        _ => Target::Local { data_dir: args.local.clone().unwrap_or_else(|| PathBuf::from(LOCAL_DATA_DIR)) },
    };
    let needs_aws = matches!(target, Target::Cloud { .. }) || std::env::var_os("BRIDGE_SECRET_ID").is_some();
    let aws = if needs_aws { Some(bridge::aws::load_config().await) } else { None };
    bridge::ops::target::open(&target, |name| std::env::var(name).ok(), aws.as_ref()).await
}

fn uk_instant(raw: &str) -> Result<jiff::Timestamp, OpsError> {
    let at = parse_uk_time(raw)?;
    at.to_zoned(bridge::clock::london())
        .map(|zoned| zoned.timestamp())
        .map_err(|err| OpsError::Invalid(format!("{raw}: {err}")))
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        print!("{}", text());
    }
}
