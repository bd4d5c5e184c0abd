//! The core types of the pallet-network domain, each parsed from the strings Qargo, Nexus and the
//! configuration use, with an error that says what a valid value looks like (parse, don't validate).

mod address;
pub mod booking;
mod depot;
mod document;
mod ids;
mod network;
mod pallet;
mod scan;
mod service;

pub use address::{Postcode, UkRegion};
pub use depot::{DepotCode, DepotRole};
pub use document::DocumentKind;
pub use ids::{Barcode, NexusConsignmentId, QargoConsignmentId};
pub use network::Network;
pub use pallet::{PalletBase, PalletType};
pub use scan::{ConsignmentStatus, ScanCode, ScanEvent, ScanSource};
pub use service::{BookIn, Extra, ServiceLevel, TimeWindow, TimeWindowCode};

pub use crate::error::ParseError;

/// Declares a closed set of codes as an enum: parsed case-insensitively (with aliases), shown and
/// serialised as its canonical code, with `ALL` listing every member for error messages.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $name:ident, what = $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical code, as Nexus and Qargo spell it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::ParseError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                let wanted = raw.trim();
                $(
                    if wanted.eq_ignore_ascii_case($code) $(|| wanted.eq_ignore_ascii_case($alias))* {
                        return Ok($name::$variant);
                    }
                )+
                let codes: Vec<&str> = Self::ALL.iter().map(|member| member.code()).collect();
                Err($crate::error::ParseError::new(
                    $what,
                    raw,
                    format!("use one of {}", codes.join(", ")),
                ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::ParseError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                raw.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.code().to_owned()
            }
        }
    };
}
pub(crate) use coded_enum;

/// Declares a validated string newtype: serialised as the string, deserialised through `FromStr`.
macro_rules! string_newtype_serde {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = $crate::error::ParseError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                raw.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use string_newtype_serde;
