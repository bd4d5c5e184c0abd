//! What the Nexus API in front of the bridge can do beyond what public code shows of it.
//!
//! Nexus's spec is private: every route, filter and field the bridge uses that no public source
//! shows (research notes §1.9) is a named [`Capability`]. Against an ASP.NET API an unknown filter is
//! ignored and an unknown body property dropped, so depending on one that is not there fails
//! silently; each job therefore asks whether a capability is on and, when it is not, uses only
//! seen routes and fields, or refuses clearly ("not supported by this Nexus") and logs it.
//!
//! Which are on is one setting, `NEXUS_CAPABILITIES` (the template's `NexusCapabilities`):
//! `full` (every capability: the simulator's full profile), `seen` (none: only what public code
//! shows), or a comma list of names (`bridge-ops nexus-check` prints the list to deploy with).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One thing the bridge can use when this Nexus has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `GET consignments?minLastUpdated=…` and the `lastUpdated` field as a poll cursor.
    DeltaListing,
    /// `deliveryDepotCode` / `collectingDepotCode` list filters.
    DepotFilters,
    /// `network` and the requesting / collecting / delivery depot codes in the read model.
    DepotFields,
    /// `pallets[]` (with barcodes) in the read model.
    PalletsField,
    /// `GET consignments/{id}/events`: scan events per pallet.
    EventsRead,
    /// `POST consignments/{id}/events`: our stop events to Nexus.
    EventsWrite,
    /// `POST consignments/{id}/cancel`.
    Cancel,
    /// `PUT consignments/{id}/eta` with the Optimize key.
    Eta,
    /// Multipart `POST consignments/{id}/attachments`: PODs to Nexus.
    AttachmentUpload,
    /// `GET attachments/{id}/content` (otherwise an attachment's own `url`).
    AttachmentContent,
    /// `limit` up to 100 (otherwise the seen default page of 20).
    Page100,
    /// The create answer is the whole consignment (otherwise it is read after the create).
    FullCreateAnswer,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 12] = [
        Capability::DeltaListing,
        Capability::DepotFilters,
        Capability::DepotFields,
        Capability::PalletsField,
        Capability::EventsRead,
        Capability::EventsWrite,
        Capability::Cancel,
        Capability::Eta,
        Capability::AttachmentUpload,
        Capability::AttachmentContent,
        Capability::Page100,
        Capability::FullCreateAnswer,
    ];

    /// Its name in the setting.
    pub fn name(self) -> &'static str {
        match self {
            Capability::DeltaListing => "delta-listing",
            Capability::DepotFilters => "depot-filters",
            Capability::DepotFields => "depot-fields",
            Capability::PalletsField => "pallets-field",
            Capability::EventsRead => "events-read",
            Capability::EventsWrite => "events-write",
            Capability::Cancel => "cancel",
            Capability::Eta => "eta",
            Capability::AttachmentUpload => "attachment-upload",
            Capability::AttachmentContent => "attachment-content",
            Capability::Page100 => "page-100",
            Capability::FullCreateAnswer => "full-create-answer",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Capability {
    type Err = String;

    fn from_str(text: &str) -> Result<Capability, String> {
        let wanted = text.trim().to_ascii_lowercase();
        Capability::ALL.into_iter().find(|c| c.name() == wanted).ok_or_else(|| {
            let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
            format!("'{}' is not a Nexus capability: use full, seen, or some of {}", text.trim(), names.join(", "))
        })
    }
}

/// The capabilities this Nexus has, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    /// Every capability (the simulator's full profile).
    pub fn full() -> Capabilities {
        Capabilities(Capability::ALL.into_iter().collect())
    }

    /// None: only what public code shows of Nexus.
    pub fn seen() -> Capabilities {
        Capabilities(BTreeSet::new())
    }

    /// These, with `capability` off.
    pub fn without(mut self, capability: Capability) -> Capabilities {
        self.0.remove(&capability);
        self
    }

    /// Whether `capability` is on.
    pub fn has(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// The ones that are on.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }

    /// The ones that are off.
    pub fn missing(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| !self.has(*c))
    }

    /// The setting's value that gives these (`full`, `seen` or a comma list).
    pub fn setting(&self) -> String {
        if self.0.len() == Capability::ALL.len() {
            "full".into()
        } else if self.0.is_empty() {
            "seen".into()
        } else {
            self.0.iter().map(|c| c.name()).collect::<Vec<_>>().join(",")
        }
    }
}

impl FromStr for Capabilities {
    type Err = String;

    fn from_str(text: &str) -> Result<Capabilities, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Capabilities::full()),
            "seen" | "" => Ok(Capabilities::seen()),
            list => list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::parse)
                .collect::<Result<BTreeSet<_>, _>>()
                .map(Capabilities),
        }
    }
}

/// A job asked for something this Nexus cannot do: refused clearly, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not supported by this Nexus: {what} needs the {capability} capability, which NEXUS_CAPABILITIES leaves off")]
pub struct NotSupported {
    /// The capability that is off.
    pub capability: Capability,
    /// What could not be done.
    pub what: String,
}

impl Capabilities {
    /// `Ok` when `capability` is on; else the refusal for `what`, logged once here.
    pub fn require(&self, capability: Capability, what: impl Into<String>) -> Result<(), NotSupported> {
        if self.has(capability) {
            return Ok(());
        }
        let refusal = NotSupported { capability, what: what.into() };
        tracing::warn!(capability = %capability, what = %refusal.what, "not supported by this Nexus");
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_reads_full_seen_or_a_list() {
        assert_eq!("full".parse::<Capabilities>().unwrap(), Capabilities::full());
        assert_eq!(" SEEN ".parse::<Capabilities>().unwrap(), Capabilities::seen());
        let some: Capabilities = "cancel, eta".parse().unwrap();
        assert!(some.has(Capability::Cancel) && some.has(Capability::Eta) && !some.has(Capability::EventsRead));
        assert_eq!(some.setting(), "cancel,eta");
        assert_eq!(some.setting().parse::<Capabilities>().unwrap(), some);
        assert_eq!(Capabilities::full().setting(), "full");
        let err = "cancel,teleport".parse::<Capabilities>().unwrap_err();
        assert!(err.contains("teleport") && err.contains("delta-listing"), "{err}");
    }

    #[test]
    fn a_missing_capability_is_a_named_refusal() {
        let refusal = Capabilities::seen().require(Capability::Cancel, "cancelling OR-1").unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "not supported by this Nexus: cancelling OR-1 needs the cancel capability, which NEXUS_CAPABILITIES leaves off"
        );
        assert!(Capabilities::full().require(Capability::Cancel, "cancelling OR-1").is_ok());
    }
}
