//! Durations as milliseconds in serialized form, for the protocol and
//! the log lines: a float, so that sub-millisecond times survive the trip
//! (`#[serde(with = "crate::millis")]`, and [`opt`] for an
//! `Option<Duration>`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_ms(f64::deserialize(d)?)
}

fn from_ms<E: serde::de::Error>(ms: f64) -> Result<Duration, E> {
    Duration::try_from_secs_f64(ms / 1000.0).map_err(E::custom)
}

/// The same for an optional duration (`null` when absent).
pub mod opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(super::from_ms)
            .transpose()
    }
}
