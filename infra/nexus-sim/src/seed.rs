//! Seed files: the world the simulator starts with. The default world (`seed/default-world.json`,
//! documented in the crate's README) is one such file; `nexus-sim --seed FILE` loads another, and
//! `nexus-sim --print-default-seed` prints the default as a starting point.
//!
//! Consignments in a seed are booked through the same validation as `POST /v1/Consignments`, by the
//! named user at the named time, while the lifecycle driver runs between bookings; a seed entry may
//! then print labels (`labelsPrinted`), force delivery outcomes (`deliveryOutcome`: `delivered`,
//! `damaged`, `short`, `failed`), and step the consignment to a status at a given time (`stage`,
//! `stageAt`). So the world at the seed's `clock` has a believable history.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth;
use crate::booking;
use crate::clock;
use crate::error::SimError;
use crate::lifecycle;
use crate::postcode;
use crate::reference;
use crate::world::{Address, Customer, Depot, Hub, Network, Outcome, Scope, User, World};

const DEFAULT_WORLD: &str = include_str!("../seed/default-world.json");

/// A world description, parsed and checked; build it with [`NexusSim::start`](crate::NexusSim::start).
#[derive(Debug, Clone, PartialEq)]
pub struct WorldSeed {
    file: SeedFile,
}

impl WorldSeed {
    /// The documented default world (see the crate README).
    pub fn default_world() -> WorldSeed {
        WorldSeed::from_json(DEFAULT_WORLD).expect("the bundled default world is valid")
    }

