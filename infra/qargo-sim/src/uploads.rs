//! The asynchronous order upload: an upload is `TODO` when posted, `IN_PROGRESS` for the next
//! `upload_polls_before_done` polls, and the poll after that resolves it:
//!
//! | operation | identifier unknown | identifier on an active order | identifier on a cancelled order |
//! |---|---|---|---|
//! | CREATE | COMPLETED (new order) | DUPLICATE (the existing `order_id`) | ERROR (cannot be reused) |
//! | UPDATE | ERROR (nothing to update) | COMPLETED (order updated) | ERROR (cancelled) |
//! | DELETE | ERROR (nothing to cancel) | COMPLETED (order and stops CANCELLED) | SKIPPED (already cancelled) |
//!
//! The outcome is decided when the upload resolves, so of two CREATEs in flight with one
//! identifier, the first resolved wins and the other ends DUPLICATE.

use crate::model::Upload;
use crate::world::World;

/// Final upload statuses.
pub const FINAL: [&str; 4] = ["COMPLETED", "ERROR", "SKIPPED", "DUPLICATE"];

/// Answers one poll of upload `index`: advances it and returns it.
pub fn poll<'a>(world: &'a mut World, index: usize, polls_before_done: u32, forced_error: Option<&str>) -> &'a Upload {
    world.uploads[index].polls += 1;
    let upload = &world.uploads[index];
    if !FINAL.contains(&upload.status.as_str()) {
        if upload.polls > polls_before_done {
            resolve(world, index, forced_error);
        } else {
            world.uploads[index].status = "IN_PROGRESS".into();
        }
    }
    &world.uploads[index]
}

/// Resolves upload `index` now (if it is not final yet).
pub fn resolve(world: &mut World, index: usize, forced_error: Option<&str>) {
    if FINAL.contains(&world.uploads[index].status.as_str()) {
        return;
    }
    let upload = world.uploads[index].clone();
    let identifier = upload.order_identifier.clone();
    let existing = world.order_by_identifier(&identifier);
    let (status, order_id, message): (&str, Option<uuid::Uuid>, Option<String>) = if let Some(reason) = forced_error {
        ("ERROR", existing.map(|i| world.orders[i].id), Some(reason.to_string()))
    } else {
        match (upload.operation.as_str(), existing) {
            ("CREATE", None) => ("COMPLETED", Some(world.create_order(&upload.input, "api")), None),
            ("CREATE", Some(i)) if world.orders[i].cancelled => (
                "ERROR",
                Some(world.orders[i].id),
                Some(format!(
                    "order_identifier '{identifier}' belongs to cancelled order {}; a cancelled identifier cannot be reused",
                    world.orders[i].name
                )),
            ),
            ("CREATE", Some(i)) => (
                "DUPLICATE",
                Some(world.orders[i].id),
                Some(format!("order_identifier '{identifier}' was already imported as {}", world.orders[i].name)),
            ),
            ("UPDATE", None) => {
                ("ERROR", None, Some(format!("no order with order_identifier '{identifier}' to update")))
            }
            ("UPDATE", Some(i)) if world.orders[i].cancelled => (
                "ERROR",
                Some(world.orders[i].id),
                Some(format!("order {} is cancelled and cannot be updated", world.orders[i].name)),
            ),
            ("UPDATE", Some(i)) => {
                world.update_order(i, &upload.input);
                ("COMPLETED", Some(world.orders[i].id), None)
            }
            ("DELETE", None) => {
                ("ERROR", None, Some(format!("no order with order_identifier '{identifier}' to cancel")))
            }
            ("DELETE", Some(i)) if world.orders[i].cancelled => (
                "SKIPPED",
                Some(world.orders[i].id),
                Some(format!("order {} is already cancelled", world.orders[i].name)),
            ),
            ("DELETE", Some(i)) => {
                world.cancel_order(i, "upload");
                ("COMPLETED", Some(world.orders[i].id), None)
            }
            (other, _) => ("ERROR", None, Some(format!("unknown operation '{other}'"))),
        }
    };
    let upload = &mut world.uploads[index];
    upload.status = status.into();
    upload.order_id = order_id;
    upload.message = message;
}

/// Resolves every upload that is not final yet; returns how many.
pub fn resolve_all(world: &mut World, forced_error: Option<&str>) -> usize {
    let pending: Vec<usize> =
        (0..world.uploads.len()).filter(|&i| !FINAL.contains(&world.uploads[i].status.as_str())).collect();
    for &i in &pending {
        resolve(world, i, forced_error);
    }
    pending.len()
}