    /// The default world's JSON text, e.g. to start a seed file of one's own.
    pub fn default_world_json() -> &'static str {
        DEFAULT_WORLD
    }

    /// Parses a seed file's JSON and checks it (a seed that cannot be built is refused here).
    pub fn from_json(json: &str) -> Result<WorldSeed, SimError> {
        let file: SeedFile = serde_json::from_str(json).map_err(|e| SimError::Seed(format!("not a seed file: {e}")))?;
        let seed = WorldSeed { file };
        seed.build()?;
        Ok(seed)
    }

    /// Reads and checks a seed file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<WorldSeed, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Seed(format!("cannot read seed file {}: {e}", path.display())))?;
        WorldSeed::from_json(&text).map_err(|e| SimError::Seed(format!("{}: {e}", path.display())))
    }

    /// The seed's start time (UK local, `yyyy-MM-ddTHH:mm:ss`).
    pub fn clock(&self) -> &str {
        &self.file.clock
    }

    pub(crate) fn build(&self) -> Result<World, SimError> {
        build(&self.file)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedFile {
    #[serde(default, rename = "$comment")]
    comment: Option<Value>,
    clock: String,
    random_seed: u64,
    optimize_key: String,
    #[serde(default)]
    token_lifetime_minutes: Option<i64>,
    #[serde(default)]
    driver: Option<DriverSeed>,
    networks: Vec<NetworkSeed>,
    depots: Vec<DepotSeed>,
    customers: Vec<CustomerSeed>,
    users: Vec<UserSeed>,
    #[serde(default)]
    consignments: Vec<ConsignmentSeed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DriverSeed {
    #[serde(default)]
    failed_delivery_percent: Option<u64>,
    #[serde(default)]
    exception_percent: Option<u64>,
    #[serde(default)]
    late_pod_percent: Option<u64>,
    #[serde(default)]
    manual_depots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NetworkSeed {
    code: String,
    hub_code: String,
    hub_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DepotSeed {
    code: String,
    name: String,
    town: String,
    postcode: String,
    postcode_areas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddressSeed {
    #[serde(default, rename = "countryID")]
    country_id: Option<u32>,
    name: String,
    line1: String,
    #[serde(default)]
    line2: Option<String>,
    town: String,
    #[serde(default)]
    county: Option<String>,
    postcode: String,
    #[serde(default)]
    telephone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CustomerSeed {
    #[serde(rename = "customerID")]
    customer_id: u64,
    network: String,
    name: String,
    depot_code: String,
    address: AddressSeed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserSeed {
    username: String,
    password: String,
    #[serde(default)]
    depot_code: Option<String>,
    #[serde(default, rename = "customerID")]
    customer_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsignmentSeed {
    #[serde(default)]
    note: Option<String>,
    booked_by: String,
    booked_at: String,
    #[serde(default)]
    labels_printed: bool,
    #[serde(default)]
    delivery_outcome: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    stage_at: Option<String>,
    request: Value,
}

fn parse_time(what: &str, raw: &str) -> Result<Timestamp, SimError> {
    clock::parse_datetime(raw)
        .ok_or_else(|| SimError::Seed(format!("{what}: '{raw}' is not a UK local datetime like 2026-06-17T09:00:00")))
}

fn address(seed: &AddressSeed) -> Address {
    Address {
        country_id: seed.country_id.unwrap_or(reference::UNITED_KINGDOM),
        name: seed.name.clone(),
        line1: seed.line1.clone(),
        line2: seed.line2.clone(),
        town: seed.town.clone(),
        county: seed.county.clone(),
        postcode: postcode::parse_uk_postcode(&seed.postcode).map_or(seed.postcode.clone(), |p| p.formatted),
        telephone: seed.telephone.clone(),
    }
}

/// One thing that happens while the seed's history is replayed.
enum Happening {
    Book(usize),
    Stage(usize),
}

fn build(file: &SeedFile) -> Result<World, SimError> {
    let start = parse_time("clock", &file.clock)?;
    let mut timeline = Vec::new();
    for (i, c) in file.consignments.iter().enumerate() {
        let booked = parse_time(&format!("consignments[{i}].bookedAt"), &c.booked_at)?;
        timeline.push((booked, 0, i, Happening::Book(i)));
        if c.stage.is_some() {
            let at = match &c.stage_at {
                Some(raw) => parse_time(&format!("consignments[{i}].stageAt"), raw)?,
                None => booked,
            };
            timeline.push((at, 1, i, Happening::Stage(i)));
        }
    }
    timeline.sort_by_key(|(at, order, i, _)| (*at, *order, *i));
    if let Some((at, _, i, _)) = timeline.iter().find(|(at, ..)| *at > start) {
        return Err(SimError::Seed(format!(
            "consignments[{i}] happens at {}, after the seed's clock {}",
            clock::format_datetime(*at),
            file.clock
        )));
    }
    let history_start = timeline.first().map_or(start, |(at, ..)| *at).min(start);
    let mut world = World::new(history_start, file.random_seed, file.optimize_key.clone());
    if let Some(minutes) = file.token_lifetime_minutes {
        world.token_lifetime = jiff::SignedDuration::from_mins(minutes.max(1));
    }
    if let Some(driver) = &file.driver {
        let settings = &mut world.driver;
        settings.failed_delivery_percent = driver.failed_delivery_percent.unwrap_or(settings.failed_delivery_percent);
        settings.exception_percent = driver.exception_percent.unwrap_or(settings.exception_percent);
        settings.late_pod_percent = driver.late_pod_percent.unwrap_or(settings.late_pod_percent);
        settings.manual_depots = driver.manual_depots.iter().map(|d| d.to_ascii_uppercase()).collect();
    }
    for network in &file.networks {
        let code = Network::parse(&network.code)
            .ok_or_else(|| SimError::Seed(format!("unknown network '{}' (PALLEX or FORTEC)", network.code)))?;
        world.hubs.insert(code, Hub { code: network.hub_code.clone(), name: network.hub_name.clone() });
    }
    for (i, depot) in file.depots.iter().enumerate() {
        let code = depot.code.to_ascii_uppercase();
        let networks = Network::of_depot_code(&code).ok_or_else(|| {
            SimError::Seed(format!("depot code '{}' is not UKD…, FTD… or PGD… followed by digits", depot.code))
        })?;
        for area in &depot.postcode_areas {
            if postcode::find_area(area).is_none() {
                return Err(SimError::Seed(format!("depot {code}: '{area}' is not a UK postcode area")));
            }
            for network in &networks {
                if let Some(other) = world.depot_serving(*network, area) {
                    return Err(SimError::Seed(format!(
                        "postcode area {area} is served by both {} and {code} on {}",
                        other.code,
                        network.name()
                    )));
                }
            }
        }
        if world.depots.contains_key(&code) {
            return Err(SimError::Seed(format!("depot {code} is listed twice")));
        }
        world.depots.insert(
            code.clone(),
            Depot {
                id: i as u32 + 1,
                code,
                name: depot.name.clone(),
                town: depot.town.clone(),
                postcode: depot.postcode.clone(),
                networks,
                postcode_areas: depot.postcode_areas.iter().map(|a| a.to_ascii_uppercase()).collect(),
            },
        );
    }
    for customer in &file.customers {
        let network = Network::parse(&customer.network).ok_or_else(|| {
            SimError::Seed(format!("customer {}: unknown network '{}'", customer.customer_id, customer.network))
        })?;
        let depot_code = customer.depot_code.to_ascii_uppercase();
        let depot = world
            .depots
            .get(&depot_code)
            .ok_or_else(|| SimError::Seed(format!("customer {}: unknown depot {depot_code}", customer.customer_id)))?;
        if !depot.is_member_of(network) {
            return Err(SimError::Seed(format!(
                "customer {} is on {} but its depot {depot_code} is not a member of that network",
                customer.customer_id,
                network.name()
            )));
        }
        if world.customers.contains_key(&customer.customer_id) {
            return Err(SimError::Seed(format!("customer {} is listed twice", customer.customer_id)));
        }
        world.customers.insert(
            customer.customer_id,
            Customer {
                id: customer.customer_id,
                network,
                name: customer.name.clone(),
                depot_code,
                address: address(&customer.address),
            },
        );
    }
    for user in &file.users {
        let scope = match (&user.depot_code, user.customer_id) {
            (Some(depot), None) if world.depots.contains_key(&depot.to_ascii_uppercase()) => {
                Scope::Depot(depot.to_ascii_uppercase())
            }
            (None, Some(id)) if world.customers.contains_key(&id) => Scope::Customer(id),
            _ => {
                return Err(SimError::Seed(format!(
                    "user {} needs exactly one of a known depotCode or a known customerID",
                    user.username
                )));
            }
        };
        let key = user.username.to_ascii_lowercase();
        if world.users.contains_key(&key) {
            return Err(SimError::Seed(format!("user {} is listed twice", user.username)));
        }
        world.users.insert(key, User { username: user.username.clone(), password: user.password.clone(), scope });
    }

    let mut ids = vec![0u64; file.consignments.len()];
    for (at, _, _, happening) in timeline {
        lifecycle::advance_to(&mut world, at);
        match happening {
            Happening::Book(i) => {
                let seed = &file.consignments[i];
                let principal = world
                    .principal_for(&seed.booked_by)
                    .ok_or_else(|| SimError::Seed(format!("consignments[{i}]: unknown user {}", seed.booked_by)))?;
                let body = serde_json::to_vec(&seed.request).unwrap_or_default();
                let id = booking::book(&mut world, &principal, &body).map_err(|e| {
                    SimError::Seed(format!(
                        "consignments[{i}] was refused: {} {}",
                        e.detail.clone().unwrap_or(e.title.clone()),
                        serde_json::to_string(&e.errors).unwrap_or_default()
                    ))
                })?;
                ids[i] = id;
                if seed.labels_printed {
                    lifecycle::mark_manifested(&mut world, id);
                }
                if let Some(raw) = &seed.delivery_outcome {
                    let outcome = Outcome::parse(raw).ok_or_else(|| {
                        SimError::Seed(format!(
                            "consignments[{i}].deliveryOutcome '{raw}' is not delivered, damaged, short or failed"
                        ))
                    })?;
                    if let Some(c) = world.consignments.get_mut(&id) {
                        c.outcome_override = Some(outcome);
                    }
                }
            }
            Happening::Stage(i) => {
                let raw = file.consignments[i].stage.as_deref().unwrap_or_default();
                let status = reference::find_status(raw)
                    .ok_or_else(|| SimError::Seed(format!("consignments[{i}].stage '{raw}' is not a status code")))?;
                lifecycle::step(&mut world, ids[i], status)
                    .map_err(|e| SimError::Seed(format!("consignments[{i}] cannot be stepped to {raw}: {e:?}")))?;
            }
        }
    }
    lifecycle::advance_to(&mut world, start);
    // Sessions belong to a running simulator, never to a seed.
    auth::revoke_refresh_tokens(&mut world);
    world.sessions.clear();
    Ok(world)
}
